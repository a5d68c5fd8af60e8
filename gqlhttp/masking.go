package gqlhttp

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error masking, second line. The first is the application's: its error
// presenter quotes nothing a client sent, and masks the errors it does not
// recognise. But error messages also come from gqlparser, gqlgen and
// resolvers, and some quote values: an invalid enum literal, a string where
// an Int belongs. A client's values can be secrets (a token pasted into a
// variable, a credential header an upstream echoes), and a response travels
// through logs, proxies and browser extensions the client does not control.
//
// So every error of a response is scrubbed of the values of its request:
// header values, variable values and keys, and the document's literal
// values. Names in the document (fields, types, fragments) stay quotable:
// "Cannot query field "x" on type "User"" is how a client finds its mistake.

// minRedacted is the shortest value masked: shorter ones are not secrets,
// and masking them would garble messages that happen to contain them.
const minRedacted = 8

// maxRedactedValues bounds the masking work a request can cause.
const maxRedactedValues = 10000

const redactedText = "[redacted]"

// headersNotSecret are request headers whose values are protocol, not
// secrets; masking them would only garble messages.
var headersNotSecret = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true, "Connection": true,
	"Content-Length": true, "Content-Type": true, "Host": true, "User-Agent": true,
}

// redactor masks a request's values in its response's errors.
type redactor struct {
	values []string
	seen   map[string]bool
	vocab  map[string]bool
	done   bool
}

// schemaVocabulary is every name the schema defines. A client value equal
// to one (an enum literal, an input object's key) is no secret, and masking
// it would hide which field a message is about.
func schemaVocabulary(s *ast.Schema) map[string]bool {
	v := map[string]bool{}
	for name, def := range s.Types {
		v[name] = true
		for _, f := range def.Fields {
			v[f.Name] = true
			for _, a := range f.Arguments {
				v[a.Name] = true
			}
		}
		for _, e := range def.EnumValues {
			v[e.Name] = true
		}
	}
	return v
}

func newRedactor(h http.Header, vocab map[string]bool) *redactor {
	r := &redactor{seen: map[string]bool{}, vocab: vocab}
	for k, vs := range h {
		if headersNotSecret[k] {
			continue
		}
		for _, v := range vs {
			r.add(v)
			// "Bearer <token>": the token alone is the secret.
			if _, tok, ok := strings.Cut(v, " "); ok {
				r.add(strings.TrimSpace(tok))
			}
			// "a=1; session=<secret>": cookie and similar lists.
			for _, part := range strings.Split(v, ";") {
				if _, val, ok := strings.Cut(part, "="); ok {
					r.add(strings.TrimSpace(val))
				}
			}
		}
	}
	return r
}

func (r *redactor) add(s string) {
	if len(s) < minRedacted || r.seen[s] || r.vocab[s] || len(r.values) >= maxRedactedValues {
		return
	}
	r.seen[s] = true
	r.values = append(r.values, s)
}

// addRequest adds an operation's values, once per request.
func (r *redactor) addRequest(q *rawRequest, doc *ast.QueryDocument) {
	if q != nil {
		r.addJSON(q.variables)
		r.addJSON(q.extensions)
	}
	if doc != nil && !r.done {
		r.done = true
		for _, op := range doc.Operations {
			for _, v := range op.VariableDefinitions {
				r.addValue(v.DefaultValue)
			}
			r.addDirectives(op.Directives)
			r.addSelections(op.SelectionSet)
		}
		for _, f := range doc.Fragments {
			r.addDirectives(f.Directives)
			r.addSelections(f.SelectionSet)
		}
	}
}

func (r *redactor) addJSON(v any) {
	switch v := v.(type) {
	case string:
		r.add(v)
	case json.Number:
		r.add(v.String())
	case map[string]any:
		for k, x := range v {
			r.add(k)
			r.addJSON(x)
		}
	case []any:
		for _, x := range v {
			r.addJSON(x)
		}
	}
}

// addSelections follows the document's own nesting, not fragment spreads:
// every fragment is visited once, as a definition.
func (r *redactor) addSelections(sel ast.SelectionSet) {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				r.addValue(a.Value)
			}
			r.addDirectives(s.Directives)
			r.addSelections(s.SelectionSet)
		case *ast.InlineFragment:
			r.addDirectives(s.Directives)
			r.addSelections(s.SelectionSet)
		case *ast.FragmentSpread:
			r.addDirectives(s.Directives)
		}
	}
}

func (r *redactor) addDirectives(ds ast.DirectiveList) {
	for _, d := range ds {
		for _, a := range d.Arguments {
			r.addValue(a.Value)
		}
	}
}

func (r *redactor) addValue(v *ast.Value) {
	if v == nil {
		return
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue, ast.EnumValue, ast.IntValue, ast.FloatValue:
		r.add(v.Raw)
	case ast.ListValue, ast.ObjectValue:
		for _, c := range v.Children {
			if v.Kind == ast.ObjectValue {
				r.add(c.Name)
			}
			r.addValue(c.Value)
		}
	}
}

// scrubError masks the request's values in e's message, path and
// extensions. A value is masked wherever it occurs; a quoted fragment of a
// value that a message cut short ("abcdef…") is masked too.
func (r *redactor) scrubError(e *gqlerror.Error) {
	if len(r.values) == 0 {
		return
	}
	e.Message = r.scrub(e.Message)
	for i, p := range e.Path {
		if name, ok := p.(ast.PathName); ok && r.scrub(string(name)) != string(name) {
			e.Path[i] = ast.PathName(redactedText)
		}
	}
	for k, v := range e.Extensions {
		if k != "code" && k != "requestId" {
			e.Extensions[k] = r.scrubAny(v)
		}
	}
}

func (r *redactor) scrubAny(v any) any {
	switch v := v.(type) {
	case string:
		return r.scrub(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = r.scrubAny(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = r.scrubAny(x)
		}
		return out
	}
	return v
}

func (r *redactor) scrub(s string) string {
	for _, v := range r.values {
		if len(v) <= len(s) && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, redactedText)
		}
	}
	// Messages that shorten what they quote end it with "…".
	for rest := s; ; {
		i := strings.Index(rest, "…\"")
		if i < 0 {
			break
		}
		start := strings.LastIndexByte(rest[:i], '"')
		if frag := rest[start+1 : i]; start >= 0 && len(frag) >= minRedacted && r.prefixOfValue(frag) {
			s = strings.Replace(s, frag+"…", redactedText, 1)
		}
		rest = rest[i+len("…\""):]
	}
	return s
}

func (r *redactor) prefixOfValue(frag string) bool {
	for _, v := range r.values {
		if strings.HasPrefix(v, frag) {
			return true
		}
	}
	return false
}
