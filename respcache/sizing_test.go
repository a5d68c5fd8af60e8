package respcache_test

import (
	"context"
	"strings"
	"testing"

	"github.com/salesgraph/salesgraph/internal/redistest"
	"github.com/salesgraph/salesgraph/respcache"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// TestSizing measures what one user's cached answers cost, with the fake's
// default dataset (12 meetings and 45 threads per user, threads in pages of
// 20), for the sizing note of docs/operators/replicas.md: Redis memory as MEMORY USAGE reports
// it, and the bytes the process tier counts.
func TestSizing(t *testing.T) {
	srv := fakeapi.NewServer()
	defer srv.Close()
	rs := redistest.Start(t)
	a := newReplica(t, srv.URL, rs.URL, options(nil))
	rdb := redisClient(t, rs.URL)
	ctx := context.Background()
	users := int64(len(srv.Dataset().Users))
	var err error

	measure := func(path func(user int64) string) (body, redisMem int64) {
		before := map[string]bool{}
		for k := range entries(allRedis(t, rs.URL)) {
			before[k] = true
		}
		for u := int64(1); u <= users; u++ {
			body += int64(len(a.mustGet(t, path(u), token).Body))
		}
		for k := range entries(allRedis(t, rs.URL)) {
			if before[k] {
				continue
			}
			n, err := rdb.MemoryUsage(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			redisMem += n
		}
		if redisMem < body {
			t.Fatalf("Redis reports %d bytes for %d bytes of bodies", redisMem, body)
		}
		return body / users, redisMem / users
	}
	mBody, mRedis := measure(meetingsPath)
	var tBody, tRedis int64
	for page := 1; page <= 3; page++ {
		b, r := measure(func(u int64) string { return threadsPath(u, page) })
		t.Logf("threads page %d: %d B body, %d B in Redis", page, b, r)
		tBody, tRedis = tBody+b, tRedis+r
	}
	entries, procBytes := a.cache.Usage()
	if entries != int(4*users) {
		t.Fatalf("%d entries in process, want %d", entries, 4*users)
	}
	var genMem int64
	for k := range allRedis(t, rs.URL) {
		if strings.HasPrefix(k, respcache.DefaultPrefix+"cred:") {
			if genMem, err = rdb.MemoryUsage(ctx, k).Result(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("per user, averaged over %d users: meetings answer %d B body, %d B in Redis; "+
		"threads pages 1-3 %d B body, %d B in Redis; all four: %d B in Redis, %d B in process; "+
		"and per credential, its generation: %d B in Redis",
		users, mBody, mRedis, tBody, tRedis, mRedis+tRedis, procBytes/users, genMem)
}
