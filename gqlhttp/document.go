package gqlhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Documents: a query's text turned into a checked, validated document
// (tokens, parse, fragment cycles and static limits, validation), kept in
// a cache by text with the Memo of what extensions computed from it, and
// handed to gqlgen's executor (docHook) so that it never parses one itself.

// preparer turns a document's text into a checked, validated document.
type preparer struct {
	opts     *Options
	schema   *ast.Schema
	rules    *rules.Rules
	validate func(*ast.Schema, *ast.QueryDocument, *rules.Rules) gqlerror.List
}

func newPreparer(o *Options, schema *ast.Schema) *preparer {
	p := &preparer{opts: o, schema: schema, rules: validationRules(o.Suggestions), validate: o.test.validate}
	if p.validate == nil {
		p.validate = validator.ValidateWithRules
	}
	return p
}

// validationRules are the specification's rules, with the variants that
// add no "Did you mean …" unless suggestions are wanted: they reveal the
// schema's names to whoever guesses near them.
func validationRules(suggestions bool) *rules.Rules {
	r := rules.NewDefaultRules()
	addStreamRules(r) // incremental_stream.go
	if suggestions {
		return r
	}
	for name, quiet := range map[string]core.Rule{
		"FieldsOnCorrectType": rules.FieldsOnCorrectTypeRuleWithoutSuggestions,
		"KnownArgumentNames":  rules.KnownArgumentNamesRuleWithoutSuggestions,
		"KnownTypeNames":      rules.KnownTypeNamesRuleWithoutSuggestions,
		"ScalarLeafs":         rules.ScalarLeafsRuleWithoutSuggestions,
		"ValuesOfCorrectType": rules.ValuesOfCorrectTypeRuleWithoutSuggestions,
	} {
		r.RemoveRule(name)
		r.AddRule(quiet.Name, quiet.RuleFunc)
	}
	return r
}

// prepare checks and parses query: tokens and nesting, parse, fragment
// cycles and static limits, then (after beforeValidate, if any) validation.
// A refused document that parsed is returned with the refusal, so that its
// literal values can be masked in the messages.
func (p *preparer) prepare(query string, beforeValidate ...func(*ast.QueryDocument) *reqError) (*ast.QueryDocument, *reqError) {
	if strings.TrimSpace(query) == "" {
		return nil, malformed("the request has no query (a string holding the GraphQL document)")
	}
	if e := p.opts.scanDocument(query); e != nil {
		return nil, &reqError{status: http.StatusBadRequest, errs: gqlerror.List{e}}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, p.opts.MaxTokens)
	if err != nil {
		return nil, &reqError{status: http.StatusBadRequest, errs: gqlerror.List{parseError(err)}}
	}
	if len(doc.Operations) == 0 {
		return doc, requestErr(http.StatusBadRequest, CodeValidationFailed, "the document has no operation")
	}
	for _, f := range beforeValidate {
		if e := f(doc); e != nil {
			return doc, e
		}
	}
	if e := p.opts.checkDocument(doc); e != nil {
		return doc, &reqError{status: http.StatusBadRequest, errs: gqlerror.List{e}}
	}
	if errs := p.validate(p.schema, doc, p.rules); len(errs) > 0 {
		for _, e := range errs {
			e.Extensions = map[string]any{"code": CodeValidationFailed}
		}
		return doc, &reqError{status: http.StatusBadRequest, errs: errs}
	}
	return doc, nil
}

// quoted matches the quoted text in a parser message: token text, which
// may be a string literal holding anything the client sent.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// parseError turns a parser error into a request error that quotes nothing
// of the document: the location says where.
func parseError(err error) *gqlerror.Error {
	out := &gqlerror.Error{Message: "the document does not parse", Extensions: map[string]any{"code": CodeParseFailed}}
	var ge *gqlerror.Error
	if !errors.As(err, &ge) {
		return out
	}
	msg := strings.Join(strings.Fields(quoted.ReplaceAllString(ge.Message, "")), " ")
	if strings.HasPrefix(msg, "exceeded token limit") {
		out.Extensions["code"] = CodeTokenLimit
	}
	if msg != "" && len(msg) <= 200 {
		out.Message = "the document does not parse: " + strings.TrimSuffix(msg, ".")
	}
	out.Locations = ge.Locations
	return out
}

// selectOperation is the specification's GetOperation, with messages that
// do not repeat the requested name back.
func selectOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, *reqError) {
	if name == "" {
		if len(doc.Operations) != 1 {
			return nil, requestErr(http.StatusBadRequest, CodeValidationFailed, "the document holds several operations: operationName must name one")
		}
		return doc.Operations[0], nil
	}
	for _, op := range doc.Operations {
		if op.Name == name {
			return op, nil
		}
	}
	return nil, requestErr(http.StatusBadRequest, CodeValidationFailed, "the document holds no operation with the requested operationName")
}

// getOnlyQueries is the specification's rule that GET (and QUERY, a safe
// method too) never runs a mutation: 405, whatever the media type, before
// the document is validated. method is the request's.
func getOnlyQueries(name, method string) func(*ast.QueryDocument) *reqError {
	return func(doc *ast.QueryDocument) *reqError {
		op, rerr := selectOperation(doc, name)
		if rerr != nil || op.Operation == ast.Query || op.Operation == "" {
			return nil
		}
		e := transportErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, method+" runs only queries; send other operations with POST")
		e.allow = http.MethodPost
		return e
	}
}

// document returns query's checked document: from the allow-list, the
// cache, or prepared now (and cached when small enough), with its Memo
// when it is kept.
func (t *httpTransport) document(query, operationName, safe string) (*ast.QueryDocument, *Memo, *reqError) {
	if k, ok := t.pinned[query]; ok {
		return k.doc, &k.memo, nil
	}
	if k, ok := t.docs.Get(query); ok {
		return k.doc, &k.memo, nil
	}
	var checks []func(*ast.QueryDocument) *reqError
	if safe != "" {
		checks = append(checks, getOnlyQueries(operationName, safe))
	}
	doc, rerr := t.prepare(query, checks...)
	if rerr != nil {
		return doc, nil, rerr
	}
	if len(query) > maxRememberedQuery {
		return doc, nil, nil
	}
	k := &keptDoc{doc: doc}
	t.docs.Add(query, k)
	return doc, &k.memo, nil
}

// keptDoc is a checked document the transport keeps, and what extensions
// remember of it.
type keptDoc struct {
	doc  *ast.QueryDocument
	memo Memo
}

// Memo is where the extensions given to Server.Use remember what they
// computed from a document the endpoint keeps parsed, for as long as it
// keeps it: an argument check or a cost estimate of an operation that
// depends on nothing but the document (it declares no variables) need not
// run again for the next request. DocumentMemo returns it. What is stored
// must be bounded by the document (an entry per operation, say), and
// immutable: concurrent requests read it.
type Memo struct{ m sync.Map }

// Load returns the value stored for key; a nil Memo holds nothing.
func (m *Memo) Load(key any) (any, bool) {
	if m == nil {
		return nil, false
	}
	return m.m.Load(key)
}

// Store remembers value for key; a nil Memo forgets it.
func (m *Memo) Store(key, value any) {
	if m != nil {
		m.m.Store(key, value)
	}
}

// DocumentMemo is the Memo of the document of the operation ctx belongs
// to, for extensions; nil when the endpoint does not keep the document
// (too large to cache, or rewritten for this request), or outside an
// operation.
func DocumentMemo(ctx context.Context) *Memo {
	if p, ok := ctx.Value(preparedKey{}).(*preparedDoc); ok {
		return p.memo
	}
	return nil
}

// rewriteVariableErrors replaces gqlparser's variable coercion messages,
// which quote the value the client sent and Go's names for its JSON types
// ("cannot use float64 as Int"), by one that names the variable and its
// declared type. They are BAD_USER_INPUT, as in Apollo Server.
func rewriteVariableErrors(errs gqlerror.List, op *ast.OperationDefinition) {
	for _, e := range errs {
		if len(e.Path) < 2 || e.Path[0] != ast.PathName("variable") {
			continue
		}
		name, _ := e.Path[1].(ast.PathName)
		where := ""
		for _, p := range e.Path[2:] {
			switch p := p.(type) {
			case ast.PathName:
				where += "." + string(p)
			case ast.PathIndex:
				where += "[" + strconv.Itoa(int(p)) + "]"
			}
		}
		if where != "" {
			// Quoted: "at type" would read as English, not as a field.
			where = " at " + strconv.Quote(strings.TrimPrefix(where, "."))
		}
		reason := e.Message
		switch reason {
		case "cannot be null", "must be defined", "unknown field":
		default:
			reason = "not a valid value"
		}
		msg := fmt.Sprintf("variable $%s%s: %s", name, where, reason)
		if op != nil {
			if def := op.VariableDefinitions.ForName(string(name)); def != nil {
				msg += " (expected " + def.Type.String() + ")"
				if def.Position != nil {
					e.Locations = []gqlerror.Location{{Line: def.Position.Line, Column: def.Position.Column}}
				}
			}
		}
		e.Message = msg
		e.Path = nil
		e.Extensions = map[string]any{"code": CodeBadUserInput}
	}
}

// preparedDoc is the document the transport checked for this operation,
// and the meter its response is charged to: one context value for both,
// since every field's charge looks the meter up.
type preparedDoc struct {
	query string
	doc   *ast.QueryDocument
	memo  *Memo // nil: the document is not kept
	meter *responseMeter
}

type preparedKey struct{}

// docHook is the gqlgen server's query cache. It hands gqlgen the document
// the transport already checked, so gqlgen never parses or validates a
// document itself. Should anything reach the executor without the
// transport, it gets a document without operations, which gqlgen refuses:
// no unchecked text is ever parsed.
type docHook struct{}

var _ graphql.Cache[*ast.QueryDocument] = docHook{}

func (docHook) Get(ctx context.Context, key string) (*ast.QueryDocument, bool) {
	if p, ok := ctx.Value(preparedKey{}).(*preparedDoc); ok && p.query == key {
		return p.doc, true
	}
	return &ast.QueryDocument{}, true
}

func (docHook) Add(context.Context, string, *ast.QueryDocument) {}
