package model

// Connections are hand-written so that what a page costs follows what the
// operation selects: edges and cursors are built only when asked for. A
// cursor is an HMAC over its position (graph/cursor.go), and building one
// for every node of every page made up a twentieth of the allocations of a
// 50-user `nodes` query that selects no cursor at all.

// CursorFunc makes the cursor of the item at index in the whole list.
type CursorFunc func(index int) string

// Page is the window [Start, Start+len(nodes)) of a list of Total items,
// with the function that names its positions.
type Page struct {
	Start, Total int
	Cursor       CursorFunc
}

func (p Page) pageInfo(n int) *PageInfo {
	return &PageInfo{
		HasPreviousPage: p.Start > 0,
		HasNextPage:     p.Start+n < p.Total,
		page:            p,
		n:               n,
	}
}

// PageInfo is a connection's position in the whole list.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	page            Page
	n               int
}

// StartCursor is the cursor of the page's first item; nil when it is empty.
func (p *PageInfo) StartCursor() *string { return p.cursorAt(0) }

// EndCursor is the cursor of the page's last item; nil when it is empty.
func (p *PageInfo) EndCursor() *string { return p.cursorAt(p.n - 1) }

func (p *PageInfo) cursorAt(i int) *string {
	if p.n == 0 || p.page.Cursor == nil {
		return nil
	}
	s := p.page.Cursor(p.page.Start + i)
	return &s
}

// Connection is one page of a list of N: a connection of the schema
// (User.meetings, User.threads), whatever the list.
type Connection[N any] struct {
	Nodes      []*N
	PageInfo   *PageInfo
	TotalCount int
	page       Page
}

// NewConnection is the page nodes of a list of page.Total items.
func NewConnection[N any](nodes []*N, page Page) *Connection[N] {
	return &Connection[N]{Nodes: nodes, TotalCount: page.Total, PageInfo: page.pageInfo(len(nodes)), page: page}
}

// Edges are the nodes with their cursors: two allocations, however many.
func (c *Connection[N]) Edges() []*Edge[N] {
	edges := make([]Edge[N], len(c.Nodes))
	out := make([]*Edge[N], len(c.Nodes))
	for i, n := range c.Nodes {
		edges[i] = Edge[N]{Node: n, index: c.page.Start + i, cursor: c.page.Cursor}
		out[i] = &edges[i]
	}
	return out
}

// Edge is a node and its cursor.
type Edge[N any] struct {
	Node   *N
	index  int
	cursor CursorFunc
}

// Cursor is the opaque position to pass as `after`.
func (e *Edge[N]) Cursor() string { return e.cursor(e.index) }

// The connections of the schema, which gqlgen binds by name (gqlgen.yml's
// autobind): a list's connection is one line here.
type (
	MeetingConnection = Connection[Meeting]
	MeetingEdge       = Edge[Meeting]
	ThreadConnection  = Connection[Thread]
	ThreadEdge        = Edge[Thread]
)
