package graph

// SetOpShareHook has f told "join" each time a request joins an identical
// operation's execution in flight and "leave" each time one stops waiting,
// until restore is called.
func SetOpShareHook(f func(event string)) (restore func()) {
	old := opShareEvent
	opShareEvent = f
	return func() { opShareEvent = old }
}
