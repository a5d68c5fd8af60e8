package graph

import "slices"

// This file is what the facade knows of each field of the sales schema
// beyond its type: the checks of its arguments, what it costs, and what the
// look-ahead starts for it. A list's connection field (User.meetings,
// User.threads) has the entry its list implies (listConnection), added
// from the list's declaration (upstream.go). Three walkers read it: argumentCheck
// (arguments.go) refuses bad arguments before execution, estimate
// (estimate.go) prices the operation before execution, lookAhead
// (selection.go) starts the loads a root field's subtree will need. A field
// without an entry has plain arguments, costs one response field per
// appearance, and loads nothing. Changing what a field checks or costs is a
// change of its entry here; the resolvers (resolve.go) do what the entry
// says, and TestUpstreamCallEstimateAgreesWithTheLoaders holds them to it.

// fieldSpec is one field's entry. Every function may be nil.
type fieldSpec struct {
	// users says whom the field's subtree concerns, from its arguments,
	// refusing ids that are not ids: the root fields. Below any other field
	// the subtree concerns the users of the field's own subtree.
	users func(args map[string]any) (userSet, error)
	// namedByUpstream marks a field whose subtree concerns whoever the
	// upstream names (Meeting.user, Thread.owner): in practice the
	// salesperson whose lists the record came from, as the estimate and the
	// look-ahead count it, but not known before execution, so the argument
	// check cannot hold a cursor below it to a user.
	namedByUpstream bool
	// check refuses invalid arguments the schema's types cannot express;
	// the dates and thread ids of every field are checked apart (values, in
	// arguments.go).
	check func(a *argUse) error
	// cost adds the field's upstream calls to the estimate and sets how
	// often the fields below it repeat; false leaves its subtree out (an
	// argument that argumentCheck refuses anyway).
	cost func(c *costing) bool
	// prefetch is what the field itself loads for the user its subtree
	// concerns (the root field's: see users), for the look-ahead to add up
	// over the subtree and start at once.
	prefetch func(args map[string]any) userNeeds
	// prefetched marks a field that waits for nothing but what its
	// prefetch names, which the root field's look-ahead has already
	// started: a list whose elements hold it need not give each element a
	// goroutine of its own to wait in (lists.go). Not below a
	// namedByUpstream field, whose user the look-ahead can only guess.
	prefetched bool
	// conn is the list whose connection the field is, for settle.
	conn anyList
	// weight and size are the field's directives of the GraphQL cost
	// specification in the served schema (costdirectives.go): weight, its
	// @cost, is the upstream calls one appearance makes for one
	// salesperson with its default arguments (0: none); size, its
	// @listSize. The cost above reads the same numbers, and
	// TestCostDirectivesAreTheFieldTable holds schema.graphqls to them.
	weight int
	size   *listSize
}

// threadMeetingsEstimate is how many meetings the estimate assumes a
// thread has (Thread.meetings takes no page size). Clients cannot inflate
// it: it is the data's, and a deal gathers a handful of meetings.
const threadMeetingsEstimate = 5

// fields is the table, keyed by "Type.field" with the object type the
// field is selected on.
var fields = map[string]fieldSpec{
	"Query.user": {
		users: func(args map[string]any) (userSet, error) {
			id, err := userArg(args["id"])
			return userSet{id}, err
		},
	},
	"Query.users": {
		users: func(args map[string]any) (userSet, error) {
			list, _ := args["ids"].([]any)
			if len(list) > maxIDs {
				return nil, badInput("ids has %d entries; at most %d are allowed", len(list), maxIDs)
			}
			ids := make(userSet, 0, len(list))
			for i, v := range list {
				id, err := userArg(v)
				if err != nil {
					return nil, userIDAt(i)
				}
				ids = append(ids, id)
			}
			return ids, nil
		},
		// One User per id, repeats included: each appears in the response.
		cost: func(c *costing) bool {
			list, _ := c.args["ids"].([]any)
			c.repeat(int64(len(list)))
			return true
		},
		size: &listSize{assumedSize: maxIDs},
	},
	"Query.node": {
		users: func(args map[string]any) (userSet, error) {
			ref, err := nodeArg(args["id"])
			return userSet{ref.owner}, err
		},
		// A meeting is found in its owner's meetings, a thread looked up in
		// its owner's threads; only the id's own type can come back.
		cost: func(c *costing) bool {
			ref, err := nodeArg(c.args["id"])
			if err != nil {
				return false
			}
			if d := nodeList(ref.typeName); d != nil {
				c.load(d)
			}
			c.child.typ = ref.typeName
			return true
		},
		// The node's own lookup, as node resolves it: a meeting among its
		// owner's meetings, a thread on page 1 of its owner's threads first
		// (findThread); a User needs nothing.
		prefetch: func(args map[string]any) userNeeds {
			ref, err := nodeArg(args["id"])
			if err != nil {
				return 0
			}
			return nodeLookup(ref.typeName)
		},
		weight: 1,
	},
	"Query.nodes": {
		// The owners of the ids; an id that is not one is null with an
		// error in its place (nodes), not a refusal of the operation.
		users: func(args map[string]any) (userSet, error) {
			refs, err := nodeArgs(args["ids"])
			if err != nil {
				return nil, err
			}
			var owners userSet
			for _, r := range refs {
				if r != nil && !slices.Contains(owners, r.owner) {
					owners = append(owners, r.owner)
				}
			}
			return owners, nil
		},
		// Each id's lookup as node's, for its own owner only; the subtree
		// once per id, as each id's own type when they share one.
		cost: func(c *costing) bool {
			refs, err := nodeArgs(c.args["ids"])
			if err != nil {
				return false
			}
			typ := ""
			for _, r := range refs {
				if r == nil {
					continue
				}
				g := c.e.group([]int64{r.owner})
				g.lists = make([]listNeed, len(lists))
				if d := nodeList(r.typeName); d != nil {
					g.lists[d.info().index].all = true
				}
				if typ == "" || typ == r.typeName {
					typ = r.typeName
				} else {
					typ = "Node"
				}
			}
			c.repeat(int64(len(refs)))
			if typ != "" {
				c.child.typ = typ
			}
			return true
		},
		// No prefetch: the ids' types differ, and the resolver starts
		// each one's lookup and subtree for its own owner (nodes).
		weight: 1,
		size:   &listSize{assumedSize: maxIDs},
	},
	"Meeting.user": {namedByUpstream: true},
	"Thread.owner": {namedByUpstream: true},
	"Meeting.thread": {
		// A lookup among the owner's threads: page 1, the rest only for a
		// thread not on it (findThread).
		cost: func(c *costing) bool {
			c.load(threadsList)
			return true
		},
		// Page 1 is all worth starting before the thread is known.
		prefetch: func(map[string]any) userNeeds { return needs(threadsList) },
		weight:   1,
	},
	"Thread.meetings": {
		// The owner's meetings, shared with User.meetings.
		cost: func(c *costing) bool {
			c.load(meetingsList)
			c.repeat(threadMeetingsEstimate)
			return true
		},
		prefetch: func(map[string]any) userNeeds { return needs(meetingsList) },
		weight:   1,
		size:     &listSize{assumedSize: threadMeetingsEstimate},
	},
}

// listConnection is the entry of d's connection field (first, after,
// last, before, and any filter), added for each declared list: page sizes
// within bounds and cursors of d's (window.go); for a list the upstream
// answers whole, one call whatever the page (filtering, ordering and
// paging happen in the facade), started by the look-ahead; for a paged
// one, the upstream pages that hold the slice (pagesOf), as
// pagedConnection fetches them, and page 1 started by the look-ahead
// unless a cursor says where the slice is; with a filter (an argument
// other than the paging ones), every page, which the facade then filters.
func listConnection(d anyList) fieldSpec {
	paged := d.info().paged
	return fieldSpec{
		check: func(a *argUse) error { return a.connection(d.info()) },
		cost: func(c *costing) bool {
			w, err := windowOf(c.e.cursors, d.info(), 0, c.args)
			if err != nil {
				return false // argumentCheck refused it already
			}
			if paged && filtered(c.args) {
				c.load(d)
			} else {
				c.loadPages(d, c.e.pagesOf(d.info(), w))
			}
			c.child.page = int64(w.size())
			return true
		},
		prefetch: func(args map[string]any) userNeeds {
			if paged && (args["after"] != nil || args["before"] != nil) && !filtered(args) {
				return 0
			}
			return needs(d)
		},
		prefetched: !paged,
		conn:       d,
		weight:     1,
		size: &listSize{
			assumedSize:      defaultFirst,
			slicingArguments: []string{"first", "last"},
			sizedFields:      []string{"edges", "nodes"},
		},
	}
}

// pagingArgs are a connection's arguments that only page it.
var pagingArgs = map[string]bool{"first": true, "after": true, "last": true, "before": true}

// filtered says that a connection's arguments hold a filter: one that is
// not a paging argument and not null.
func filtered(args map[string]any) bool {
	for k, v := range args {
		if !pagingArgs[k] && v != nil {
			return true
		}
	}
	return false
}

func init() {
	for _, d := range lists {
		f := d.info().field
		if _, dup := fields[f]; dup {
			panic("graph: " + f + " has an entry and serves a list")
		}
		fields[f] = listConnection(d)
	}
}

// pageSpan is the upstream pages that hold items [offset, offset+n) of a
// paged list at perPage items a page, capped at pagesCount when it is
// known (above 0): the pages a connection fetches (pagedConnection) and
// the estimate counts. It holds at least one page, so that a connection of
// first: 0 still learns the total.
func pageSpan(offset, n, perPage, pagesCount int) []int {
	from := offset/perPage + 1
	to := from
	if n > 0 {
		to = (offset+n-1)/perPage + 1
	}
	if pagesCount > 0 {
		to = max(from, min(to, pagesCount))
	}
	pages := make([]int, 0, to-from+1)
	for p := from; p <= to; p++ {
		pages = append(pages, p)
	}
	return pages
}

// pagesOf mirrors pagedConnection: with a cursor, the pages holding the
// window at the page size and total the cursor carries (before's when
// given); without one, forwards, the pages holding the first items at the
// assumed page size, and backwards, page 1 (which tells the total) and
// the last pages the window can span, numbered from the end (-1 the last)
// since which they are is not known yet. nil for a list the upstream
// answers whole.
func (e *estimator) pagesOf(d *listInfo, w window) []int {
	if !d.paged {
		return nil
	}
	if a := w.anchor(); a != nil {
		offset, n, count := windowSpan(w, a.perPage, a.total, 0)
		return pageSpan(offset, n, a.perPage, count)
	}
	perPage := e.sec.UpstreamPageSize
	if w.backward() {
		pages := []int{1}
		for i := 1; i <= pagesFromEnd(w.last, perPage); i++ {
			pages = append(pages, -i)
		}
		return pages
	}
	lo, hi := w.bounds(unknownTotal)
	return pageSpan(lo, hi-lo, perPage, 0)
}
