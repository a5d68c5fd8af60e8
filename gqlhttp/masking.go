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
//
// A value of minRedacted bytes or more is masked wherever it occurs. A
// shorter one ("-1", "7/../8") is no secret, but it is still the client's
// value, and the docs promise values are removed; masked wherever it
// occurs, though, "1" would garble "at most 100". So a short value is
// masked only where messages put values: as the whole text between two
// quotes, and as the token after gqlparser's "value: " and "found ", which
// print numbers, enums and booleans without quotes.

// minRedacted is the shortest value masked wherever it occurs.
const minRedacted = 8

// maxRedactedValues bounds the masking work a request can cause.
const maxRedactedValues = 10000

const redactedText = "[redacted]"

// protocolNames are the request's own keys, which extensions carry as
// values' keys: masking them garbled the messages that name them
// ("extensions.[redacted].[redacted] is not the SHA-256 of query").
var protocolNames = map[string]bool{
	"query": true, "variables": true, "operationName": true, "extensions": true,
	"persistedQuery": true, "version": true, "sha256Hash": true,
}

// headersNotSecret are request headers whose values are protocol, not
// secrets; masking them would only garble messages.
var headersNotSecret = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true, "Connection": true,
	"Content-Length": true, "Content-Type": true, "Host": true, "User-Agent": true,
}

// redactor masks a request's values in its response's errors.
type redactor struct {
	values []string        // minRedacted bytes or more
	short  map[string]bool // shorter, masked only where quoted or echoed
	seen   map[string]bool
	vocab  map[string]bool
	// docs are the documents whose literals were added: each of a batch's
	// operations has its own, and adds it with its first errors.
	docs map[*ast.QueryDocument]bool
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
	if s == "" || r.seen[s] || r.vocab[s] || protocolNames[s] || len(r.seen) >= maxRedactedValues {
		return
	}
	r.seen[s] = true
	if len(s) < minRedacted {
		if r.short == nil {
			r.short = map[string]bool{}
		}
		r.short[s] = true
		return
	}
	r.values = append(r.values, s)
}

// addKey adds a key of a variable's or literal's object. A short key is a
// name, such as the one a client mistyped ("unknown field "typo""), and is
// left quotable; a long one may be a value used as a key.
func (r *redactor) addKey(s string) {
	if len(s) >= minRedacted {
		r.add(s)
	}
}

// addRequest adds an operation's values: its variables and extensions,
// and its document's literals once per document.
func (r *redactor) addRequest(q *rawRequest, doc *ast.QueryDocument) {
	if q != nil {
		r.addJSON(q.variables)
		r.addJSON(q.extensions)
	}
	if doc != nil && !r.docs[doc] {
		if r.docs == nil {
			r.docs = map[*ast.QueryDocument]bool{}
		}
		r.docs[doc] = true
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
			r.addKey(k)
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
				r.addKey(c.Name)
			}
			r.addValue(c.Value)
		}
	}
}

// scrubError masks the request's values in e's message, path and
// extensions. A value is masked wherever it occurs; a quoted fragment of a
// value that a message cut short ("abcdef…") is masked too.
func (r *redactor) scrubError(e *gqlerror.Error) {
	if len(r.values) == 0 && len(r.short) == 0 {
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
	return r.scrubShort(s)
}

// gqlparserEchoes lead the values gqlparser's messages print unquoted:
// "Int cannot represent non-integer value: 1.5", "Expected value of type
// "Int!", found -1.".
var gqlparserEchoes = [...]string{"value: ", "found "}

// scrubShort masks the short values where s quotes or echoes them.
func (r *redactor) scrubShort(s string) string {
	if len(r.short) == 0 {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := strings.IndexByte(s, '"'); i >= 0; {
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			break
		}
		j += i + 1
		if r.short[s[i+1:j]] {
			b.WriteString(s[done : i+1])
			b.WriteString(redactedText)
			done = j
		}
		next := strings.IndexByte(s[j+1:], '"')
		if next < 0 {
			break
		}
		i = j + 1 + next
	}
	if done > 0 {
		b.WriteString(s[done:])
		s, done = b.String(), 0
		b.Reset()
	}
	for _, lead := range gqlparserEchoes {
		for rest := 0; ; {
			k := strings.Index(s[rest:], lead)
			if k < 0 {
				break
			}
			start := rest + k + len(lead)
			end := start
			for end < len(s) && s[end] != ' ' && s[end] != ',' {
				end++
			}
			tok := s[start:end]
			if !r.short[tok] && strings.HasSuffix(tok, ".") { // the sentence's full stop
				tok = tok[:len(tok)-1]
			}
			if tok != "" && r.short[tok] {
				b.WriteString(s[done:start])
				b.WriteString(redactedText)
				done = start + len(tok)
			}
			rest = start
		}
		if done > 0 {
			b.WriteString(s[done:])
			s, done = b.String(), 0
			b.Reset()
		}
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
