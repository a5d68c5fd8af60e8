package model_test

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/graph/model"
)

func TestParseDateTime(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	require.NoError(t, err)
	ok := []struct {
		in   string
		want time.Time
	}{
		{"2026-03-14T09:30:00Z", time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)},
		{"2026-03-14T09:30:00.123+01:00", time.Date(2026, 3, 14, 8, 30, 0, 123e6, time.UTC)},
		// A plain date is midnight in the given zone, DST included.
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, warsaw)},
		{"2026-07-01", time.Date(2026, 6, 30, 22, 0, 0, 0, time.UTC)},
	}
	for _, c := range ok {
		got, err := model.ParseDateTime(c.in, warsaw)
		require.NoError(t, err, c.in)
		assert.True(t, c.want.Equal(got), "%s: got %s, want %s", c.in, got, c.want)
	}
	for _, bad := range []any{"yesterday", "", "2026-13-01", "2026-02-30", "2026-03-14T09:30:00", "2026-03-14 09:30:00", "14.03.2026", 12345, int64(12345), 1.5, true, []any{"2026-03-14"}} {
		_, err := model.ParseDateTime(bad, warsaw)
		assert.Error(t, err, "%#v", bad)
	}
}

func TestUnmarshalDateTime(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	require.NoError(t, err)
	ctx := model.WithDateZone(context.Background(), warsaw)
	got, err := model.UnmarshalDateTime(ctx, "2026-03-01")
	require.NoError(t, err)
	assert.True(t, time.Date(2026, 3, 1, 0, 0, 0, 0, warsaw).Equal(got))
	got, err = model.UnmarshalDateTime(context.Background(), "2026-03-01")
	require.NoError(t, err)
	assert.True(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Equal(got), "UTC without a zone")

	// The error is complete, so that the error presenter keeps it: a code,
	// and the argument's path below its field.
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "user"}}})
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "meetings"}}})
	ctx = graphql.WithPathContext(ctx, graphql.NewPathWithField("filter"))
	ctx = graphql.WithPathContext(ctx, graphql.NewPathWithField("startFrom"))
	_, err = model.UnmarshalDateTime(ctx, "yesterday")
	var ge *gqlerror.Error
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, "BAD_USER_INPUT", ge.Extensions["code"])
	assert.Equal(t, "filter.startFrom must be a DateTime: "+model.DateFormats, ge.Message)
}

func TestMarshalDateTime(t *testing.T) {
	var b writer
	require.NoError(t, model.MarshalDateTime(time.Date(2026, 3, 14, 9, 30, 0, 5, time.FixedZone("", 3600))).MarshalGQLContext(context.Background(), &b))
	assert.Equal(t, `"2026-03-14T09:30:00.000000005+01:00"`, string(b))
	b = nil
	require.NoError(t, model.MarshalDateTime(time.Time{}).MarshalGQLContext(context.Background(), &b))
	assert.Equal(t, `null`, string(b))
}

type writer []byte

func (w *writer) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }
