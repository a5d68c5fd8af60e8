package graph

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/salesgraph/salesgraph/graph/model"
	"github.com/salesgraph/salesgraph/restclient"
)

// TestADeclarationCannotReuseAnotherListsFacts: a list declared by
// copying another's line and forgetting to change it would share that
// list's cursors (a cursor of one accepted by the other), its field or its
// metrics; the process refuses to start instead.
func TestADeclarationCannotReuseAnotherListsFacts(t *testing.T) {
	n := len(lists)
	for name, declareAgain := range map[string]func(){
		"cursor kind": func() { declare(threadsList.kind, "User.other", restclient.Threads, model.NewThreads) },
		"field":       func() { declare(99, "User.threads", restclient.Threads, model.NewThreads) },
		"list":        func() { declare(99, "User.other", restclient.Threads, model.NewThreads) },
		"kind 0":      func() { declare(0, "User.other", restclient.Meetings, model.NewMeetings) },
	} {
		assert.Panics(t, declareAgain, name)
	}
	assert.Len(t, lists, n, "nothing was declared")
}

// TestCursorsAreWhatTheyWere: a cursor's first byte is the kind its list
// declares, and the rest is as before lists were declared (meetings 1,
// threads 2): cursors clients hold, and those of replicas not yet
// upgraded, stay valid. The expected cursors were issued by main at
// 4a32a39 with this secret.
func TestCursorsAreWhatTheyWere(t *testing.T) {
	c := newCursorCodec([]byte("cursor-secret-for-tests-32-bytes"), 500)
	meetings := c.cursor(meetingsList.info(), cursorPos{user: 7, index: 3})
	threads := c.cursor(threadsList.info(), cursorPos{user: 7, index: 29, perPage: 20, total: 45})
	assert.Equal(t, "AQcDz-kc2e0OaD37EIkq2uGwJQ", meetings)
	assert.Equal(t, "AgcdFC3sful8EorH6Fs4RBgGfTCJ", threads)
	p, err := c.decode(threads, "after", threadsList.info(), 7)
	assert.NoError(t, err)
	assert.Equal(t, cursorPos{user: 7, index: 29, perPage: 20, total: 45}, p)
}
