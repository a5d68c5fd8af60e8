package graph

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
	"golang.org/x/sync/semaphore"
)

// Upstream is what the resolvers need from the REST API. *restclient.Client
// implements it; tests may wrap it.
type Upstream interface {
	UserMeetings(ctx context.Context, userID int64) ([]restclient.Meeting, error)
	UserThreads(ctx context.Context, userID int64, page int) (*restclient.Page[restclient.Thread], error)
}

// pageKey names one upstream page of a user's threads.
type pageKey struct {
	User int64
	Page int
}

// userMeetings is one user's meetings, converted once per request, with the
// index Thread.meetings needs, built the first time it is.
type userMeetings struct {
	list []*model.Meeting

	indexOnce sync.Once
	byThread  map[string][]*model.Meeting
}

// ofThread are the meetings of the thread with the given id, in list order.
func (u *userMeetings) ofThread(id string) []*model.Meeting {
	u.indexOnce.Do(func() {
		u.byThread = make(map[string][]*model.Meeting)
		for _, m := range u.list {
			if m.ThreadID != nil {
				u.byThread[*m.ThreadID] = append(u.byThread[*m.ThreadID], m)
			}
		}
	})
	return u.byThread[id]
}

// threadPage is one upstream page of a user's threads.
type threadPage struct {
	threads    []*model.Thread
	pagination restclient.Pagination
}

// userThreads is every thread of one user, indexed for Meeting.thread.
type userThreads struct {
	byID map[string]*model.Thread
}

// Loaders are the per-request dataloaders. Every upstream call an operation
// makes goes through them, so an operation asks for each distinct
// (endpoint, user, page) exactly once, whatever the nesting. A loader's
// values are futures (see future): the dataloader gathers and caches keys,
// and each key's result reaches its resolvers when its own call ends.
type Loaders struct {
	up       Upstream
	limit    *semaphore.Weighted // per operation
	global   *semaphore.Weighted // shared by every operation of the handler
	maxPages int
	// guard is the call budget and the bounds' sizes (resilience.go):
	// ownGuard, or the request's when the loaders are one operation's of a
	// batch, which shares one budget.
	guard    *opGuard
	ownGuard opGuard
	// outOfTime says that the operation's deadline had passed before it
	// began (withOperationDeadline): every call is refused.
	outOfTime  bool
	meetings   func() *dataloader.Loader[int64, *future[*userMeetings]]
	pages      func() *dataloader.Loader[pageKey, *future[*threadPage]]
	allThreads func() *dataloader.Loader[int64, *future[*userThreads]]
	// made says which of the three were made, for release.
	made [3]atomic.Bool
}

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
		limit:    semaphore.NewWeighted(cfg.perRequest),
		global:   cfg.global,
		maxPages: cfg.maxPages,
	}
	l.guard = &l.ownGuard
	if budget != nil {
		l.guard, l.outOfTime = budget.guard, budget.outOfTime
	}
	l.ownGuard.configure(cfg)
	// The REST API has no batch endpoints, so batching buys nothing on the
	// wire; the short wait only gathers the keys of one resolver wave so that
	// their calls leave together. The cache is what guarantees one call per key.
	// Each loader is made the first time it is used: most operations need
	// one kind of list, and some none.
	l.meetings = sync.OnceValue(func() *dataloader.Loader[int64, *future[*userMeetings]] {
		l.made[0].Store(true)
		return dataloader.NewBatchedLoader(startEach(cfg, "meetings", l.admit, l.loadMeetings),
			dataloader.WithWait[int64, *future[*userMeetings]](cfg.wait),
			dataloader.WithCache(loaderCache[int64, *future[*userMeetings]](cfg, "meetings")))
	})
	l.pages = sync.OnceValue(func() *dataloader.Loader[pageKey, *future[*threadPage]] {
		l.made[1].Store(true)
		return dataloader.NewBatchedLoader(startEach(cfg, "threadPages", l.admit, l.loadPage),
			dataloader.WithWait[pageKey, *future[*threadPage]](cfg.wait),
			dataloader.WithCache(loaderCache[pageKey, *future[*threadPage]](cfg, "threadPages")))
	})
	l.allThreads = sync.OnceValue(func() *dataloader.Loader[int64, *future[*userThreads]] {
		l.made[2].Store(true)
		return dataloader.NewBatchedLoader(startEach(cfg, "allThreads", nil, l.loadAllThreads),
			dataloader.WithWait[int64, *future[*userThreads]](cfg.wait),
			dataloader.WithCache(loaderCache[int64, *future[*userThreads]](cfg, "allThreads")))
	})
	return l
}

// release drops what the loaders cached: the upstream records, which are
// garbage once the operation's data is marshalled (see recordsRelease).
// A later load would call the upstream again.
func (l *Loaders) release() {
	if l.made[0].Load() {
		l.meetings().ClearAll()
	}
	if l.made[1].Load() {
		l.pages().ClearAll()
	}
	if l.made[2].Load() {
		l.allThreads().ClearAll()
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
// the response holds is bounded by the response memory budget.
type recordsRelease struct{}

var (
	_ graphql.HandlerExtension    = recordsRelease{}
	_ graphql.ResponseInterceptor = recordsRelease{}
)

func (recordsRelease) ExtensionName() string                   { return "RecordsRelease" }
func (recordsRelease) Validate(graphql.ExecutableSchema) error { return nil }

func (recordsRelease) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
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

// loadMeetings is one user's meetings call.
func (l *Loaders) loadMeetings(ctx context.Context, user int64) (*userMeetings, error) {
	var raw []restclient.Meeting
	err := l.call(ctx, func(ctx context.Context) (err error) {
		raw, err = l.up.UserMeetings(ctx, user)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &userMeetings{list: model.NewMeetings(user, raw)}, nil
}

// loadPage is one call for a page of a user's threads.
func (l *Loaders) loadPage(ctx context.Context, k pageKey) (*threadPage, error) {
	var raw *restclient.Page[restclient.Thread]
	err := l.call(ctx, func(ctx context.Context) (err error) {
		raw, err = l.up.UserThreads(ctx, k.User, k.Page)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &threadPage{pagination: raw.Pagination, threads: make([]*model.Thread, len(raw.List))}
	for i := range raw.List {
		out.threads[i] = model.NewThread(k.User, &raw.List[i])
	}
	return out, nil
}

// loadAllThreads joins a user's pages with restclient.FollowPages, the
// client's own all-pages path with its page-count limit and consistency
// checks, fetching each page through the page loader: pages a connection or
// a lookup already asked for (page 1 above all, which the look-ahead starts
// early) are not fetched again, and vice versa. The page loader's admission
// bounds the calls' concurrency, so FollowPages adds none of its own.
func (l *Loaders) loadAllThreads(ctx context.Context, user int64) (*userThreads, error) {
	// Pages load under the operation's ctx, not the one FollowPages
	// passes (which ends at its first failed page, and when it
	// returns): the loader shares a page with the operation's other
	// fields, batch and cache, so it must not be cut short for them,
	// nor kept in the cache as cancelled.
	page := func(_ context.Context, n int) (restclient.Page[*model.Thread], error) {
		p, err := l.ThreadPage(ctx, user, n)
		if err != nil {
			return restclient.Page[*model.Thread]{}, err
		}
		return restclient.Page[*model.Thread]{List: p.threads, Pagination: p.pagination}, nil
	}
	first, err := page(ctx, 1)
	if err != nil {
		return nil, err
	}
	list, err := restclient.FollowPages(ctx, restclient.EndpointUserThreads, user, first, l.maxPages, l.maxPages, page)
	if err != nil {
		return nil, err
	}
	out := &userThreads{byID: make(map[string]*model.Thread, len(list))}
	for _, t := range list {
		if _, dup := out.byID[t.ID]; !dup {
			out.byID[t.ID] = t
		}
	}
	return out, nil
}

// Meetings returns a user's meetings.
func (l *Loaders) Meetings(ctx context.Context, user int64) (*userMeetings, error) {
	return await(l.meetings().Load(ctx, user))
}

// ThreadPage returns one upstream page of a user's threads.
func (l *Loaders) ThreadPage(ctx context.Context, user int64, page int) (*threadPage, error) {
	return await(l.pages().Load(ctx, pageKey{User: user, Page: page}))
}

// ThreadPages returns several pages of a user's threads, fetched together:
// every page is asked for before any is waited for, so they join one batch.
// The first failed page, in page order, is the error.
func (l *Loaders) ThreadPages(ctx context.Context, user int64, pages []int) ([]*threadPage, error) {
	thunks := make([]dataloader.Thunk[*future[*threadPage]], len(pages))
	for i, p := range pages {
		thunks[i] = l.pages().Load(ctx, pageKey{User: user, Page: p})
	}
	out := make([]*threadPage, len(pages))
	for i, thunk := range thunks {
		p, err := await(thunk)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// AllThreads returns every thread of a user.
func (l *Loaders) AllThreads(ctx context.Context, user int64) (*userThreads, error) {
	return await(l.allThreads().Load(ctx, user))
}

// prefetchMeetings starts loading a user's meetings without waiting, so the
// call leaves in the current wave.
func (l *Loaders) prefetchMeetings(ctx context.Context, user int64) { l.meetings().Load(ctx, user) }

// prefetchThreadPage starts loading one page of a user's threads without waiting.
func (l *Loaders) prefetchThreadPage(ctx context.Context, user int64, page int) {
	l.pages().Load(ctx, pageKey{User: user, Page: page})
}
