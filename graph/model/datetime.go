package model

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The DateTime scalar is a time.Time in Go; MarshalDateTime and
// UnmarshalDateTime are its marshalers (gqlgen.yml). Out, it is RFC 3339 in
// the value's own zone, as gqlgen's Time scalar writes it. In, it is RFC
// 3339 with an offset, or a plain date, which means the start of that day in
// the upstream's zone: the zone the CRM's own naive dates are read in, so a
// filter from "2026-03-01" includes a meeting the CRM shows on 1 March at
// 00:30, whatever the zone.

// codeBadUserInput is graph.CodeBadUserInput, which this package cannot
// import.
const codeBadUserInput = "BAD_USER_INPUT"

// DateFormats says what a DateTime argument accepts, for error messages.
const DateFormats = "an RFC 3339 date-time with offset such as 2026-03-14T09:30:00Z, or a date such as 2026-03-14"

type dateZoneKey struct{}

// WithDateZone returns a context in which plain dates given as DateTime
// arguments are read in loc.
func WithDateZone(ctx context.Context, loc *time.Location) context.Context {
	if loc == nil {
		return ctx
	}
	return context.WithValue(ctx, dateZoneKey{}, loc)
}

// dateZone is the zone WithDateZone set, else UTC.
func dateZone(ctx context.Context) *time.Location {
	if loc, ok := ctx.Value(dateZoneKey{}).(*time.Location); ok {
		return loc
	}
	return time.UTC
}

var errNotDateTime = errors.New("not a DateTime")

// ParseDateTime reads a DateTime argument's value: an RFC 3339 string with
// offset, or a plain date (YYYY-MM-DD), which is midnight in loc. Anything
// else, numbers and the empty string included, is an error.
func ParseDateTime(v any, loc *time.Location) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, errNotDateTime
	}
	if len(s) == len(time.DateOnly) {
		if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
			return t, nil
		}
		return time.Time{}, errNotDateTime
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errNotDateTime
	}
	return t, nil
}

// MarshalDateTime writes t as gqlgen's Time scalar does: RFC 3339 with
// nanoseconds as needed, null for the zero time.
func MarshalDateTime(t time.Time) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		if t.IsZero() {
			_, err := io.WriteString(w, "null")
			return err
		}
		_, err := io.WriteString(w, strconv.Quote(t.Format(time.RFC3339Nano)))
		return err
	})
}

// UnmarshalDateTime reads a DateTime argument, plain dates in the context's
// zone. Its error is complete (BAD_USER_INPUT, naming the argument), so the
// error presenter passes it on as it is. graph's argument check refuses the
// same values before execution; this is the second line.
func UnmarshalDateTime(ctx context.Context, v any) (time.Time, error) {
	t, err := ParseDateTime(v, dateZone(ctx))
	if err != nil {
		return t, &gqlerror.Error{
			Message:    argumentPath(ctx) + " must be a DateTime: " + DateFormats,
			Extensions: map[string]any{"code": codeBadUserInput},
		}
	}
	return t, nil
}

// argumentPath is the path of the argument being read, relative to its
// field ("filter.startFrom").
func argumentPath(ctx context.Context) string {
	full := graphql.GetPath(ctx).String()
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		if field := fc.Path().String(); strings.HasPrefix(full, field+".") {
			return strings.TrimPrefix(full, field+".")
		}
	}
	return full
}
