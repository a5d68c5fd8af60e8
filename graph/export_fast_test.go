package graph

// SetFastPath turns the fast object path (fast.go) on or off, for the test
// that compares its answers with the executor's. Not safe while serving.
func SetFastPath(on bool) (restore func()) {
	old := fastPath
	fastPath = on
	return func() { fastPath = old }
}
