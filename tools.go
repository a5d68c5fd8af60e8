//go:build tools

// This file pins the code generators in go.mod, so that `go run` runs the
// versions go.sum checks: gqlgen's (the same version as the runtime
// library) and genqlient's, which generates the client-suite package
// clients/genqlient, imported by tests only.
package main

import (
	_ "github.com/99designs/gqlgen"
	_ "github.com/Khan/genqlient"
)
