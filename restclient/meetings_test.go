package restclient_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

func meetingIDs(ms []restclient.Meeting) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func datasetMeetingIDs(ms []fakeapi.Meeting) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strconv.FormatInt(m.ID, 10)
	}
	return out
}

// TestPaginatedMeetingsAreFollowed: the documentation says the endpoint
// returns every meeting, but an answer that says it is page 1 of 3 is not
// served as everything. The first request is the documented one, without
// parameters; pages 2 and 3 are in flight together.
func TestPaginatedMeetingsAreFollowed(t *testing.T) {
	fake := fakeapi.NewServer(fakeapi.WithMeetingsPerUser(12), fakeapi.WithPaginatedMeetings(5))
	t.Cleanup(fake.Close)
	var (
		mu   sync.Mutex
		gate *fakeapi.Gate
	)
	c, err := restclient.New(fake.URL,
		restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}),
		restclient.WithObserver(func(ci restclient.CallInfo) {
			// Called once page 1 is answered and before the others are
			// asked for: they must then arrive together.
			mu.Lock()
			defer mu.Unlock()
			if gate == nil {
				gate = fake.Gate(2)
			}
		}))
	require.NoError(t, err)

	ms, err := c.UserMeetings(context.Background(), 4)
	require.NoError(t, err)
	assert.Equal(t, datasetMeetingIDs(user(t, fake.Dataset(), 4).Meetings), meetingIDs(ms), "every page, in order")
	mu.Lock()
	require.NotNil(t, gate)
	assert.True(t, gate.Wait(time.Second), "pages 2 and 3 were in flight at once")
	mu.Unlock()

	reqs := fake.Requests()
	require.Len(t, reqs, 3)
	assert.Empty(t, reqs[0].RawQuery, "page 1 is asked for as documented")
	assert.ElementsMatch(t, []string{"page=2", "page=3"}, []string{reqs[1].RawQuery, reqs[2].RawQuery})
}

func TestUnpaginatedMeetingsAreOneCall(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	c, err := restclient.New(fake.URL, restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	require.NoError(t, err)
	ms, err := c.UserMeetings(context.Background(), 4)
	require.NoError(t, err)
	assert.Equal(t, datasetMeetingIDs(user(t, fake.Dataset(), 4).Meetings), meetingIDs(ms))
	assert.Equal(t, 1, fake.Calls())
}

// meetingsPage renders a meetings page whose records have the given ids.
func meetingsPage(ids []int, page, pages, perPage, total int) string {
	recs := make([]string, len(ids))
	for i, id := range ids {
		recs[i] = fmt.Sprintf(`{"id": %d, "id_user": 7, "visits": 1}`, id)
	}
	return fmt.Sprintf(`{"status": 200, "data": {"list": [%s], "pagination": {"page": %d, "pages_count": %d, "per_page": %d, "total": %d}}}`,
		strings.Join(recs, ","), page, pages, perPage, total)
}

func TestPaginatedMeetingsThatDisagree(t *testing.T) {
	tests := []struct {
		name   string
		pages  map[string]string // by the page query parameter; "" for page 1
		opts   []restclient.Option
		reason string
	}{
		{"a later page changes the total", map[string]string{
			"":  meetingsPage([]int{1, 2}, 1, 2, 2, 3),
			"2": meetingsPage([]int{3, 4}, 2, 2, 2, 4),
		}, nil, "page 2 says 2 pages, 4 records, 2 per page; page 1 said 2, 3, 2"},
		{"records do not add up", map[string]string{
			"":  meetingsPage([]int{1, 2}, 1, 2, 2, 4),
			"2": meetingsPage([]int{3}, 2, 2, 2, 4),
		}, nil, "2 pages hold 3 records, total says 4"},
		{"the wrong page", map[string]string{
			"":  meetingsPage([]int{1, 2}, 1, 2, 2, 4),
			"2": meetingsPage([]int{1, 2}, 1, 2, 2, 4),
		}, nil, "asked for page 2, got page 1"},
		{"more pages than allowed", map[string]string{
			"": meetingsPage([]int{1}, 1, 9, 1, 9),
		}, []restclient.Option{restclient.WithMaxPages(8)}, "9 pages exceed the limit of 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, tt.opts...)
			mux.HandleFunc("/api/v1/users/7/meetings", func(w http.ResponseWriter, r *http.Request) {
				reply(200, tt.pages[r.URL.Query().Get("page")])(w, r)
			})
			_, err := c.UserMeetings(context.Background(), 7)
			var pe *restclient.PaginationError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, restclient.EndpointUserMeetings, pe.Endpoint)
			assert.Equal(t, "/api/v1/users/7/meetings", pe.Path)
			assert.Equal(t, tt.reason, pe.Reason)
		})
	}
}
