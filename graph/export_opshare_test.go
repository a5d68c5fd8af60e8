package graph

import "time"

// SetOpShareHook has f told "join" each time a request joins an identical
// operation's execution in flight, "leave" each time one stops waiting,
// "alone" each time one that waited executes on its own, and "local" each
// time one is executed unshared because its operation needs no upstream
// call, until restore is called.
func SetOpShareHook(f func(event string)) (restore func()) {
	old := opShareEvent
	opShareEvent = f
	return func() { opShareEvent = old }
}

// SetOpShareClock replaces the clock that dates a shared request's arrival,
// from which its deadline counts, until restore is called.
func SetOpShareClock(now func() time.Time) (restore func()) {
	old := opShareNow
	opShareNow = now
	return func() { opShareNow = old }
}
