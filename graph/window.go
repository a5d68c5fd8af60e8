package graph

import "math"

// This file is paging both ways, for every connection: what first, after,
// last and before ask for (a window of the list), checked once here for the
// argument check, the estimate and the resolvers alike. The rules are the
// Relay connection specification's: after and before narrow the list to
// the items between the two cursors, then first keeps the first items of
// that, or last the last ones. Relay discourages giving first and last
// together, and its servers (GitHub's among them) refuse it; so does this
// one, before any upstream call, because the slice it would mean (the last
// m of the first n) is never what a pager wants. Without either, first is
// defaultFirst, as it was when first had that default in the schema.

// connArgs are a connection's paging arguments as a resolver gets them.
type connArgs struct {
	First, Last   *int
	After, Before *string
}

// window is a connection's slice, its arguments checked and its cursors
// decoded.
type window struct {
	first, last   int // -1: not given
	after, before *cursorPos
}

// newWindow checks a and decodes its cursors, which must be list d's, of
// user's list (any user's when user is 0).
func newWindow(cursors *cursorCodec, d *listInfo, user int64, a connArgs) (window, error) {
	return buildWindow(cursors, d, user, optionalInt(a.First), optionalInt(a.Last), a.After, a.Before)
}

var errFirstAndLast = badInput("first and last cannot be given together: page forwards with first and after, backwards with last and before")

// windowOf is newWindow for arguments as the argument check and the
// estimate read them (coerced, variables substituted).
func windowOf(cursors *cursorCodec, d *listInfo, user int64, args map[string]any) (window, error) {
	var sizes [2]optInt
	for i, name := range [2]string{"first", "last"} {
		if v, ok := args[name]; ok && v != nil {
			n, ok := intArg(v)
			if !ok {
				return window{}, badInput("%s is not an integer", name)
			}
			sizes[i] = optInt{n, true}
		}
	}
	var after, before *string
	if s, ok := args["after"].(string); ok {
		after = &s
	}
	if s, ok := args["before"].(string); ok {
		before = &s
	}
	return buildWindow(cursors, d, user, sizes[0], sizes[1], after, before)
}

// optInt is an Int argument and whether it was given; a value, so that
// reading one from the argument map allocates nothing.
type optInt struct {
	n   int
	set bool
}

func optionalInt(p *int) optInt {
	if p == nil {
		return optInt{}
	}
	return optInt{*p, true}
}

func buildWindow(cursors *cursorCodec, d *listInfo, user int64, first, last optInt, after, before *string) (window, error) {
	w := window{first: -1, last: -1}
	var err error
	if w.first, err = sizeArg("first", first); err != nil {
		return w, err
	}
	if w.last, err = sizeArg("last", last); err != nil {
		return w, err
	}
	if w.first >= 0 && w.last >= 0 {
		return w, errFirstAndLast
	}
	if after != nil {
		p, err := cursors.decode(*after, "after", d, user)
		if err != nil {
			return w, err
		}
		w.after = &p
	}
	if before != nil {
		p, err := cursors.decode(*before, "before", d, user)
		if err != nil {
			return w, err
		}
		w.before = &p
	}
	return w, nil
}

// sizeArg is a page size argument: -1 when not given.
func sizeArg(name string, v optInt) (int, error) {
	if !v.set {
		return -1, nil
	}
	if v.n < 0 || v.n > maxFirst {
		return 0, badInput("%s must be between 0 and %d", name, maxFirst)
	}
	return v.n, nil
}

// backward says the window is counted from its end: last was given.
func (w window) backward() bool { return w.last >= 0 }

// size is how many items the window holds at most.
func (w window) size() int {
	if w.backward() {
		return w.last
	}
	if w.first >= 0 {
		return w.first
	}
	return defaultFirst
}

// anchor is the cursor that says where the list's pages are, and how long
// the list was: before when given (it bounds a backward window), else
// after; nil for none.
func (w window) anchor() *cursorPos {
	if w.before != nil {
		return w.before
	}
	return w.after
}

// bounds is the window [lo, hi) in a list of total items.
func (w window) bounds(total int) (lo, hi int) {
	hi = total
	if w.after != nil {
		lo = min(w.after.index+1, total)
	}
	if w.before != nil {
		hi = min(w.before.index, total)
	}
	hi = max(hi, lo)
	if w.backward() {
		return max(lo, hi-w.last), hi
	}
	return lo, min(hi, lo+w.size())
}

// pagesFromEnd is how many pages, counted from the last, the last n items
// of a list of perPage items a page can span: their own, and one more when
// they do not start on a page's first item.
func pagesFromEnd(n, perPage int) int {
	if n <= 0 {
		return 0
	}
	return (n-1)/perPage + 2
}

// unknownTotal is the total bounds is given when the estimate does not
// know it: far enough that first's window is never cut short.
const unknownTotal = math.MaxInt32
