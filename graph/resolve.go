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
		ms, err := loadersFrom(ctx).Meetings(ctx, ref.owner)
		if err != nil {
			return nil, err
		}
		for _, m := range ms.list {
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
		if needs.meetings {
			l.prefetchMeetings(ctx, user)
		}
		if needs.threadPage {
			l.prefetchThreadPage(ctx, user, 1)
		}
	}
}

// meetingConnection resolves User.meetings: one upstream call, then filter,
// order and slice in the facade.
func (r *Resolver) meetingConnection(ctx context.Context, user int64, first *int, after *string, filter *model.MeetingFilter, order *model.MeetingOrder) (*model.MeetingConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	offset := 0
	if after != nil {
		p, err := r.cursors.decode(*after, meetingsCursor, user)
		if err != nil {
			return nil, err
		}
		offset = p.index + 1
	}
	if filter != nil && filter.ThreadID != nil {
		if _, err := parseThreadID(*filter.ThreadID); err != nil {
			return nil, err
		}
	}
	ms, err := loadersFrom(ctx).Meetings(ctx, user)
	if err != nil {
		return nil, err
	}
	list := make([]*model.Meeting, 0, len(ms.list))
	for _, m := range ms.list {
		if matches(m, filter) {
			list = append(list, m)
		}
	}
	sortMeetings(list, order)

	start := min(offset, len(list))
	end := min(start+n, len(list))
	cursor := func(i int) string { return r.cursors.meetingCursor(user, i) }
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

// threadConnection resolves User.threads. Offsets map onto upstream pages:
// without a cursor page 1 is fetched first (it tells the page size); with one,
// the cursor carries the page size, and exactly the pages holding the
// requested slice are fetched, together.
func (r *Resolver) threadConnection(ctx context.Context, user int64, first *int, after *string) (*model.ThreadConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	offset, perPage, totalHint := 0, 0, 0
	if after != nil {
		p, err := r.cursors.decode(*after, threadsCursor, user)
		if err != nil {
			return nil, err
		}
		offset, perPage, totalHint = p.index+1, p.perPage, p.total
	}
	l := loadersFrom(ctx)
	var (
		loaded    []*threadPage
		firstPage int
	)
	if perPage == 0 {
		p1, err := l.ThreadPage(ctx, user, 1)
		if err != nil {
			return nil, err
		}
		perPage = effectivePerPage(p1)
		loaded, firstPage = []*threadPage{p1}, 1
	}
	// Plan the pages that hold [offset, offset+n), at most twice: a second
	// time only if the upstream's page size changed since the cursor was made.
	for attempt := 0; attempt < 2; attempt++ {
		pagesCount := (totalHint + perPage - 1) / perPage
		if len(loaded) > 0 {
			pagesCount = loaded[0].pagination.PagesCount
		}
		pages := threadPageSpan(offset, n, perPage, pagesCount) // the estimate's too
		got, err := l.ThreadPages(ctx, user, pages)
		if err != nil {
			return nil, err
		}
		loaded, firstPage = got, pages[0]
		if pp := effectivePerPage(got[0]); pp == perPage || len(got[0].threads) == 0 {
			break
		} else {
			perPage = pp
		}
	}

	total := loaded[len(loaded)-1].pagination.Total
	base := (firstPage - 1) * perPage
	var all []*model.Thread
	for _, p := range loaded {
		all = append(all, p.threads...)
	}
	total = max(total, base+len(all))
	start := min(max(offset-base, 0), len(all))
	end := min(start+n, len(all))

	cursor := func(i int) string { return r.cursors.threadCursor(user, i, perPage, total) }
	return model.NewConnection(all[start:end], model.Page{Start: base + start, Total: total, Cursor: cursor}), nil
}

// effectivePerPage is the page size the upstream used: what its pagination
// says, else what a full first page held.
func effectivePerPage(p *threadPage) int {
	if p.pagination.PerPage > 0 {
		return p.pagination.PerPage
	}
	if len(p.threads) > 0 {
		return len(p.threads)
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
	l := loadersFrom(ctx)
	p1, err := l.ThreadPage(ctx, owner, 1)
	if err != nil {
		return nil, err
	}
	for _, t := range p1.threads {
		if t.ID == id {
			return t, nil
		}
	}
	if p1.pagination.PagesCount <= 1 {
		return nil, nil
	}
	all, err := l.AllThreads(ctx, owner)
	if err != nil {
		return nil, err
	}
	return all.byID[id], nil
}

// threadMeetings resolves Thread.meetings: the owner's meetings in the
// thread, newest start first.
func threadMeetings(ctx context.Context, t *model.Thread) ([]*model.Meeting, error) {
	ms, err := loadersFrom(ctx).Meetings(ctx, t.OwnerID)
	if err != nil {
		return nil, err
	}
	list := slices.Clone(ms.ofThread(t.ID))
	sortMeetings(list, nil)
	return list, nil
}
