//go:build tools

// This file pins gqlgen's generator in go.mod so that `go generate` runs the
// same version as the runtime library.
package main

import _ "github.com/99designs/gqlgen"
