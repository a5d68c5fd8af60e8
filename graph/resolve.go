package graph

import (
	"cmp"
	"context"
	"slices"
	"strconv"

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
	r.prefetch(ctx, "User", n)
	return model.NewUser(n), nil
}

// users resolves Query.users, in the order of ids.
func (r *Resolver) users(ctx context.Context, ids []string) ([]*model.User, error) {
	nums, err := parseUserIDs(ids)
	if err != nil {
		return nil, err
	}
	r.prefetch(ctx, "User", nums...)
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
func (r *Resolver) prefetch(ctx context.Context, typeName string, users ...int64) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || r.schema == nil {
		return
	}
	needs := lookAhead(graphql.GetOperationContext(ctx), r.schema, fc.Object, fc.Field, typeName)
	l := loadersFrom(ctx)
	for _, user := range users {
		needs.start(ctx, l, user)
	}
}

// meetingConnection resolves User.meetings: one upstream call, then filter,
// order and slice in the facade.
func (r *Resolver) meetingConnection(ctx context.Context, user int64, first *int, after *string, filter *model.MeetingFilter, order *model.MeetingOrder) (*model.MeetingConnection, error) {
	if filter != nil && filter.ThreadID != nil {
		if _, err := parseThreadID(*filter.ThreadID); err != nil {
			return nil, err
		}
	}
	return wholeConnection(ctx, r, meetingsList, user, first, after, func(ms []*model.Meeting) []*model.Meeting {
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

// connection resolves the connection field (first, after) of list d, as
// its paging says: wholeConnection or pagedConnection.
func connection[T, N any](ctx context.Context, r *Resolver, d *upstreamList[T, N], user int64, first *int, after *string) (*model.Connection[N], error) {
	if d.paged {
		return pagedConnection(ctx, r, d, user, first, after)
	}
	return wholeConnection(ctx, r, d, user, first, after, nil)
}

// wholeConnection resolves the connection of list d, which the upstream
// answers whole (User.meetings): one call for the user's list, then, when
// the field has any, its filter and order (pick, which returns a list of
// its own), then the slice, in the facade.
func wholeConnection[T, N any](ctx context.Context, r *Resolver, d *upstreamList[T, N], user int64, first *int, after *string, pick func([]*N) []*N) (*model.Connection[N], error) {
	if d.paged {
		// It would fetch every page, where the estimate counts the slice's.
		panic("graph: wholeConnection of " + d.Name + ", which the upstream pages")
	}
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	offset := 0
	if after != nil {
		p, err := r.cursors.decode(*after, d.info(), user)
		if err != nil {
			return nil, err
		}
		offset = p.index + 1
	}
	whole, err := loadsOf(loadersFrom(ctx), d).whole(ctx, user)
	if err != nil {
		return nil, err
	}
	list := whole.nodes
	if pick != nil {
		list = pick(list)
	}
	start := min(offset, len(list))
	end := min(start+n, len(list))
	cursor := func(i int) string { return r.cursors.cursor(d.info(), cursorPos{user: user, index: i}) }
	return model.NewConnection(list[start:end], model.Page{Start: start, Total: len(list), Cursor: cursor}), nil
}

func matches(m *model.Meeting, f *model.MeetingFilter) bool {
	if f == nil {
		return true
	}
	if len(f.Status) > 0 && !slices.Contains(f.Status, m.Status) {
		return false
	}
	if f.Type != nil && *f.Type != m.Type {
		return false
	}
	if f.ThreadID != nil && (m.ThreadID == nil || *m.ThreadID != *f.ThreadID) {
		return false
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
// pages (User.threads). Offsets map onto upstream pages: without a cursor
// page 1 is fetched first (it tells the page size); with one, the cursor
// carries the page size, and exactly the pages holding the requested slice
// are fetched, together.
func pagedConnection[T, N any](ctx context.Context, r *Resolver, d *upstreamList[T, N], user int64, first *int, after *string) (*model.Connection[N], error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	offset, perPage, totalHint := 0, 0, 0
	if after != nil {
		p, err := r.cursors.decode(*after, d.info(), user)
		if err != nil {
			return nil, err
		}
		offset, perPage, totalHint = p.index+1, p.perPage, p.total
	}
	ll := loadsOf(loadersFrom(ctx), d)
	var (
		loaded    []*listPage[N]
		firstPage int
	)
	if perPage == 0 {
		p1, err := ll.page(ctx, user, 1)
		if err != nil {
			return nil, err
		}
		perPage = effectivePerPage(p1)
		loaded, firstPage = []*listPage[N]{p1}, 1
	}
	// Plan the pages that hold [offset, offset+n), at most twice: a second
	// time only if the upstream's page size changed since the cursor was made.
	for attempt := 0; attempt < 2; attempt++ {
		pagesCount := (totalHint + perPage - 1) / perPage
		if len(loaded) > 0 {
			pagesCount = loaded[0].pagination.PagesCount
		}
		pages := pageSpan(offset, n, perPage, pagesCount) // the estimate's too
		got, err := ll.pagesOf(ctx, user, pages)
		if err != nil {
			return nil, err
		}
		loaded, firstPage = got, pages[0]
		if pp := effectivePerPage(got[0]); pp == perPage || len(got[0].nodes) == 0 {
			break
		} else {
			perPage = pp
		}
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
	start := min(max(offset-base, 0), len(all))
	end := min(start+n, len(all))

	cursor := func(i int) string {
		return r.cursors.cursor(d.info(), cursorPos{user: user, index: i, perPage: perPage, total: total})
	}
	return model.NewConnection(all[start:end], model.Page{Start: base + start, Total: total, Cursor: cursor}), nil
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
	if m.ThreadID == nil {
		return nil, nil
	}
	return findThread(ctx, m.OwnerID, *m.ThreadID)
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
		if m.ThreadID != nil {
			byThread[*m.ThreadID] = append(byThread[*m.ThreadID], m)
		}
	}
	return byThread
}
