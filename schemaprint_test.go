package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/salesgraph/salesgraph/graph"
)

// TestRunPrintSchema goes through the command line, as client teams do.
func TestRunPrintSchema(t *testing.T) {
	for _, format := range []string{"sdl", "introspection"} {
		var direct, viaRun, stderr bytes.Buffer
		if err := graph.PrintSchema(&direct, format); err != nil {
			t.Fatal(err)
		}
		err := run(context.Background(), []string{"-print-schema", format}, func(string) string { return "" }, nil, &viaRun, &stderr, nil)
		if err != nil {
			t.Fatalf("-print-schema %s: %v\n%s", format, err, stderr.String())
		}
		if viaRun.String() != direct.String() || viaRun.Len() == 0 {
			t.Errorf("-print-schema %s printed %d bytes, graph.PrintSchema %d", format, viaRun.Len(), direct.Len())
		}
	}
	if err := graph.PrintSchema(&bytes.Buffer{}, "graphql"); err == nil {
		t.Error("graph.PrintSchema accepted an unknown format")
	}
}
