package gqlhttp

import (
	"encoding/json"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The two wire formats of incremental delivery, and how Accept chooses
// between them. Both are multipart/mixed with one JSON payload per part;
// they differ in how a payload names what it completes.
//
// deferSpec=20220824 (graphql-js 17.0.0-alpha.2, gqlgen, Apollo Client's
// Defer20220824Handler) gives each result its path and label:
//
//	{"data":{"user":{"id":"7"}},"hasNext":true}
//	{"incremental":[{"data":{"threads":…},"path":["user"]}],"hasNext":false}
//
// incrementalSpec=v0.2 (specs.apollo.dev/incremental/v0.2, graphql-js
// 17.0.0-alpha.9, Apollo Client's GraphQL17Alpha9Handler) announces each
// result with an id before it comes, delivers it by id, and closes it, with
// the errors of one that failed (a null that reached the fragment):
//
//	{"data":{"user":{"id":"7"}},"pending":[{"id":"0","path":["user"]}],"hasNext":true}
//	{"incremental":[{"id":"0","data":{"threads":…}}],"completed":[{"id":"0"}],"hasNext":false}
//
// A nested fragment is announced in the part that delivers its object. The
// encoder owns the ids; what a result is (a deferred fragment, and later a
// stream's items) is the caller's.

// incrementalFormat is a wire format of incremental delivery.
type incrementalFormat int

const (
	noIncremental incrementalFormat = iota
	formatDefer20220824
	formatIncrementalV02
)

// param is the media type parameter that names the format.
func (f incrementalFormat) param() string {
	if f == formatIncrementalV02 {
		return "incrementalSpec=v0.2"
	}
	return "deferSpec=20220824"
}

// mediaType is the Content-Type of a response in the format.
func (f incrementalFormat) mediaType() string {
	return `multipart/mixed; boundary="` + multipartBoundary + `"; ` + f.param()
}

// incrementalFormatOf is the incremental format Accept admits, if any: the
// multipart/mixed range with the highest q among those naming a format this
// server speaks; a range without a spec parameter means deferSpec=20220824,
// the format this server gave such clients before incrementalSpec existed
// and the one gqlgen gives them. At equal q, a range naming its format wins
// over one that does not, and incrementalSpec=v0.2 over deferSpec=20220824.
func incrementalFormatOf(values []string) incrementalFormat {
	best, bestQ, bestRank := noIncremental, 0.0, 0
	for _, part := range strings.Split(strings.Join(values, ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "multipart/mixed" {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q <= 0 || q > 1 {
				continue
			}
		}
		deferSpec, hasDefer := params["deferspec"]
		incSpec, hasInc := params["incrementalspec"]
		var f incrementalFormat
		rank := 0
		switch {
		case hasDefer && hasInc:
			continue // which one?
		case hasInc:
			if incSpec != "v0.2" {
				continue
			}
			f, rank = formatIncrementalV02, 3
		case hasDefer:
			if deferSpec != "20220824" {
				continue
			}
			f, rank = formatDefer20220824, 2
		default:
			if _, sub := params["subscriptionspec"]; sub {
				continue // Apollo's multipart subscriptions: not a format for @defer
			}
			f, rank = formatDefer20220824, 1
		}
		if q > bestQ || q == bestQ && rank > bestRank {
			best, bestQ, bestRank = f, q, rank
		}
	}
	return best
}

// pendingResult is something a response will deliver later: a deferred
// fragment at a path (and, with @stream, a list's remaining items).
type pendingResult struct {
	id     string // in incrementalSpec=v0.2, given when it is first announced
	path   ast.Path
	label  string
	stream bool // a list's elements (incremental_stream.go); path is the list's
}

// completion is a pending result delivered, or failed; or, for a stream,
// some of its items (items set), which does not complete it.
type completion struct {
	pending    *pendingResult
	data       json.RawMessage // an object of `fields` members; nil when it failed
	fields     int
	errors     gqlerror.List
	extensions map[string]any
	items      json.RawMessage // a stream's items, a JSON array
	at         int             // a stream's: the index of the first item, or of the element that failed it
}

func (c completion) failed() bool { return c.data == nil && c.items == nil }

// payloadEncoder builds the payloads of one response in its format.
type payloadEncoder struct {
	format incrementalFormat
	nextID int
}

func nonNilPath(p ast.Path) ast.Path {
	if p == nil {
		return ast.Path{}
	}
	return p
}

type pendingJSON struct {
	ID    string   `json:"id"`
	Path  ast.Path `json:"path"`
	Label string   `json:"label,omitempty"`
}

// pending gives the results announced their ids.
func (e *payloadEncoder) pending(announced []*pendingResult) []pendingJSON {
	if e.format != formatIncrementalV02 || len(announced) == 0 {
		return nil
	}
	out := make([]pendingJSON, len(announced))
	for i, p := range announced {
		if p.id == "" {
			p.id = strconv.Itoa(e.nextID)
			e.nextID++
		}
		out[i] = pendingJSON{ID: p.id, Path: nonNilPath(p.path), Label: p.label}
	}
	return out
}

// initial is the first payload: the operation's data without its deferred
// fields, and, in v0.2, the results to come.
func (e *payloadEncoder) initial(errs gqlerror.List, data json.RawMessage, ext map[string]any, announced []*pendingResult, hasNext bool) any {
	return struct {
		Errors     gqlerror.List   `json:"errors,omitempty"`
		Data       json.RawMessage `json:"data"`
		Pending    []pendingJSON   `json:"pending,omitempty"`
		HasNext    bool            `json:"hasNext"`
		Extensions map[string]any  `json:"extensions,omitempty"`
	}{errs, data, e.pending(announced), hasNext, ext}
}

// A result of deferSpec=20220824.
type legacyItem struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`  // a deferred fragment's; "null" when it failed
	Items      json.RawMessage `json:"items,omitempty"` // a stream's; "null" when it failed
	Path       ast.Path        `json:"path"`
	Label      string          `json:"label,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// Results of incrementalSpec=v0.2.
type incrementalJSON struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`  // a deferred fragment's
	Items      json.RawMessage `json:"items,omitempty"` // a stream's
	ID         string          `json:"id"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

type completedJSON struct {
	ID     string        `json:"id"`
	Errors gqlerror.List `json:"errors,omitempty"`
}

// subsequent is a later payload: p's results, their errors already capped
// and masked.
func (e *payloadEncoder) subsequent(p *part, hasNext bool) any {
	if e.format != formatIncrementalV02 {
		items := make([]legacyItem, 0, len(p.completed))
		for _, c := range p.completed {
			switch {
			case c.items != nil:
				// A stream's items, at the path of the first.
				items = append(items, legacyItem{Errors: c.errors, Items: c.items, Path: itemPath(c), Label: c.pending.label, Extensions: c.extensions})
			case c.pending.stream && c.failed():
				items = append(items, legacyItem{Errors: c.errors, Items: json.RawMessage("null"), Path: itemPath(c), Label: c.pending.label, Extensions: c.extensions})
			case c.pending.stream:
				// The format has no end of a stream but hasNext.
			default:
				data := c.data
				if c.failed() {
					data = json.RawMessage("null")
				}
				items = append(items, legacyItem{Errors: c.errors, Data: data, Path: nonNilPath(c.pending.path), Label: c.pending.label, Extensions: c.extensions})
			}
		}
		return struct {
			Incremental []legacyItem `json:"incremental,omitempty"`
			HasNext     bool         `json:"hasNext"`
		}{items, hasNext}
	}
	pending := e.pending(p.announced)
	var inc []incrementalJSON
	var done []completedJSON
	for _, c := range p.completed {
		if c.items != nil {
			inc = append(inc, incrementalJSON{Errors: c.errors, Items: c.items, ID: c.pending.id, Extensions: c.extensions})
			continue
		}
		done = append(done, completedJSON{ID: c.pending.id})
		switch {
		case c.failed():
			done[len(done)-1].Errors = c.errors
		case c.fields > 0 || len(c.errors) > 0 || len(c.extensions) > 0:
			// A fragment whose fields all came with others completes
			// with no data of its own, as graphql-js does.
			inc = append(inc, incrementalJSON{Errors: c.errors, Data: c.data, ID: c.pending.id, Extensions: c.extensions})
		}
	}
	return struct {
		Pending     []pendingJSON     `json:"pending,omitempty"`
		Incremental []incrementalJSON `json:"incremental,omitempty"`
		Completed   []completedJSON   `json:"completed,omitempty"`
		HasNext     bool              `json:"hasNext"`
	}{pending, inc, done, hasNext}
}

// refusal is the last payload, in place of p, which the response could not
// hold: its first result failed with err. The rest are cut off by the end
// of the response ("hasNext": false).
func (e *payloadEncoder) refusal(p *part, err *gqlerror.Error) any {
	var first *pendingResult
	at := 0
	if len(p.completed) > 0 {
		first, at = p.completed[0].pending, p.completed[0].at
	} else if len(p.announced) > 0 {
		first = p.announced[0]
	}
	if first == nil {
		return struct {
			HasNext bool `json:"hasNext"`
		}{false}
	}
	err.Path = nonNilPath(first.path)
	failed := &part{completed: []completion{{pending: first, errors: gqlerror.List{err}, at: at}}}
	if slices.Contains(p.announced, first) {
		failed.announced = []*pendingResult{first} // announced in this very part
	}
	return e.subsequent(failed, false)
}

// itemPath is the path of a stream's result in deferSpec=20220824: the
// list's, then the index of its first item.
func itemPath(c completion) ast.Path {
	return append(slices.Clip(nonNilPath(c.pending.path)), ast.PathIndex(c.at))
}
