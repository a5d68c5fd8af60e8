// Package genqlient is the client suite's Go client: genqlient's output for
// operations.graphql (see genqlient.yaml), which TestGenqlientClient runs
// against salesgraph. Only tests import it, so genqlient's runtime package
// never reaches the salesgraph binary.
package genqlient

//go:generate go run github.com/Khan/genqlient genqlient.yaml
