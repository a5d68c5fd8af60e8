package graph

// SetOpShareHook has f called each time a request joins an identical
// operation's execution in flight, until restore is called.
func SetOpShareHook(f func()) (restore func()) {
	old := opShareJoined
	opShareJoined = f
	return func() { opShareJoined = old }
}
