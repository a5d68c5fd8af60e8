// Package testschema is the small schema gqlhttp's tests run against, with
// gqlgen's real executor: fields that fail, panic, wait for a gate, answer
// large strings or raw JSON, and nest without end. Its resolvers count their
// calls, so that a test can prove a refused request ran none.
package testschema

//go:generate go run github.com/99designs/gqlgen generate

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"

	"github.com/salesgraph/salesgraph/gqlhttp"
)

// Resolver is the schema's root. The zero value serves; Gate, when set,
// holds every slow field until it is closed.
type Resolver struct {
	// Gate holds the slow fields: each waits until Gate is closed or its
	// context ends. Nil: slow fields answer at once.
	Gate chan struct{}
	// Arrived, when set, is told of each slow field as it starts waiting.
	Arrived chan struct{}
	// Calls counts resolver calls.
	Calls atomic.Int64
}

// New is the executable schema over r.
func New(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: r})
}

// Item is an item; its id says where it is in the tree ("7", "7.2").
type Item struct {
	ID    string
	Name  string
	Color Color
	Tags  []string
}

// JSON is the JSON scalar: raw JSON, written as it is.
type JSON []byte

// MarshalGQL writes the raw JSON, or null.
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(j)
}

// UnmarshalGQL accepts nothing: the schema takes JSON only as output.
func (j *JSON) UnmarshalGQL(any) error { return errNoJSONInput }

// RawJSON is what Query.raw answers, indented as an upstream might send it.
const RawJSON = `{"a": [1, 2, {"b": "c d"}]}`

var errNoJSONInput = errors.New("JSON is an output type")

// Failure is a resolver's error; its message is the field's, which a test
// may set to something a client sent.
type Failure struct{ Message string }

func (f *Failure) Error() string { return f.Message }

// Colors are the item colours by the last digit of an item's id.
var Colors = []Color{ColorRed, ColorGreen, ColorBlue}

// maxChildren bounds Item.children, so that no test can ask for a
// billion by mistake.
const maxChildren = 1000

// maxBytes bounds the strings the resolvers build.
const maxBytes = 1 << 20

// repeat is s n times, refused past maxBytes.
func repeat(s string, n int) (string, error) {
	if n <= 0 {
		return "", nil
	}
	if len(s) > 0 && n > maxBytes/len(s) {
		return "", &Failure{Message: "too large"}
	}
	return strings.Repeat(s, n), nil
}

// item is the item with this id.
func item(id string) *Item {
	last := 0
	if id != "" {
		last = int(id[len(id)-1])
	}
	return &Item{ID: id, Name: "item " + id, Color: Colors[last%3], Tags: []string{"t1", "t2"}}
}

func itoa(n int) string { return strconv.Itoa(n) }

func contains(cs []Color, c Color) bool {
	return slices.Contains(cs, c)
}

// slow waits for the gate, or for the operation to end: under an
// incrementally delivered operation's executor, ctx ends only once rejoined.
func (r *Resolver) slow(ctx context.Context, answer string) (*string, error) {
	r.Calls.Add(1)
	ctx = gqlhttp.Rejoin(ctx)
	if r.Gate == nil {
		return &answer, nil
	}
	if r.Arrived != nil {
		r.Arrived <- struct{}{}
	}
	select {
	case <-r.Gate:
		return &answer, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// IsNode makes Item the schema's Node.
func (*Item) IsNode() {}

// GetID is the Node's id.
func (it *Item) GetID() string { return it.ID }
