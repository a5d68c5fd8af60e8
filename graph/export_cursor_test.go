package graph

// SignThreadCursor returns a thread cursor authenticated with secret, as a
// facade configured with that CursorSecret and MaxThreadPages would issue
// it, so that tests can build authentic cursors the facade never issued.
func SignThreadCursor(secret []byte, user int64, index, perPage, total int) string {
	return newCursorCodec(secret, 500).cursor(threadsList.info(), cursorPos{user: user, index: index, perPage: perPage, total: total})
}
