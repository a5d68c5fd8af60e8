package restclient_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// TestRecordsOutliveTheBufferOfTheirBody: the buffer a body was read into
// is reused for later bodies once its records are decoded, so the records
// must keep nothing of it. User 1's meetings and threads are read, then
// other users' bodies are read into the same buffers, and user 1's records
// still hold the dataset's text, field for field.
func TestRecordsOutliveTheBufferOfTheirBody(t *testing.T) {
	fake := fakeapi.NewServer(fakeapi.WithUsers(30))
	t.Cleanup(fake.Close)
	c, err := restclient.New(fake.URL, restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	require.NoError(t, err)
	ctx := context.Background()

	ms, err := c.UserMeetings(ctx, 1)
	require.NoError(t, err)
	ts, err := c.UserThreads(ctx, 1, 1)
	require.NoError(t, err)
	for id := int64(2); id <= 30; id++ {
		_, err := c.UserMeetings(ctx, id)
		require.NoError(t, err)
		_, err = c.UserThreads(ctx, id, 1)
		require.NoError(t, err)
	}

	u, ok := fake.Dataset().User(1)
	require.True(t, ok)
	require.Len(t, ms, len(u.Meetings))
	byID := map[string]fakeapi.Meeting{}
	for _, m := range u.Meetings {
		byID[strconv.FormatInt(m.ID, 10)] = m
	}
	for _, m := range ms {
		want, ok := byID[m.ID]
		require.True(t, ok, "meeting %q is user 1's", m.ID)
		assert.Equal(t, want.Hash, m.Hash)
		assert.Equal(t, want.Address, m.Address)
		assert.Equal(t, want.Status, m.Status)
		assert.Equal(t, want.ThreadID, m.ThreadID)
		assert.Equal(t, want.CompanyID, m.CompanyID)
		assert.Equal(t, want.PersonID, m.PersonID)
		assert.Equal(t, want.Type, m.Type)
	}
	require.NotEmpty(t, ts.List)
	threads := map[string]fakeapi.Thread{}
	for _, th := range u.Threads {
		threads[th.ID] = th
	}
	for _, th := range ts.List {
		want, ok := threads[th.ID]
		require.True(t, ok, "thread %q is user 1's", th.ID)
		assert.Equal(t, want.Name, th.Name)
		assert.Equal(t, want.Number, th.Number)
		assert.Equal(t, want.Description, th.Description)
		assert.JSONEq(t, string(want.Fields), string(th.Fields))
	}
}
