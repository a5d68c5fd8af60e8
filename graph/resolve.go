package graph

import (
	"cmp"
	"context"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/salesgraph/salesgraph/graph/model"
)

// user resolves Query.user. No upstream call is made for the user itself;
// the loads its subtree needs are started here so they leave together.
func (r *Resolver) user(ctx context.Context, id string) (*model.User, error) {
	n, err := parseUserID(id)
	if err != nil {
		return nil, err
	}
	r.settle(ctx, r.prefetch(ctx, "User", n), n)
	return model.NewUser(n), nil
}

// users resolves Query.users, in the order of ids.
func (r *Resolver) users(ctx context.Context, ids []string) ([]*model.User, error) {
	nums, err := parseUserIDs(ids)
	if err != nil {
		return nil, err
	}
	r.settle(ctx, r.prefetch(ctx, "User", nums...), nums...)
	out := make([]*model.User, len(nums))
	for i, n := range nums {
		out[i] = model.NewUser(n)
	}
	return out, nil
}

// node resolves Query.node. A meeting or thread that its owner's list does
// not hold resolves to null, as Relay expects for an unknown id. The node's
// own lookup and its subtree's loads start together (prefetch), so that,
// say, a meeting's thread costs no second round trip.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	ref, err := parseNodeID(id)
	if err != nil {
		return nil, err
	}
	r.prefetch(ctx, ref.typeName, ref.owner)
	return findNode(ctx, ref)
}

// nodes resolves Query.nodes: each id as node resolves it, in order. An
// id that is not a global id, or whose lookup failed, is null with its
// error at its index; the others are served. Every lookup and every load
// of the subtrees starts at once: each id's own (nodeLookup), and the
// subtree's as each type's selection needs it, for the owners of the ids
// of that type; then the lookups wait together, so that ids of several
// owners cost one round trip.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > maxIDs {
		return nil, badInput("ids has %d entries; at most %d are allowed", len(ids), maxIDs)
	}
	out := make([]model.Node, len(ids))
	errs := make([]error, len(ids))
	refs := make([]nodeRef, len(ids))
	owners := map[string][]int64{} // by type
	for i, id := range ids {
		ref, err := parseNodeID(id)
		if err != nil {
			errs[i] = err
			continue
		}
		refs[i] = ref
		if !slices.Contains(owners[ref.typeName], ref.owner) {
			owners[ref.typeName] = append(owners[ref.typeName], ref.owner)
		}
	}
	l := loadersFrom(ctx)
	for _, typ := range []string{"User", "Meeting", "Thread"} {
		if len(owners[typ]) == 0 {
			continue
		}
		r.prefetch(ctx, typ, owners[typ]...)
		for _, o := range owners[typ] {
			nodeLookup(typ).start(ctx, l, o)
		}
	}
	var wg sync.WaitGroup
	for i := range refs {
		if errs[i] != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A goroutine of our own: gqlgen's recovery does not reach it.
			defer func() {
				if v := recover(); v != nil {
					errs[i] = &panicError{value: v, stack: debug.Stack()}
				}
			}()
			out[i], errs[i] = findNode(ctx, refs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			out[i] = nil
			graphql.AddError(graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i}), err)
		}
	}
	return out, nil
}

// nodeList is the list a node of type typeName is found in, among its
// owner's: meetings for a meeting, threads for a thread; nil for a user,
// which needs none. The lookups (nodeLookup) and the estimate's entries of
// node and nodes read it.
func nodeList(typeName string) anyList {
	switch typeName {
	case "Meeting":
		return meetingsList
	case "Thread":
		return threadsList
	}
	return nil
}

// nodeLookup is what finding a node of type typeName loads for its owner:
// the owner's meetings for a meeting, page 1 of its threads for a thread,
// nothing for a user (Query.node's prefetch in the field table).
func nodeLookup(typeName string) userNeeds {
	if d := nodeList(typeName); d != nil {
		return needs(d)
	}
	return 0
}

// findNode finds the object ref names: a user as it is, a meeting among its
// owner's meetings, a thread among its owner's threads; nil when the list
// does not hold it.
func findNode(ctx context.Context, ref nodeRef) (model.Node, error) {
	switch ref.typeName {
	case "User":
		return model.NewUser(ref.owner), nil
	case "Meeting":
		ms, err := loadsOf(loadersFrom(ctx), meetingsList).whole(ctx, ref.owner)
		if err != nil {
			return nil, err
		}
		for _, m := range ms.nodes {
			if m.ID == ref.id {
				return m, nil
			}
		}
	case "Thread":
		t, err := findThread(ctx, ref.owner, ref.id)
		if err != nil || t == nil {
			return nil, err
		}
		return t, nil
	}
	return nil, nil
}

// prefetch starts, without waiting, every load the current root field and
// its subtree will need, for each of the users, the subtree's selection read
// as one on typeName. Without it, users → meetings → thread costs two round
// trips: the thread lookups would only start once the meetings arrived. The
// selection is walked once, whatever the number of users.
func (r *Resolver) prefetch(ctx context.Context, typeName string, users ...int64) (eager []eagerLoad) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || r.schema == nil {
		return nil
	}
	needs, eager := lookAhead(graphql.GetOperationContext(ctx), r.schema, fc.Object, fc.Field, typeName)
	l := loadersFrom(ctx)
	for _, user := range users {
		needs.start(ctx, l, user)
	}
	return eager
}

// settle waits, in the root field's resolver, for the first loads that
// prefetch started and the first payload needs (eager). The fields below
// would wait for them anyway, and the answer is written only when all
// have answered; but gqlgen resolves them in a goroutine each, which
// waits with its stack: 50 concurrent operations of 20 users with their
// meetings and threads held 2,200 goroutines and 22 MB of stacks, most of
// them waiting for the upstream. Settled, the operation waits in one
// goroutine, and the fields find their data ready. A list streamed or a
// fragment deferred is not waited for (lookAhead leaves it out of eager).
func (r *Resolver) settle(ctx context.Context, eager []eagerLoad, users ...int64) {
	if len(eager) == 0 {
		return
	}
	l := loadersFrom(ctx)
	var rest []func()
	for _, user := range users {
		for _, e := range eager {
			if f := e.list.settle(ctx, r, l, user, e.args); f != nil {
				rest = append(rest, f)
			}
		}
	}
	// Second rounds (the pages after a paged list's first), which each
	// user's settle started once its first page had answered: waited for
	// only now, so that they overlap.
	for _, f := range rest {
		f()
	}
}

// meetingConnection resolves User.meetings: one upstream call, then filter,
// order and slice in the facade.
func (r *Resolver) meetingConnection(ctx context.Context, user int64, a connArgs, filter *model.MeetingFilter, order *model.MeetingOrder) (*model.MeetingConnection, error) {
	if filter != nil && filter.ThreadID != nil {
		if _, err := parseThreadID(*filter.ThreadID); err != nil {
			return nil, err
		}
	}
	return connection(ctx, r, meetingsList, user, a, func(ms []*model.Meeting) []*model.Meeting {
		list := make([]*model.Meeting, 0, len(ms))
		for _, m := range ms {
			if matches(m, filter) {
				list = append(list, m)
			}
		}
		sortMeetings(list, order)
		return list
	})
}

// threadConnection resolves User.threads: the pages that hold the slice,
// or, with a status filter, which the REST API does not have, every page,
// filtered in the facade.
func (r *Resolver) threadConnection(ctx context.Context, user int64, a connArgs, status []string) (*model.ThreadConnection, error) {
	var pick func([]*model.Thread) []*model.Thread
	if status != nil {
		pick = func(ts []*model.Thread) []*model.Thread {
			list := make([]*model.Thread, 0, len(ts))
			for _, t := range ts {
				if st := t.Status(); st != nil && slices.Contains(status, *st) {
					list = append(list, t)
				}
			}
			return list
		}
	}
	return connection(ctx, r, threadsList, user, a, pick)
}

// connection resolves the connection field of list d (first, after, last,
// before), as its paging says: pagedConnection for the pages a list the
// upstream pages holds the window in, wholeConnection for a list answered
// whole, or a paged one filtered (pick: the field's filter and order,
// which returns a list of its own), which needs every page. The field
// table's entry (listConnection) counts the same calls.
func connection[T, N any](ctx context.Context, r *Resolver, d *upstreamList[T, N], user int64, a connArgs, pick func([]*N) []*N) (*model.Connection[N], error) {
	w, err := newWindow(r.cursors, d.info(), user, a)
	if err != nil {
		return nil, err
	}
	if d.paged && pick == nil {
		return pagedConnection(ctx, r, d, user, w)
	}
	return wholeConnection(ctx, r, d, user, w, pick)
}

// wholeConnection resolves the connection of list d from the whole list:
// one call for a list the upstream answers whole, every page of a paged
// one; then, when the field has any, its filter and order (pick), then the
// window, in the facade.
func wholeConnection[T, N any](ctx context.Context, r *Resolver, d *upstreamList[T, N], user int64, w window, pick func([]*N) []*N) (*model.Connection[N], error) {
	ll := loadsOf(loadersFrom(ctx), d)
	whole, err := ll.whole(ctx, user)
	if err != nil {
		return nil, err
	}
	perPage := 0
	if d.paged {
		// A paged list's cursors carry a page size; page 1 is loaded
		// already (the whole list starts with it).
		p1, err := ll.page(ctx, user, 1)
		if err != nil {
			return nil, err
		}
		perPage = effectivePerPage(p1)
	}
	list := whole.nodes
	if pick != nil {
		list = pick(list)
	}
	start, end := w.bounds(len(list))
	total := len(list)
	cursor := func(i int) string {
		return r.cursors.cursor(d.info(), cursorPos{user: user, index: i, perPage: perPage, total: total})
	}
	return model.NewConnection(list[start:end], model.Page{Start: start, Total: total, Cursor: cursor}), nil
}

func matches(m *model.Meeting, f *model.MeetingFilter) bool {
	if f == nil {
		return true
	}
	if len(f.Status) > 0 && !slices.Contains(f.Status, m.Status()) {
		return false
	}
	if f.Type != nil && *f.Type != m.Type() {
		return false
	}
	if f.ThreadID != nil {
		if id := m.ThreadID(); id == nil || *id != *f.ThreadID {
			return false
		}
	}
	start := m.Date(model.MeetingOrderFieldStartDate)
	if f.StartFrom != nil && (start == nil || start.Before(*f.StartFrom)) {
		return false
	}
	if f.StartTo != nil && (start == nil || !start.Before(*f.StartTo)) {
		return false
	}
	return true
}

// sortMeetings orders in place. Meetings without the date come last in both
// directions; ties are broken by id so that cursors stay stable.
func sortMeetings(list []*model.Meeting, order *model.MeetingOrder) {
	field, desc := model.MeetingOrderFieldStartDate, true
	if order != nil {
		field, desc = order.Field, order.Direction == model.OrderDirectionDesc
	}
	// Each meeting's date is read once, not at every comparison.
	type keyed struct {
		m       *model.Meeting
		dated   bool
		sec     int64 // the date as seconds and nanoseconds, compared as integers
		nanosec int
	}
	keys := make([]keyed, len(list))
	for i, m := range list {
		keys[i].m = m
		if d := m.Date(field); d != nil {
			keys[i].dated, keys[i].sec, keys[i].nanosec = true, d.Unix(), d.Nanosecond()
		}
	}
	slices.SortStableFunc(keys, func(a, b keyed) int {
		switch {
		case !a.dated && !b.dated:
			return compareIDs(a.m.ID, b.m.ID)
		case !a.dated:
			return 1
		case !b.dated:
			return -1
		}
		c := cmp.Or(cmp.Compare(a.sec, b.sec), cmp.Compare(a.nanosec, b.nanosec))
		if desc {
			c = -c
		}
		if c == 0 {
			return compareIDs(a.m.ID, b.m.ID)
		}
		return c
	})
	for i := range keys {
		list[i] = keys[i].m
	}
}

// compareIDs orders numeric ids numerically and anything else as text.
func compareIDs(a, b string) int {
	na, ea := strconv.ParseInt(a, 10, 64)
	nb, eb := strconv.ParseInt(b, 10, 64)
	if ea == nil && eb == nil {
		return cmp.Compare(na, nb)
	}
	return cmp.Compare(a, b)
}

// pagedConnection resolves the connection of list d, which the upstream
// pages (User.threads), fetching only the pages that hold the window. The
// page size and total come from a cursor (before's when given), which
// says where the window is at once; without one, from page 1, fetched
// first: forwards it starts the list, backwards it tells how many pages
// there are, and then the last page or two are fetched. Mirrored by the
// estimate (pagesOf).
func pagedConnection[T, N any](ctx context.Context, r *Resolver, d *upstreamList[T, N], user int64, w window) (*model.Connection[N], error) {
	loaded, firstPage, perPage, err := loadWindow(ctx, loadsOf(loadersFrom(ctx), d), user, w)
	if err != nil {
		return nil, err
	}
	total := loaded[len(loaded)-1].pagination.Total
	base := (firstPage - 1) * perPage
	// The pages' nodes, in one piece: a page's own slice when it is one
	// (the connection only reads it), else a copy of exactly their size.
	all := loaded[0].nodes
	if len(loaded) > 1 {
		n := 0
		for _, p := range loaded {
			n += len(p.nodes)
		}
		all = make([]*N, 0, n)
		for _, p := range loaded {
			all = append(all, p.nodes...)
		}
	}
	total = max(total, base+len(all))
	lo, hi := w.bounds(total)
	start := min(max(lo-base, 0), len(all))
	end := min(max(hi-base, start), len(all))

	at := base + start
	if start == end {
		at = lo // an empty window is where it was asked for, for pageInfo
	}
	cursor := func(i int) string {
		return r.cursors.cursor(d.info(), cursorPos{user: user, index: i, perPage: perPage, total: total})
	}
	return model.NewConnection(all[start:end], model.Page{Start: at, Total: total, Cursor: cursor}), nil
}

// loadWindow loads the upstream pages of a user's paged list that hold
// window w: page 1 first, unless w's cursor says where the window is and
// how the list was paged; loaded starts at page firstPage, of perPage
// records each.
func loadWindow[T, N any](ctx context.Context, ll *listLoads[T, N], user int64, w window) (loaded []*listPage[N], firstPage, perPage int, err error) {
	total := 0
	if a := w.anchor(); a != nil {
		perPage, total = a.perPage, a.total
	}
	pagesCount := 0
	if perPage == 0 {
		p1, err := ll.page(ctx, user, 1)
		if err != nil {
			return nil, 0, 0, err
		}
		perPage, total, pagesCount = p1.shape()
		loaded, firstPage = []*listPage[N]{p1}, 1
	}
	// Plan the pages that hold the window, at most twice: a second time
	// only if the upstream's page size changed since the cursor was made.
	for attempt := 0; attempt < 2; attempt++ {
		offset, n, count := windowSpan(w, perPage, total, pagesCount)
		if n == 0 && len(loaded) > 0 {
			break // nothing to show, and the total is known
		}
		pages := pageSpan(offset, n, perPage, count)
		got, err := ll.pagesOf(ctx, user, pages)
		if err != nil {
			return nil, 0, 0, err
		}
		loaded, firstPage = got, pages[0]
		if pp := effectivePerPage(got[0]); pp == perPage || len(got[0].nodes) == 0 {
			break
		} else {
			perPage, total, pagesCount = pp, got[0].pagination.Total, got[0].pagination.PagesCount
		}
	}
	return loaded, firstPage, perPage, nil
}

// shape is what page 1 of a paged list says of the whole: the page size,
// the number of records and of pages (0 when it does not say).
func (p *listPage[N]) shape() (perPage, total, pagesCount int) {
	return effectivePerPage(p), max(p.pagination.Total, len(p.nodes)), p.pagination.PagesCount
}

// windowSpan is where w lies in a list of total records, perPage a page,
// in pagesCount pages (0: as many as total needs): pageSpan's offset, count
// and page count, from which it plans the pages that hold the window (the
// estimate's plan too); n is 0 for a window that holds no record. The
// pages are planned at the caller, whose pageSpan, inlined, keeps its few
// page numbers on the stack.
func windowSpan(w window, perPage, total, pagesCount int) (offset, n, count int) {
	if pagesCount == 0 {
		pagesCount = (total + perPage - 1) / perPage
	}
	lo, hi := w.bounds(total)
	return lo, hi - lo, pagesCount
}

// effectivePerPage is the page size the upstream used: what its pagination
// says, else what a full first page held.
func effectivePerPage[N any](p *listPage[N]) int {
	if p.pagination.PerPage > 0 {
		return p.pagination.PerPage
	}
	if len(p.nodes) > 0 {
		return len(p.nodes)
	}
	return defaultFirst
}

// meetingThread resolves Meeting.thread among the owner's threads: page 1
// first (usually already loaded), the other pages only when it is not there.
func meetingThread(ctx context.Context, m *model.Meeting) (*model.Thread, error) {
	id := m.ThreadID()
	if id == nil {
		return nil, nil
	}
	return findThread(ctx, m.OwnerID, *id)
}

func findThread(ctx context.Context, owner int64, id string) (*model.Thread, error) {
	ll := loadsOf(loadersFrom(ctx), threadsList)
	p1, err := ll.page(ctx, owner, 1)
	if err != nil {
		return nil, err
	}
	for _, t := range p1.nodes {
		if t.ID == id {
			return t, nil
		}
	}
	if p1.pagination.PagesCount <= 1 {
		return nil, nil
	}
	all, err := ll.whole(ctx, owner)
	if err != nil {
		return nil, err
	}
	return pageIndex(ll, all, threadsByID)[id], nil
}

// threadsByID indexes threads by id, the first of a repeated id winning.
func threadsByID(ts []*model.Thread) map[string]*model.Thread {
	byID := make(map[string]*model.Thread, len(ts))
	for _, t := range ts {
		if _, dup := byID[t.ID]; !dup {
			byID[t.ID] = t
		}
	}
	return byID
}

// threadMeetings resolves Thread.meetings: the owner's meetings in the
// thread, newest start first.
func threadMeetings(ctx context.Context, t *model.Thread) ([]*model.Meeting, error) {
	ll := loadsOf(loadersFrom(ctx), meetingsList)
	ms, err := ll.whole(ctx, t.OwnerID)
	if err != nil {
		return nil, err
	}
	list := slices.Clone(pageIndex(ll, ms, meetingsByThread)[t.ID])
	sortMeetings(list, nil)
	return list, nil
}

// meetingsByThread indexes meetings by their thread, in list order.
func meetingsByThread(ms []*model.Meeting) map[string][]*model.Meeting {
	byThread := make(map[string][]*model.Meeting)
	for _, m := range ms {
		if id := m.ThreadID(); id != nil {
			byThread[*id] = append(byThread[*id], m)
		}
	}
	return byThread
}
