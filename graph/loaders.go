package graph

import (
	"context"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
	"golang.org/x/sync/semaphore"
)

// Upstream is what the resolvers need from the REST API. *restclient.Client
// implements it; tests may wrap it.
type Upstream interface {
	UserMeetings(ctx context.Context, userID int64) ([]restclient.Meeting, error)
	UserThreads(ctx context.Context, userID int64, page int) (*restclient.ThreadPage, error)
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
// (endpoint, user, page) exactly once, whatever the nesting.
type Loaders struct {
	up         Upstream
	limit      *semaphore.Weighted // per operation
	global     *semaphore.Weighted // shared by every operation of the handler
	maxPages   int
	guard      opGuard // the call budget and the bounds' sizes (resilience.go)
	meetings   *dataloader.Loader[int64, *userMeetings]
	pages      *dataloader.Loader[pageKey, *threadPage]
	allThreads *dataloader.Loader[int64, *userThreads]
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
	l := &Loaders{
		up:       cfg.up,
		limit:    semaphore.NewWeighted(cfg.perRequest),
		global:   cfg.global,
		maxPages: cfg.maxPages,
	}
	l.guard.configure(cfg)
	// The REST API has no batch endpoints, so batching buys nothing on the
	// wire; the short wait only gathers the keys of one resolver wave so that
	// their calls leave together. The cache is what guarantees one call per key.
	l.meetings = dataloader.NewBatchedLoader(observeBatch(cfg, "meetings", l.loadMeetings),
		dataloader.WithWait[int64, *userMeetings](cfg.wait), dataloader.WithCache(loaderCache[int64, *userMeetings](cfg, "meetings")))
	l.pages = dataloader.NewBatchedLoader(observeBatch(cfg, "threadPages", l.loadPages),
		dataloader.WithWait[pageKey, *threadPage](cfg.wait), dataloader.WithCache(loaderCache[pageKey, *threadPage](cfg, "threadPages")))
	l.allThreads = dataloader.NewBatchedLoader(observeBatch(cfg, "allThreads", l.loadAllThreads),
		dataloader.WithWait[int64, *userThreads](cfg.wait), dataloader.WithCache(loaderCache[int64, *userThreads](cfg, "allThreads")))
	return l
}

func observeBatch[K comparable, V any](cfg *loaderConfig, name string, fn dataloader.BatchFunc[K, V]) dataloader.BatchFunc[K, V] {
	if cfg.onBatch == nil {
		return fn
	}
	return func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		ctx, done := cfg.onBatch(ctx, name, len(keys))
		defer done()
		return fn(ctx, keys)
	}
}

// call runs one upstream call within the operation's call budget and the
// per-operation and global concurrency bounds (admit, resilience.go),
// recovering a panic into an error so that one bad record cannot take the
// batch (or the process) down.
func (l *Loaders) call(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	release, err := l.admit(ctx)
	if err != nil {
		return err
	}
	defer release()
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	return observedCall(ctx, fn) // counts and logs the call (observe.go)
}

// fanOut runs one function per key concurrently and returns the results in
// key order, as the dataloader contract requires.
func fanOut[K comparable, V any](ctx context.Context, keys []K, fn func(context.Context, K) (V, error)) []*dataloader.Result[V] {
	results := make([]*dataloader.Result[V], len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					results[i] = &dataloader.Result[V]{Error: newPanicError(r)}
				}
			}()
			v, err := fn(ctx, k)
			results[i] = &dataloader.Result[V]{Data: v, Error: err}
		})
	}
	wg.Wait()
	return results
}

func (l *Loaders) loadMeetings(ctx context.Context, users []int64) []*dataloader.Result[*userMeetings] {
	return fanOut(ctx, users, func(ctx context.Context, user int64) (*userMeetings, error) {
		var raw []restclient.Meeting
		err := l.call(ctx, func(ctx context.Context) (err error) {
			raw, err = l.up.UserMeetings(ctx, user)
			return err
		})
		if err != nil {
			return nil, err
		}
		return &userMeetings{list: model.NewMeetings(user, raw)}, nil
	})
}

func (l *Loaders) loadPages(ctx context.Context, keys []pageKey) []*dataloader.Result[*threadPage] {
	return fanOut(ctx, keys, func(ctx context.Context, k pageKey) (*threadPage, error) {
		var raw *restclient.ThreadPage
		err := l.call(ctx, func(ctx context.Context) (err error) {
			raw, err = l.up.UserThreads(ctx, k.User, k.Page)
			return err
		})
		if err != nil {
			return nil, err
		}
		out := &threadPage{pagination: raw.Pagination, threads: make([]*model.Thread, len(raw.Threads))}
		for i := range raw.Threads {
			out.threads[i] = model.NewThread(k.User, &raw.Threads[i])
		}
		return out, nil
	})
}

// loadAllThreads joins a user's pages with restclient.FollowPages, the
// client's own all-pages path with its page-count limit and consistency
// checks, fetching each page through the page loader: pages a connection or
// a lookup already asked for (page 1 above all, which the look-ahead starts
// early) are not fetched again, and vice versa. The page loader's admission
// bounds the calls' concurrency, so FollowPages adds none of its own.
func (l *Loaders) loadAllThreads(ctx context.Context, users []int64) []*dataloader.Result[*userThreads] {
	return fanOut(ctx, users, func(ctx context.Context, user int64) (*userThreads, error) {
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
	})
}

// Meetings returns a user's meetings.
func (l *Loaders) Meetings(ctx context.Context, user int64) (*userMeetings, error) {
	return l.meetings.Load(ctx, user)()
}

// ThreadPage returns one upstream page of a user's threads.
func (l *Loaders) ThreadPage(ctx context.Context, user int64, page int) (*threadPage, error) {
	return l.pages.Load(ctx, pageKey{User: user, Page: page})()
}

// ThreadPages returns several pages of a user's threads, fetched together.
func (l *Loaders) ThreadPages(ctx context.Context, user int64, pages []int) ([]*threadPage, error) {
	keys := make([]pageKey, len(pages))
	for i, p := range pages {
		keys[i] = pageKey{User: user, Page: p}
	}
	out, errs := l.pages.LoadMany(ctx, keys)()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AllThreads returns every thread of a user.
func (l *Loaders) AllThreads(ctx context.Context, user int64) (*userThreads, error) {
	return l.allThreads.Load(ctx, user)()
}

// prefetchMeetings starts loading a user's meetings without waiting, so the
// call leaves in the current wave.
func (l *Loaders) prefetchMeetings(ctx context.Context, user int64) { l.meetings.Load(ctx, user) }

// prefetchThreadPage starts loading one page of a user's threads without waiting.
func (l *Loaders) prefetchThreadPage(ctx context.Context, user int64, page int) {
	l.pages.Load(ctx, pageKey{User: user, Page: page})
}
