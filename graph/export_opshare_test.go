package graph

// SetOpShareHook has f told "join" each time a request joins an identical
// operation's execution in flight, "leave" each time one stops waiting and
// "local" each time one is executed unshared because its operation needs
// no upstream call, until restore is called.
func SetOpShareHook(f func(event string)) (restore func()) {
	old := opShareEvent
	opShareEvent = f
	return func() { opShareEvent = old }
}
