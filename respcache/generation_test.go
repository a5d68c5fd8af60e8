package respcache

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/internal/redistest"
	"github.com/salesgraph/salesgraph/redisconn"
)

// TestTooManyPendingRefusalsDisownEverything: when more refusals wait for
// Redis than the process remembers, the next call that reaches Redis
// deletes the epoch, so that no replica serves any entry stored before.
func TestTooManyPendingRefusalsDisownEverything(t *testing.T) {
	rs := redistest.Start(t)
	rdb, err := redisconn.New(rs.URL, redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c, err := New(Options{TTL: time.Minute, Redis: rdb, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keyer := NewRandomKeyer()
	r, _ := http.NewRequest(http.MethodGet, "http://crm.example/api/v1/users/1/meetings", nil)
	key := keyer.Key(r)
	if stored, _ := c.Store(ctx, c.Lookup(ctx, key), Entry{Status: 200, Body: []byte(`{}`)}); !stored || !c.Lookup(ctx, key).Fresh {
		t.Fatal("not cached")
	}
	for i := range maxPending + 1 {
		var cr credential
		binary.BigEndian.PutUint64(cr[:], uint64(i))
		c.gens.addPending(cr)
	}
	if _, lost := c.gens.pendingNow(); !lost {
		t.Fatal("the overflow was not noted")
	}
	if c.Lookup(ctx, key).Found {
		t.Error("an entry stored before lost refusals was served")
	}
	if cs, lost := c.gens.pendingNow(); len(cs) != 0 || lost {
		t.Errorf("after a call reached Redis: %d pending, lost %v", len(cs), lost)
	}
}
