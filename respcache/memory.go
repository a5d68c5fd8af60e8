package respcache

import (
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// memory is the in-process tier: an LRU bounded by the bytes its entries
// hold rather than by their number, since one threads page can weigh as
// much as a hundred small answers.
type memory struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[Key, *Entry]
	bytes int64
	max   int64
}

func newMemory(maxBytes int64) *memory {
	m := &memory{max: maxBytes}
	// The count bound is never reached; eviction is by bytes, in add.
	m.lru, _ = simplelru.NewLRU[Key, *Entry](math.MaxInt, func(_ Key, e *Entry) {
		m.bytes -= e.size()
	})
	return m
}

func (m *memory) get(k Key) (*Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Get(k)
}

// add stores e under k, evicting the least recently used entries until the
// total fits. The caller has checked that e alone fits.
func (m *memory) add(k Key, e *Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(k) // Add would replace without telling the eviction callback
	m.lru.Add(k, e)
	m.bytes += e.size()
	for m.bytes > m.max {
		if _, _, ok := m.lru.RemoveOldest(); !ok {
			break
		}
	}
}

func (m *memory) remove(k Key) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(k)
}

// usage reports the entries and the bytes held.
func (m *memory) usage() (entries int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len(), m.bytes
}
