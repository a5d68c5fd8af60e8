package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
)

// This file declares the upstream lists the facade serves, one line each.
// restclient declares what the wire needs of a list (endpoint, paging,
// decoder, name); the facade adds what only it knows: the kind its cursors
// carry, the connection field that serves it, and how its records become
// GraphQL objects. Everything else is generic and reads the declaration:
// the loaders (loaders.go), the estimate (costing.load and loadPages in
// estimate.go), the look-ahead (userNeeds in selection.go), the cursors
// (cursor.go), the connections (connection in resolve.go, their
// field-table entries in fields.go) and the loaders' metric labels
// (observe.go).
//
// To add a list: declare it in restclient (a record type, its decoder, a
// restclient.List), give the fake upstream a table entry for it, declare it
// here, add its record type to graph/model (with a Connection alias) and
// its field to schema.graphqls, and have the field's resolver call
// connection. The tests that range over lists (upstream_test.go) then hold
// it to what the others do.

// Upstream is what the resolvers need from the REST API: one call for a
// page of a user's list, or the whole of a list the upstream answers
// whole. *restclient.Client implements it; tests may wrap it. The answer
// is the *restclient.Page of the list's record type.
type Upstream interface {
	UserList(ctx context.Context, list restclient.AnyList, userID int64, page int) (restclient.Records, error)
}

// The lists. A cursor kind is part of the cursors clients hold: never
// reuse or renumber one.
var (
	meetingsList = declare(1, "User.meetings", restclient.Meetings, model.NewMeetings)
	threadsList  = declare(2, "User.threads", restclient.Threads, model.NewThreads)
)

// listInfo is what generic code needs to know of a list, whatever its
// records.
type listInfo struct {
	restclient.ListSpec
	index int        // in lists, for per-list state
	kind  cursorKind // the first byte of its cursors, unique
	field string     // the connection field that serves it, "Type.field"
	// paged says that the upstream pages it: a connection fetches the
	// pages that hold its slice. Otherwise one call answers the whole
	// list, which the facade filters, orders and slices.
	paged bool
	// pagesLoader and allLoader name its loaders, for metrics: for a
	// whole list both are its name ("meetings"), for a paged one the
	// pages' and the joined list's ("threadPages", "allThreads").
	pagesLoader, allLoader string
}

// upstreamList is a list's declaration: the client's, and how its records
// T become the GraphQL objects N.
type upstreamList[T, N any] struct {
	listInfo
	wire *restclient.List[T]
	// convert converts a page of records of owner's list, once per
	// request; the objects may point into raw, which never changes.
	convert func(owner int64, raw []T) []*N
}

// anyList is an upstreamList of any records.
type anyList interface {
	info() *listInfo
	// prefetch starts loading the user's first page (the whole list, for
	// one that is not paged) without waiting for it.
	prefetch(ctx context.Context, l *Loaders, user int64)
	// settle waits for what prefetch started. For the connection field of
	// a paged list (args not nil, eagerLoad), it then starts the other
	// pages its window needs, and rest waits for them.
	settle(ctx context.Context, r *Resolver, l *Loaders, user int64, args map[string]any) (rest func())
	// newLoader makes the list's loaders for one operation.
	newLoader(l *Loaders) listLoader
}

func (d *upstreamList[T, N]) info() *listInfo { return &d.listInfo }

// lists are the declared lists, by index.
var lists []anyList

// maxLists bounds the lists: userNeeds has a bit for each.
const maxLists = 64

// declare declares a list; see the list of lists above.
func declare[T, N any](kind cursorKind, field string, wire *restclient.List[T], convert func(int64, []T) []*N) *upstreamList[T, N] {
	spec := wire.Spec()
	d := &upstreamList[T, N]{
		listInfo: listInfo{ListSpec: spec, index: len(lists), kind: kind, field: field, paged: spec.Paging == restclient.Paged},
		wire:     wire,
		convert:  convert,
	}
	d.pagesLoader, d.allLoader = spec.Name, spec.Name
	if d.paged {
		// "threads": "threadPages" and "allThreads".
		d.pagesLoader = strings.TrimSuffix(spec.Name, "s") + "Pages"
		d.allLoader = "all" + strings.ToUpper(spec.Name[:1]) + spec.Name[1:]
	}
	for _, o := range lists {
		if i := o.info(); i.kind == kind || i.field == field || i.Name == spec.Name {
			panic(fmt.Sprintf("graph: lists %s and %s share a cursor kind, a field or a name", i.Name, spec.Name))
		}
	}
	if kind == 0 || len(lists) == maxLists {
		panic("graph: list " + spec.Name + ": cursor kind 0, or too many lists")
	}
	lists = append(lists, d)
	return d
}

// listOfKind is the list whose cursors are of kind k, if any.
func listOfKind(k cursorKind) (*listInfo, bool) {
	for _, d := range lists {
		if i := d.info(); i.kind == k {
			return i, true
		}
	}
	return nil, false
}
