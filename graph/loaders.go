package graph

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/salesgraph/salesgraph/restclient"
	"golang.org/x/sync/semaphore"
)

// pageKey names one upstream page of a user's paged list.
type pageKey struct {
	User int64
	Page int
}

// listPage is one upstream page of a user's list (all of it, for a list
// the upstream answers whole, or a paged list's pages joined), its
// records converted once per request.
type listPage[N any] struct {
	nodes []*N
	// pagination is the upstream page's, which the page keeps; nil for a
	// paged list's pages joined, which are all there is. It and index,
	// what pageIndex built, are pointers, so that a page takes 48 bytes
	// (most are never indexed).
	pagination *restclient.Pagination
	index      atomic.Pointer[struct{ v any }]
}

// pageIndex is page p of list ll's nodes indexed as build indexes them,
// built the first time it is asked for (Thread.meetings looks meetings up
// by thread, Meeting.thread threads by id), once even when the resolvers
// of a whole list ask at once. A list is looked up by one index; asking a
// page for another type of index panics.
func pageIndex[T, N, I any](ll *listLoads[T, N], p *listPage[N], build func([]*N) I) I {
	if x := p.index.Load(); x != nil {
		return x.v.(I)
	}
	ll.indexing.Lock()
	defer ll.indexing.Unlock()
	if x := p.index.Load(); x != nil {
		return x.v.(I)
	}
	x := &struct{ v any }{build(p.nodes)}
	p.index.Store(x)
	return x.v.(I)
}

// Loaders are the per-request dataloaders. Every upstream call an operation
// makes goes through them, so an operation asks for each distinct
// (list, user, page) exactly once, whatever the nesting. A loader's
// values are futures (see future): the dataloader gathers and caches keys,
// and each key's result reaches its resolvers when its own call ends.
type Loaders struct {
	up       Upstream
	cfg      *loaderConfig
	limit    *semaphore.Weighted // per operation
	global   *semaphore.Weighted // shared by every operation of the handler
	maxPages int
	// guard is the call budget and the bounds' sizes (resilience.go):
	// ownGuard, or the request's when the loaders are one operation's of a
	// batch, which shares one budget.
	guard    *opGuard
	ownGuard opGuard
	// made counts the upstream calls these loaders started (admit), for
	// the operation's actual cost (costreport.go).
	made atomic.Int64
	// outOfTime says that the operation's deadline had passed before it
	// began (withOperationDeadline): every call is refused.
	outOfTime bool
	// lists are each list's loaders (listLoads), by the list's index,
	// made the first time they are used: most operations need one kind
	// of list, and some none.
	lists []listSlot
}

type listSlot struct {
	once   sync.Once
	made   atomic.Bool // for release
	loader listLoader
}

// listLoader is one list's loaders for one operation, a *listLoads.
type listLoader interface{ release() }

// loaderConfig is what every request's loaders share.
type loaderConfig struct {
	up         Upstream
	global     *semaphore.Weighted
	perRequest int64
	wait       time.Duration
	maxPages   int
	// globalLimit is global's size and maxCalls the upstream calls one
	// operation may make (0: no budget), for resilience.go.
	globalLimit int
	maxCalls    int
	// onBatch, when set, is called as a batch starts: the batch runs with
	// the context it returns (a span's) and calls done when it ends.
	onBatch func(ctx context.Context, loader string, n int) (_ context.Context, done func())
	// onCache, when set, gives each loader cache the function it tells of
	// every lookup.
	onCache func(cache string) (lookup func(hit bool))
}

func newLoaders(cfg *loaderConfig) *Loaders {
	return newLoadersSharing(cfg, nil)
}

// newLoadersSharing is newLoaders whose calls count against the budget of
// budget's loaders, when not nil.
func newLoadersSharing(cfg *loaderConfig, budget *Loaders) *Loaders {
	l := &Loaders{
		up:       cfg.up,
		cfg:      cfg,
		limit:    semaphore.NewWeighted(cfg.perRequest),
		global:   cfg.global,
		maxPages: cfg.maxPages,
		lists:    make([]listSlot, len(lists)),
	}
	l.guard = &l.ownGuard
	if budget != nil {
		l.guard, l.outOfTime = budget.guard, budget.outOfTime
	}
	l.ownGuard.configure(cfg)
	return l
}

// listLoads are one list's loaders for one operation: a paged list's pages
// and the list joined, or the one call of a list the upstream answers
// whole. The REST API has no batch endpoints, so batching buys nothing on
// the wire; the short wait only gathers the keys of one resolver wave so
// that their calls leave together. The cache is what guarantees one call
// per key.
type listLoads[T, N any] struct {
	l     *Loaders
	d     *upstreamList[T, N]
	pages *dataloader.Loader[pageKey, *future[*listPage[N]]] // nil for a list answered whole
	// indexing guards the building of the list's pages' indexes.
	indexing sync.Mutex

	// all, by user, is made the first time it is used: a whole list's
	// calls, or a paged list's pages joined, which only a lookup beyond
	// page 1 needs.
	allOnce sync.Once
	allMade atomic.Bool
	all     *dataloader.Loader[int64, *future[*listPage[N]]]
}

// loadsOf is list d's loaders in l.
func loadsOf[T, N any](l *Loaders, d *upstreamList[T, N]) *listLoads[T, N] {
	s := &l.lists[d.index]
	s.once.Do(func() {
		s.loader = d.newLoader(l)
		s.made.Store(true)
	})
	return s.loader.(*listLoads[T, N])
}

func (d *upstreamList[T, N]) newLoader(l *Loaders) listLoader {
	ll := &listLoads[T, N]{l: l, d: d}
	if d.paged {
		ll.pages = dataloader.NewBatchedLoader(startEach(l.cfg, d.pagesLoader, l.admit, ll.loadPage),
			dataloader.WithWait[pageKey, *future[*listPage[N]]](l.cfg.wait),
			dataloader.WithCache(loaderCache[pageKey, *future[*listPage[N]]](l.cfg, d.pagesLoader)))
	}
	return ll
}

func (d *upstreamList[T, N]) prefetch(ctx context.Context, l *Loaders, user int64) {
	ll := loadsOf(l, d)
	if d.paged {
		ll.pages.Load(ctx, pageKey{User: user, Page: 1})
	} else {
		ll.allLoader().Load(ctx, user)
	}
}

func (d *upstreamList[T, N]) settle(ctx context.Context, r *Resolver, l *Loaders, user int64, args map[string]any) (rest func()) {
	ll := loadsOf(l, d)
	switch {
	case !d.paged || args != nil && filtered(args):
		_, _ = ll.whole(ctx, user) // what the connection reads
		return nil
	case args == nil:
		_, _ = ll.page(ctx, user, 1)
		return nil
	}
	w, err := windowOf(r.cursors, d.info(), user, args)
	if err != nil {
		return nil // the field reports it
	}
	p1, err := ll.page(ctx, user, 1)
	if err != nil || w.anchor() != nil {
		return nil
	}
	// The window's other pages, as loadWindow plans them from page 1:
	// started now, so that every user's go out together, and waited for
	// by rest.
	perPage, total, pagesCount := p1.shape()
	offset, n, count := windowSpan(w, perPage, total, pagesCount)
	if n == 0 {
		return nil
	}
	pages := pageSpan(offset, n, perPage, count)
	if len(pages) == 1 && pages[0] == 1 {
		return nil
	}
	for _, p := range pages {
		ll.pages.Load(ctx, pageKey{User: user, Page: p})
	}
	return func() { _, _, _, _ = loadWindow(ctx, ll, user, w) }
}

// allLoader is the loader of whole lists by user (all).
func (ll *listLoads[T, N]) allLoader() *dataloader.Loader[int64, *future[*listPage[N]]] {
	ll.allOnce.Do(func() {
		cfg := ll.l.cfg
		// A paged list's pages joined make no call of their own: the
		// pages' loader admits each.
		admit, load := (func(context.Context) (func(), error))(nil), ll.loadAll
		if !ll.d.paged {
			admit, load = ll.l.admit, ll.loadWhole
		}
		ll.all = dataloader.NewBatchedLoader(startEach(cfg, ll.d.allLoader, admit, load),
			dataloader.WithWait[int64, *future[*listPage[N]]](cfg.wait),
			dataloader.WithCache(loaderCache[int64, *future[*listPage[N]]](cfg, ll.d.allLoader)))
		ll.allMade.Store(true)
	})
	return ll.all
}

func (ll *listLoads[T, N]) release() {
	if ll.pages != nil {
		ll.pages.ClearAll()
	}
	if ll.allMade.Load() {
		ll.all.ClearAll()
	}
}

// release drops what the loaders cached: the upstream records, which are
// garbage once the operation's data is marshalled (see recordsRelease).
// A later load would call the upstream again.
func (l *Loaders) release() {
	for i := range l.lists {
		if s := &l.lists[i]; s.made.Load() {
			s.loader.release()
		}
	}
}

// bodyHolds are the holds on the body budget (restclient.WithBodyHold) of
// one request's operations, each released once its response is
// marshalled (recordsRelease), and all of them when the request ends at
// the latest, so that none is ever kept.
type bodyHolds struct {
	mu       sync.Mutex
	releases []func()
}

// hold returns ctx with a hold of its own.
func (h *bodyHolds) hold(ctx context.Context) (context.Context, func()) {
	ctx, release := restclient.WithBodyHold(ctx)
	h.mu.Lock()
	h.releases = append(h.releases, release)
	h.mu.Unlock()
	return ctx, release
}

func (h *bodyHolds) releaseAll() {
	h.mu.Lock()
	releases := h.releases
	h.releases = nil
	h.mu.Unlock()
	for _, release := range releases {
		release()
	}
}

// recordsRelease releases an operation's loaders, and the room their
// upstream answers keep in the body budget, once its last payload is
// marshalled. The response is then written, which for a large one to a
// slow client takes a while; the upstream records it was made of (about as
// large as the upstream's answers) need not live that long as well. What
// the response holds is bounded by the response memory budget. It also
// writes the cost report a request asked for (costreport.go).
type recordsRelease struct{ cost costReport }

var (
	_ graphql.HandlerExtension    = recordsRelease{}
	_ graphql.ResponseInterceptor = recordsRelease{}
)

func (recordsRelease) ExtensionName() string                   { return "RecordsRelease" }
func (recordsRelease) Validate(graphql.ExecutableSchema) error { return nil }

func (r recordsRelease) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	r.cost.write(ctx, resp)
	if resp == nil || resp.HasNext == nil || !*resp.HasNext {
		if st, ok := stateFrom(ctx); ok {
			st.loaders.release()
			st.releaseBodies()
		}
	}
	return resp
}

// future is one key's result, ready when done is closed. A dataloader
// batch hands its results over only all at once, when its batch function
// returns, so a batch of calls would keep every key waiting for the
// slowest: the batch function returns futures at once instead, and each
// key's resolvers wait for its own.
type future[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// get waits for the future. It does not also wait for the resolver's
// context: the call runs under the batch's context, the operation's (the
// batch hook rejoins an incrementally delivered operation's), so it ends
// when the operation does, with its own error, which names the endpoint and
// is what the field should report; giving up on the context first would
// race that error away for a bare one.
func (f *future[V]) get() (V, error) {
	<-f.done
	return f.val, f.err
}

// await is a thunk's future, waited for. The thunk's own error is the
// dataloader's (a panic in the batch function, which startEach never lets
// happen, or a result count that does not match its keys).
func await[V any](thunk dataloader.Thunk[*future[V]]) (V, error) {
	f, err := thunk()
	if err != nil {
		var zero V
		return zero, err
	}
	return f.get()
}

// startEach makes a batch function that starts fn for each key of the
// batch, concurrently, and returns their futures at once, in key order as
// the dataloader contract requires. A panic in fn becomes its key's error,
// so that one bad record cannot take the batch (or the process) down.
//
// The batch hook (onBatch) still sees the batch as a whole: it is called
// as the batch starts, its calls run under the context it returns (a span's,
// so they nest under it), and the batch is done, for its span, when the
// last of its keys' calls has ended: before that key's result is handed
// over, so that an operation, which waits for all its keys, never ends
// before its batches' spans do. What changed is only that no other key
// waits for that.
func startEach[K comparable, V any](cfg *loaderConfig, name string, admit func(context.Context) (func(), error), fn func(context.Context, K) (V, error)) dataloader.BatchFunc[K, *future[V]] {
	return func(ctx context.Context, keys []K) []*dataloader.Result[*future[V]] {
		done := func() {}
		if cfg.onBatch != nil {
			ctx, done = cfg.onBatch(ctx, name, len(keys))
		}
		results := make([]*dataloader.Result[*future[V]], len(keys))
		futures := make([]future[V], len(keys))
		for i := range keys {
			futures[i].done = make(chan struct{})
			results[i] = &dataloader.Result[*future[V]]{Data: &futures[i]}
		}
		// Keys are admitted (admit: the call budget and concurrency bounds)
		// one after another by one goroutine per batch, and get a goroutine
		// only once admitted: a goroutine per key mostly waited for a slot,
		// and under load those thousands of waiting stacks were what the
		// garbage collector scanned most. Keys still start in batch order.
		var pending atomic.Int64
		pending.Store(int64(len(keys)))
		deliver := func(f *future[V]) {
			if pending.Add(-1) == 0 {
				done() // the batch's end, before its last result is out
			}
			close(f.done)
		}
		go func() {
			for i, k := range keys {
				f := &futures[i]
				release := func() {}
				if admit != nil {
					r, err := admit(ctx)
					if err != nil {
						f.err = err
						deliver(f)
						continue
					}
					release = r
				}
				go func() {
					defer release()
					runFuture(ctx, f, k, fn)
					deliver(f)
				}()
			}
		}()
		return results
	}
}

// runFuture runs fn for k into f, a panic becoming k's error.
func runFuture[K comparable, V any](ctx context.Context, f *future[V], k K, fn func(context.Context, K) (V, error)) {
	defer func() {
		if r := recover(); r != nil {
			var zero V
			f.val, f.err = zero, newPanicError(r)
		}
	}()
	f.val, f.err = fn(ctx, k)
}

// call runs one upstream call, admitted by its batch (startEach, with
// admit: resilience.go), recovering a panic into an error so that one bad
// record cannot take the batch (or the process) down.
func (l *Loaders) call(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	return observedCall(ctx, fn) // counts and logs the call (observe.go)
}

// loadWhole is the one call for a user's list that the upstream answers
// whole.
func (ll *listLoads[T, N]) loadWhole(ctx context.Context, user int64) (*listPage[N], error) {
	return ll.loadPage(ctx, pageKey{User: user, Page: 1})
}

// loadPage is one call for a page of a user's list (the whole list, for
// one the upstream answers whole).
func (ll *listLoads[T, N]) loadPage(ctx context.Context, k pageKey) (*listPage[N], error) {
	var raw *restclient.Page[T]
	err := ll.l.call(ctx, func(ctx context.Context) error {
		r, err := ll.l.up.UserList(ctx, ll.d.wire, k.User, k.Page)
		if err != nil {
			return err
		}
		raw = r.(*restclient.Page[T]) // the list's own; anything else is a bug, recovered
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &listPage[N]{nodes: ll.d.convert(k.User, raw.List), pagination: &raw.Pagination}, nil
}

// loadAll joins a paged list's pages with restclient.FollowPages, the
// client's own all-pages path with its page-count limit and consistency
// checks, fetching each page through the page loader: pages a connection or
// a lookup already asked for (page 1 above all, which the look-ahead starts
// early) are not fetched again, and vice versa. The page loader's admission
// bounds the calls' concurrency, so FollowPages adds none of its own.
func (ll *listLoads[T, N]) loadAll(ctx context.Context, user int64) (*listPage[N], error) {
	// Pages load under the operation's ctx, not the one FollowPages
	// passes (which ends at its first failed page, and when it
	// returns): the loader shares a page with the operation's other
	// fields, batch and cache, so it must not be cut short for them,
	// nor kept in the cache as cancelled.
	page := func(_ context.Context, n int) (restclient.Page[*N], error) {
		p, err := ll.page(ctx, user, n)
		if err != nil {
			return restclient.Page[*N]{}, err
		}
		return restclient.Page[*N]{List: p.nodes, Pagination: *p.pagination}, nil
	}
	first, err := page(ctx, 1)
	if err != nil {
		return nil, err
	}
	list, err := restclient.FollowPages(ctx, ll.d.Endpoint, user, first, ll.l.maxPages, ll.l.maxPages, page)
	if err != nil {
		return nil, err
	}
	return &listPage[N]{nodes: list}, nil
}

// page returns one upstream page of a user's paged list.
func (ll *listLoads[T, N]) page(ctx context.Context, user int64, page int) (*listPage[N], error) {
	return await(ll.pages.Load(ctx, pageKey{User: user, Page: page}))
}

// pagesOf returns several pages of a user's list, fetched together: every
// page is asked for before any is waited for, so they join one batch. The
// first failed page, in page order, is the error.
func (ll *listLoads[T, N]) pagesOf(ctx context.Context, user int64, pages []int) ([]*listPage[N], error) {
	thunks := make([]dataloader.Thunk[*future[*listPage[N]]], len(pages))
	for i, p := range pages {
		thunks[i] = ll.pages.Load(ctx, pageKey{User: user, Page: p})
	}
	out := make([]*listPage[N], len(pages))
	for i, thunk := range thunks {
		p, err := await(thunk)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// whole returns every record of a user's list: the one answer of a list
// the upstream answers whole, a paged list's pages joined (loadAll).
func (ll *listLoads[T, N]) whole(ctx context.Context, user int64) (*listPage[N], error) {
	return await(ll.allLoader().Load(ctx, user))
}
