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

// edgesOf makes the edges of a page's nodes in one allocation.
func edgesOf[N, E any](nodes []*N, page Page, edge func(node *N, index int, cursor CursorFunc) E) []*E {
	edges := make([]E, len(nodes))
	out := make([]*E, len(nodes))
	for i, n := range nodes {
		edges[i] = edge(n, page.Start+i, page.Cursor)
		out[i] = &edges[i]
	}
	return out
}

// MeetingConnection is one page of a user's meetings.
type MeetingConnection struct {
	Nodes      []*Meeting
	PageInfo   *PageInfo
	TotalCount int
	page       Page
}

// NewMeetingConnection is the page nodes of a list of totalCount meetings
// that matched; page.Total is the list's length.
func NewMeetingConnection(nodes []*Meeting, page Page) *MeetingConnection {
	return &MeetingConnection{Nodes: nodes, TotalCount: page.Total, PageInfo: page.pageInfo(len(nodes)), page: page}
}

// Edges are the nodes with their cursors.
func (c *MeetingConnection) Edges() []*MeetingEdge {
	return edgesOf(c.Nodes, c.page, func(n *Meeting, index int, cursor CursorFunc) MeetingEdge {
		return MeetingEdge{Node: n, index: index, cursor: cursor}
	})
}

// MeetingEdge is a meeting and its cursor.
type MeetingEdge struct {
	Node   *Meeting
	index  int
	cursor CursorFunc
}

// Cursor is the opaque position to pass as `after`.
func (e *MeetingEdge) Cursor() string { return e.cursor(e.index) }

// ThreadConnection is one page of a user's threads.
type ThreadConnection struct {
	Nodes      []*Thread
	PageInfo   *PageInfo
	TotalCount int
	page       Page
}

// NewThreadConnection is the page nodes of a user's page.Total threads.
func NewThreadConnection(nodes []*Thread, page Page) *ThreadConnection {
	return &ThreadConnection{Nodes: nodes, TotalCount: page.Total, PageInfo: page.pageInfo(len(nodes)), page: page}
}

// Edges are the nodes with their cursors.
func (c *ThreadConnection) Edges() []*ThreadEdge {
	return edgesOf(c.Nodes, c.page, func(n *Thread, index int, cursor CursorFunc) ThreadEdge {
		return ThreadEdge{Node: n, index: index, cursor: cursor}
	})
}

// ThreadEdge is a thread and its cursor.
type ThreadEdge struct {
	Node   *Thread
	index  int
	cursor CursorFunc
}

// Cursor is the opaque position to pass as `after`.
func (e *ThreadEdge) Cursor() string { return e.cursor(e.index) }
