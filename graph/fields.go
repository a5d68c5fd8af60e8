package graph

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
			switch ref.typeName {
			case "Meeting":
				c.load(meetingsList)
			case "Thread":
				c.load(threadsList)
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
			switch ref.typeName {
			case "Meeting":
				return needs(meetingsList)
			case "Thread":
				return needs(threadsList)
			}
			return 0
		},
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
	},
	"Thread.meetings": {
		// The owner's meetings, shared with User.meetings.
		cost: func(c *costing) bool {
			c.load(meetingsList)
			c.repeat(threadMeetingsEstimate)
			return true
		},
		prefetch: func(map[string]any) userNeeds { return needs(meetingsList) },
	},
}

// listConnection is the entry of d's connection field (first, after),
// added for each declared list: a page size within bounds and a cursor of
// d's; for a list the upstream answers whole, one call whatever the page
// (filtering, ordering and paging happen in the facade), started by the
// look-ahead; for a paged one, the upstream pages that hold the slice
// (pageSpan), as pagedConnection fetches them, and page 1 started by the
// look-ahead unless a cursor says where the slice is.
func listConnection(d anyList) fieldSpec {
	paged := d.info().paged
	return fieldSpec{
		check: func(a *argUse) error { return a.connection(d.info()) },
		cost: func(c *costing) bool {
			n := firstArg(c.args)
			c.loadPages(d, c.e.pagesOf(d.info(), n, c.args["after"]))
			c.child.page = n
			return true
		},
		prefetch: func(args map[string]any) userNeeds {
			if paged && args["after"] != nil {
				return 0
			}
			return needs(d)
		},
		prefetched: !paged,
	}
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

// pagesOf mirrors pagedConnection: without a cursor, the pages holding
// the first n items at the assumed page size; with one, the pages holding
// the slice at the page size the cursor carries, capped at the last page
// the cursor's total implies. nil for a list the upstream answers whole.
func (e *estimator) pagesOf(d *listInfo, n int64, after any) []int {
	if !d.paged {
		return nil
	}
	perPage, offset, pagesCount := e.sec.UpstreamPageSize, 0, 0
	if s, ok := after.(string); ok {
		p, err := e.cursors.decode(s, d, 0)
		if err != nil {
			return nil // argumentCheck refused it already
		}
		offset, perPage = p.index+1, p.perPage
		pagesCount = (p.total + perPage - 1) / perPage
	}
	return pageSpan(offset, int(n), perPage, pagesCount)
}
