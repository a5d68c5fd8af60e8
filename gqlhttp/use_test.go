package gqlhttp_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/stretchr/testify/assert"
)

type namedInterceptor string

func (n namedInterceptor) ExtensionName() string                 { return string(n) }
func (namedInterceptor) Validate(graphql.ExecutableSchema) error { return nil }
func (namedInterceptor) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	return next(ctx)
}

// TestFieldInterceptorsNamesEveryOne: the endpoint's own (the response
// meter) and each added with Use that is a field interceptor, in order;
// other extensions are not.
func TestFieldInterceptorsNamesEveryOne(t *testing.T) {
	e := newEnv(t)
	assert.Equal(t, []string{"ResponseSize"}, e.srv.FieldInterceptors())
	e.srv.Use(namedInterceptor("First"))
	e.srv.Use(extension.FixedComplexityLimit(100))
	e.srv.Use(namedInterceptor("Second"))
	got := e.srv.FieldInterceptors()
	assert.Equal(t, []string{"ResponseSize", "First", "Second"}, got)
	got[0] = "changed"
	assert.Equal(t, "ResponseSize", e.srv.FieldInterceptors()[0], "a copy")
}
