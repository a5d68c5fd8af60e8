package graph

import "time"

// SetOpShareHook has f told, by the handler o configures, "join" each time
// a request joins an identical operation's execution in flight, "leave"
// each time one stops waiting, "alone" each time one that waited executes
// on its own, "local" each time one is not shared because its operation
// needs no upstream call, and "memory" each time such a one is answered
// from memory (opcache.go).
func SetOpShareHook(o *Options, f func(event string)) { o.test.opShareEvent = f }

// SetOpShareClock replaces, in the handler o configures, the clock that
// dates a shared request's arrival, from which its deadline counts.
func SetOpShareClock(o *Options, now func() time.Time) { o.test.opShareNow = now }
