package restclient_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// TestTheFakeServesTheClientsLists: the fake upstream imports nothing of
// ours, so that a mistake in the client cannot hide behind a shared
// declaration, and keeps its own table of lists. This holds the two to
// the same lists, paged the same way: a list declared on one side only
// fails here, not in whichever test first asks for it.
func TestTheFakeServesTheClientsLists(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	served := map[string]fakeapi.ListInfo{}
	for _, l := range fake.Lists() {
		served[l.Endpoint] = l
	}
	require.NotEmpty(t, restclient.Lists())
	declared := map[string]bool{}
	for _, l := range restclient.Lists() {
		spec := l.Spec()
		declared[spec.Endpoint] = true
		info, ok := served[spec.Endpoint]
		if assert.True(t, ok, "the fake serves no %s (%s)", spec.Name, spec.Endpoint) {
			assert.Equal(t, spec.Paging == restclient.Paged, info.PerPage > 0, "%s: the fake pages it as the client declares it (%v)", spec.Name, spec.Paging)
		}
		assert.True(t, strings.HasSuffix(spec.Endpoint, "/"+spec.Name), "%s is named after its endpoint %s", spec.Name, spec.Endpoint)
	}
	for ep := range served {
		assert.True(t, declared[ep], "the fake serves %s, which the client does not declare", ep)
	}
}

// TestEveryListIsAskedAsItsPagingSays: one generic path serves every
// declared list, through Client.UserList as the facade calls it: a Whole
// list's first page without parameters, a Paged list's pages with the
// page parameter; each answer is the list's own *Page type, and a Whole
// list has no page 2 to ask for.
func TestEveryListIsAskedAsItsPagingSays(t *testing.T) {
	fake := fakeapi.NewServer()
	t.Cleanup(fake.Close)
	c, err := restclient.New(fake.URL, restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}}))
	require.NoError(t, err)
	ctx := context.Background()
	for _, l := range restclient.Lists() {
		spec := l.Spec()
		t.Run(spec.Name, func(t *testing.T) {
			fake.Reset()
			r, err := c.UserList(ctx, l, 3, 1)
			require.NoError(t, err)
			page := reflect.ValueOf(r)
			require.Equal(t, reflect.Pointer, page.Kind())
			assert.True(t, strings.HasPrefix(page.Elem().Type().Name(), "Page["), "%T", r)
			assert.Positive(t, page.Elem().FieldByName("List").Len())
			reqs := fake.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, strings.Replace(spec.Endpoint, "{id}", "3", 1), reqs[0].Path)

			switch spec.Paging {
			case restclient.Whole:
				assert.Empty(t, reqs[0].RawQuery)
				_, err := c.UserList(ctx, l, 3, 2)
				var ae *restclient.ArgumentError
				require.True(t, errors.As(err, &ae), "%v", err)
				assert.Equal(t, "page", ae.Name)
			case restclient.Paged:
				assert.Equal(t, "page=1", reqs[0].RawQuery)
				_, err := c.UserList(ctx, l, 3, 2)
				require.NoError(t, err)
				assert.Equal(t, "page=2", fake.Requests()[1].RawQuery)
			default:
				t.Fatalf("paging %v", spec.Paging)
			}
			assert.Equal(t, map[restclient.Paging]int{restclient.Whole: 1, restclient.Paged: 2}[spec.Paging], fake.Calls(), "a refused page is not asked for")
		})
	}
}
