package graph

import (
	"context"
	"log/slog"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// PresentRecoveredPanic runs a resolver panic's value through the handler's
// recover function and error presenter, as gqlgen does when a resolver
// panics: no resolver can be made to panic from outside without a bug.
func PresentRecoveredPanic(log *slog.Logger, v any) *gqlerror.Error {
	ctx := context.Background()
	return errorPresenter(log)(ctx, recoverFunc(log)(ctx, v))
}
