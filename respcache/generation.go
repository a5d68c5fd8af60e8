package respcache

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// This file keeps a credential the upstream refused (401, 403) from being
// served anything it cached, on any path, in either tier, on any replica
// ([Cache.Revoke]).
//
// Each credential (the headers a request sent, Key.credential) has a
// generation, a random value that a refusal does away with. An entry
// records the generation its credential had when its request was looked
// up, before it was sent, and is served only while the credential still
// has it. So a refusal makes every entry of the credential unservable at
// once, wherever it is, and so is an answer fetched before the refusal but
// stored after it. Nothing is deleted entry by entry: the entries expire
// in their time, or the process tier's LRU evicts them first.
//
// With Redis, the generations live there, beside the entries, and Redis is
// the authority. Every lookup, a process-tier hit included, reads the
// credential's generation in the same round trip as the entry (a pipeline
// that creates the generation if it is absent, then reads it), and a
// refusal deletes it. An absent generation never means "not refused": a
// new one is made, so an entry whose generation was deleted, expired or
// evicted is never served again. A new generation lives pendingGenTTL
// until the first answer stored under it extends it to the longest an
// entry lives, so that a flood of made-up credentials costs Redis little.
//
// An epoch, one key, is the first half of every generation: deleting it
// disowns every entry at once. That makes good the refusals this process
// could not delete from Redis (while Redis was unreachable) once they are
// more than it remembers (maxPending).
//
// The process remembers the last generation it learnt of each credential
// (a bounded LRU). Without Redis it is the authority; while Redis is
// unreachable it stands in, and then only fresh entries are served:
// another replica may have seen a refusal that this one cannot learn of,
// and a stale answer must never follow a refusal.

// A generation is an epoch (8 bytes) then the credential's own value (8
// bytes). The zero value is none: no entry has it. A generation made by
// the process alone has a zero epoch and is never written to Redis.
type generation [16]byte

func (g generation) none() bool { return g == generation{} }

// local reports a generation made by the process while Redis could not be
// asked: entries with it are kept in the process only.
func (g generation) local() bool { return [8]byte(g[:8]) == [8]byte{} }

// randomHalf is a random non-zero half of a generation. Uniqueness is all
// it needs: Redis's values are not the caller's to choose.
func randomHalf() [8]byte {
	var b [8]byte
	for b == [8]byte{} {
		binary.BigEndian.PutUint64(b[:], rand.Uint64())
	}
	return b
}

const (
	// bytesPerKnown sizes what the process remembers of credentials by
	// the process tier: one credential per 4 KiB of it (16,384 for the
	// default 64 MiB, about 3.4 MB), a few of its entries each, and
	// minKnown at least. A credential it forgets has its entries in
	// process served no more: a lost hit, not a risk.
	bytesPerKnown = 4 << 10
	minKnown      = 1024
	// maxPending bounds the refusals waiting for Redis; past it the epoch
	// is deleted instead.
	maxPending = 1 << 16
	// pendingGenTTL is how long a generation lives in Redis before an
	// answer is stored under it: longer than a call, retries included,
	// usually takes. A call that takes longer stores an entry that is
	// not served: a lost hit, not a risk.
	pendingGenTTL = time.Minute
)

// generations is the process's side: what it knows of each credential's
// generation, and the refusals Redis has not heard of.
type generations struct {
	mu sync.Mutex
	// known holds, per credential, the generation last learnt or made,
	// or, after a refusal, the number of that refusal (revoked).
	known *simplelru.LRU[credential, known]
	// refusals counts the refusals, so that a generation read from Redis
	// before one is not learnt after it.
	refusals uint64
	pending  map[credential]bool
	lost     bool // refusals were dropped from pending: delete the epoch
}

type known struct {
	gen     generation // none after a refusal
	revoked uint64     // the refusal's number; 0 if none
}

func newGenerations(processBytes int64) *generations {
	l, _ := simplelru.NewLRU[credential, known](int(max(processBytes/bytesPerKnown, minKnown)), nil)
	return &generations{known: l, pending: map[credential]bool{}}
}

// mark is the number of refusals so far, taken before Redis is asked.
func (g *generations) mark() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusals
}

// learn records gen, read from Redis, unless the credential was refused
// after mark was taken: the value read may predate the refusal.
func (g *generations) learn(c credential, gen generation, mark uint64) {
	if gen.none() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if k, ok := g.known.Peek(c); ok && k.revoked > mark {
		return
	}
	g.known.Add(c, known{gen: gen})
}

// own returns the generation the process holds for c, making one if it
// holds none (never learnt, forgotten, or refused).
func (g *generations) own(c credential) generation {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k, ok := g.known.Get(c); ok && !k.gen.none() {
		return k.gen
	}
	var gen generation
	half := randomHalf()
	copy(gen[8:], half[:])
	g.known.Add(c, known{gen: gen})
	return gen
}

// current returns what the process holds for c, without making anything.
func (g *generations) current(c credential) generation {
	g.mu.Lock()
	defer g.mu.Unlock()
	k, _ := g.known.Peek(c)
	return k.gen
}

// revoke forgets c's generation and, if Redis must hear of it and cannot
// now, keeps the refusal for later.
func (g *generations) revoke(c credential) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refusals++
	g.known.Add(c, known{revoked: g.refusals})
}

func (g *generations) addPending(c credential) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) >= maxPending {
		clear(g.pending)
		g.lost = true
	}
	g.pending[c] = true
}

// pendingNow returns the refusals Redis has not heard of, and whether
// some were lost, for the next call to send; they stay pending until
// sent returns.
func (g *generations) pendingNow() ([]credential, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) == 0 && !g.lost {
		return nil, false
	}
	out := make([]credential, 0, len(g.pending))
	for c := range g.pending {
		out = append(out, c)
	}
	return out, g.lost
}

// sent drops what a successful Redis call carried from pending.
func (g *generations) sent(cs []credential, lost bool) {
	if len(cs) == 0 && !lost {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range cs {
		delete(g.pending, c)
	}
	if lost {
		g.lost = false
	}
}

func (c *Cache) genKey(cr credential) string { return c.prefix + "cred:" + hex.EncodeToString(cr[:]) }

func (c *Cache) epochKey() string { return c.prefix + "epoch" }

// genTTL is how long a generation lives once an answer is stored under it:
// as long as any entry may.
func (c *Cache) genTTL() time.Duration { return max(c.maxTTL+c.stale, pendingGenTTL) }

// Revoke makes sure that nothing key's credential cached, on any path, is
// served again, by this process or, through Redis, by any replica sharing
// it: call it when the upstream refuses the credential (401, 403). If
// Redis cannot be told now, it is told by the next call that reaches it;
// meanwhile this process serves the credential nothing cached, and other
// replicas nothing stale.
func (c *Cache) Revoke(ctx context.Context, key Key) {
	c.gens.revoke(key.credential)
	callNone(c.hooks.Revoke)
	if c.rdb == nil {
		return
	}
	if c.health.Skip() {
		c.gens.addPending(key.credential)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.rdb.Del(ctx, c.genKey(key.credential)).Err(); err != nil {
		c.gens.addPending(key.credential)
		c.failed("del", err)
		return
	}
	c.health.Succeeded()
}
