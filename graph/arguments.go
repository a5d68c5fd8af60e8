package graph

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/gqlhttp"
	"github.com/salesgraph/salesgraph/graph/model"
)

// Argument bounds. The schema documents them; argumentCheck enforces them
// before execution and the resolvers again (they are cheap).
const (
	defaultFirst = 20
	maxFirst     = 100
	maxIDs       = 100
)

// Argument errors name the argument, never quote its value: what a client
// sent is not echoed back (gqlhttp's masking is the second line).

// parseUserID accepts the decimal text of a positive 64-bit integer.
func parseUserID(s string) (int64, error) {
	id, ok := positiveID(s)
	if !ok {
		return 0, errUserID
	}
	return id, nil
}

var errUserID = badInput("id must be a user id, a positive integer such as 7")

// userIDAt is the error of entry i of ids.
func userIDAt(i int) error {
	return badInput("ids[%d] must be a user id, a positive integer such as 7", i)
}

// parseThreadID accepts what parseUserID does. The API documents thread ids
// as strings but its ids are integers (its meetings' and users' are
// documented so), the facade serves them as it gets them, and an id of
// another shape in a filter is a client's mistake (a globalId passed as an
// id, a typo) better refused than answered with an empty list.
func parseThreadID(s string) (int64, error) {
	id, ok := positiveID(s)
	if !ok {
		return 0, badInput("filter.threadId must be a thread id, a positive integer such as 3161")
	}
	return id, nil
}

func positiveID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

func parseUserIDs(ids []string) ([]int64, error) {
	if len(ids) > maxIDs {
		return nil, badInput("ids has %d entries; at most %d are allowed", len(ids), maxIDs)
	}
	out := make([]int64, len(ids))
	for i, s := range ids {
		id, err := parseUserID(s)
		if err != nil {
			return nil, userIDAt(i)
		}
		out[i] = id
	}
	return out, nil
}

// argumentCheck is a gqlgen extension that validates every argument of the
// operation after variables are coerced and before anything executes, so an
// invalid id, page size, cursor or date anywhere in a document is refused
// before a single upstream call, not after its sibling fields already made
// theirs.
type argumentCheck struct {
	schema  *ast.Schema
	cursors *cursorCodec
}

var (
	_ graphql.HandlerExtension        = argumentCheck{}
	_ graphql.OperationContextMutator = argumentCheck{}
)

func (argumentCheck) ExtensionName() string                          { return "ArgumentCheck" }
func (argumentCheck) Validate(schema graphql.ExecutableSchema) error { return nil }

// userSet is the users a subtree of the operation is about, as far as the
// document says: the ids of Query.user, Query.users or a global id. nil
// means not known before execution (below Meeting.user and Thread.owner,
// which are whoever the upstream names).
type userSet []int64

func (a argumentCheck) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil || op.Operation.Operation != ast.Query {
		return nil // the schema has no other root; gqlgen refuses it already
	}
	// An operation without variables passes or fails by its document
	// alone: one that passed once passes again.
	memo := opMemo(ctx, op)
	if _, ok := memo.Load(argumentsChecked{op.Operation}); ok {
		return nil
	}
	found := a.check(op)
	if found == nil {
		memo.Store(argumentsChecked{op.Operation}, true)
	}
	return found
}

// argumentsChecked is the Memo key of an operation that passed the check.
type argumentsChecked struct{ op *ast.OperationDefinition }

// opMemo is the Memo of op's document when op declares no variables, so
// that what is computed of op depends on the document alone; nil
// otherwise, which remembers nothing.
func opMemo(ctx context.Context, op *graphql.OperationContext) *gqlhttp.Memo {
	if len(op.Operation.VariableDefinitions) > 0 {
		return nil
	}
	return gqlhttp.DocumentMemo(ctx)
}

func (a argumentCheck) check(op *graphql.OperationContext) *gqlerror.Error {
	c := &argChecker{op: op, schema: a.schema, cursors: a.cursors}
	var (
		found *gqlerror.Error
		// users[d] is whom the fields below the field at depth d concern;
		// the walk is depth first, so the slice is the current branch.
		users []userSet
	)
	w := &walker{op: op, schema: a.schema, budget: maxWalkFields}
	w.visit = func(parent string, f graphql.CollectedField, depth int) bool {
		if found != nil {
			return false
		}
		d := depth - 1
		users = users[:d]
		var own userSet
		if d > 0 {
			own = users[d-1]
		}
		below, err := c.field(parent, f, own)
		if err != nil {
			found = &gqlerror.Error{
				Message:    err.Error(),
				Path:       w.path(),
				Locations:  []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}},
				Extensions: map[string]any{"code": CodeBadUserInput},
			}
			return false
		}
		users = append(users, below)
		return true
	}
	w.walk("Query", op.Operation.SelectionSet)
	return found
}

type argChecker struct {
	op      *graphql.OperationContext
	schema  *ast.Schema
	cursors *cursorCodec
}

// field checks f's arguments, f being selected on parent for the users own,
// as its entry in the field table says (fields.go), and returns the users
// f's subtree concerns.
func (c *argChecker) field(parent string, f graphql.CollectedField, own userSet) (userSet, error) {
	if err := c.values(f); err != nil {
		return nil, err
	}
	spec, ok := fields[parent+"."+f.Name]
	if !ok {
		return own, nil
	}
	args := f.ArgumentMap(c.op.Variables)
	below := own
	switch {
	case spec.users != nil:
		ids, err := spec.users(args)
		if err != nil {
			return nil, err
		}
		below = ids
	case spec.namedByUpstream:
		below = nil
	}
	if spec.check != nil {
		if err := spec.check(&argUse{args: args, own: own, cursors: c.cursors}); err != nil {
			return nil, err
		}
	}
	return below, nil
}

// argUse is one use of a field in the operation, for its entry's check.
type argUse struct {
	args    map[string]any // coerced, variables substituted
	own     userSet        // whom the field concerns; nil when not known
	cursors *cursorCodec
}

// connection checks a connection's paging arguments (window.go): page
// sizes within bounds, not first and last together, and cursors that a
// connection of list d issued, for the list of one of the users the field
// concerns.
func (a *argUse) connection(d *listInfo) error {
	w, err := windowOf(a.cursors, d, 0, a.args)
	if err != nil {
		return err
	}
	// A cursor fits one user's list; a subtree about several users, or
	// another one, cannot use it.
	for _, c := range []struct {
		arg string
		p   *cursorPos
	}{{"after", w.after}, {"before", w.before}} {
		if c.p == nil {
			continue
		}
		for _, u := range a.own {
			if u != c.p.user {
				return badInput("%s is a cursor of another user's %s", c.arg, d.Name)
			}
		}
	}
	return nil
}

// values checks the argument values whose validity the schema's types
// cannot express: dates (a DateTime is any string to the validator) and
// thread ids. Values from variables are named with their variable.
func (c *argChecker) values(f graphql.CollectedField) error {
	for _, a := range f.Arguments {
		def := f.Definition.Arguments.ForName(a.Name)
		if def == nil {
			continue // the validator refused it already
		}
		if err := c.literal(def.Type, "", a.Value, a.Name); err != nil {
			return err
		}
	}
	return nil
}

// literal checks v, a value written in the document at path, of type t; in
// is the input field it is the value of ("MeetingFilter.threadId"), if any.
func (c *argChecker) literal(t *ast.Type, in string, v *ast.Value, path string) error {
	switch {
	case v == nil || v.Kind == ast.NullValue:
		return nil
	case v.Kind == ast.Variable:
		return c.variable(t, in, c.op.Variables[v.Raw], path, v.Raw)
	case t.Elem != nil && v.Kind == ast.ListValue:
		for i, ch := range v.Children {
			if err := c.literal(t.Elem, in, ch.Value, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	case t.Elem != nil: // one value where a list belongs is a list of one
		return c.literal(t.Elem, in, v, path)
	case v.Kind == ast.ObjectValue:
		def := c.schema.Types[t.NamedType]
		if def == nil || def.Kind != ast.InputObject {
			return nil
		}
		for _, ch := range v.Children {
			if fd := def.Fields.ForName(ch.Name); fd != nil {
				if err := c.literal(fd.Type, def.Name+"."+ch.Name, ch.Value, path+"."+ch.Name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	raw, err := v.Value(nil)
	if err != nil {
		return nil // the validator refused it already
	}
	return checkLeaf(t.NamedType, in, raw, path, "")
}

// variable is literal for a value that came in variable name.
func (c *argChecker) variable(t *ast.Type, in string, v any, path, name string) error {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		if t.Elem == nil {
			return nil // the variable's coercion refused it already
		}
		for i, e := range x {
			if err := c.variable(t.Elem, in, e, path+"["+strconv.Itoa(i)+"]", name); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		def := c.schema.Types[t.NamedType]
		if t.Elem != nil || def == nil || def.Kind != ast.InputObject {
			return nil
		}
		// In field order, so that the same mistake gets the same message.
		for _, fd := range def.Fields {
			if e, ok := x[fd.Name]; ok {
				if err := c.variable(fd.Type, def.Name+"."+fd.Name, e, path+"."+fd.Name, name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if t.Elem != nil {
		return c.variable(t.Elem, in, v, path, name)
	}
	return checkLeaf(t.NamedType, in, v, path, name)
}

// checkLeaf checks one scalar value, typed typeName, of input field in.
func checkLeaf(typeName, in string, v any, path, variable string) error {
	where := path
	if variable != "" {
		where += " (variable $" + variable + ")"
	}
	if typeName == "DateTime" {
		if _, err := model.ParseDateTime(v, time.UTC); err != nil {
			return badInput("%s must be a DateTime: %s", where, model.DateFormats)
		}
	}
	if in == "MeetingFilter.threadId" {
		s, err := idText(v)
		if err == nil {
			_, err = parseThreadID(s)
		}
		if err != nil {
			return badInput("%s must be a thread id, a positive integer such as 3161", where)
		}
	}
	return nil
}

func idText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int:
		return strconv.Itoa(v), nil
	}
	return "", badInput("id must be a string or an integer")
}

// userArg reads a user id argument, as an ID arrives: text or a number.
func userArg(v any) (int64, error) {
	s, err := idText(v)
	if err != nil {
		return 0, err
	}
	return parseUserID(s)
}

// nodeArg reads a global id argument.
func nodeArg(v any) (nodeRef, error) {
	s, err := idText(v)
	if err != nil {
		return nodeRef{}, err
	}
	return parseNodeID(s)
}

// intArg reads an Int argument as the argument map holds it (coerced, or a
// variable's JSON number); false when it is not an Int in range.
func intArg(v any) (int, bool) {
	switch v := v.(type) {
	case int64:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return 0, false
		}
		return int(v), true
	case int:
		return v, true
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return 0, false
		}
		return intArg(n)
	}
	return 0, false
}

// nodeRef is a decoded global id.
type nodeRef struct {
	typeName string
	owner    int64
	id       string
}

func parseNodeID(id string) (nodeRef, error) {
	typeName, key, err := model.DecodeGlobalID(id)
	if err != nil {
		return nodeRef{}, badInput("id is not a global id issued by this API")
	}
	switch typeName {
	case "User":
		n, err := parseUserID(key)
		if err != nil {
			return nodeRef{}, badInput("id is not a global id issued by this API")
		}
		return nodeRef{typeName: typeName, owner: n}, nil
	case "Meeting", "Thread":
		ownerText, objID, ok := strings.Cut(key, ":")
		owner, err := parseUserID(ownerText)
		if !ok || err != nil || objID == "" {
			return nodeRef{}, badInput("id is not a global id issued by this API")
		}
		return nodeRef{typeName: typeName, owner: owner, id: objID}, nil
	}
	return nodeRef{}, badInput("id is not a global id issued by this API")
}

// nodeArgs reads the global ids of Query.nodes: at most maxIDs, each nil
// when it is not a global id (nodes answers it with null and an error in
// its place, as node refuses it).
func nodeArgs(v any) ([]*nodeRef, error) {
	list, _ := v.([]any)
	if len(list) > maxIDs {
		return nil, badInput("ids has %d entries; at most %d are allowed", len(list), maxIDs)
	}
	refs := make([]*nodeRef, len(list))
	for i, id := range list {
		if ref, err := nodeArg(id); err == nil {
			refs[i] = &ref
		}
	}
	return refs, nil
}
