package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/salesgraph/salesgraph/graph/model"
)

// Argument bounds. The schema documents them; argumentCheck enforces them
// before execution and the resolvers again (they are cheap).
const (
	defaultFirst = 20
	maxFirst     = 100
	maxIDs       = 100
)

// parseUserID accepts the decimal text of a positive 64-bit integer.
func parseUserID(s string) (int64, error) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, badInput("user id %q is not a positive integer", truncate(s, 40))
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, badInput("user id %q is not a positive integer", truncate(s, 40))
	}
	return id, nil
}

func parseUserIDs(ids []string) ([]int64, error) {
	if len(ids) > maxIDs {
		return nil, badInput("ids has %d entries; at most %d are allowed", len(ids), maxIDs)
	}
	out := make([]int64, len(ids))
	for i, s := range ids {
		id, err := parseUserID(s)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

func pageSize(first *int) (int, error) {
	if first == nil {
		return defaultFirst, nil
	}
	if *first < 0 || *first > maxFirst {
		return 0, badInput("first must be between 0 and %d, got %d", maxFirst, *first)
	}
	return *first, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Cursors are opaque to clients. A meeting cursor is a position in the
// filtered, ordered list; a thread cursor is a position in the upstream's
// order together with the upstream page size it was computed with, so that
// the next page maps straight onto the upstream pages that hold it.
const (
	meetingCursorPrefix = "meeting:"
	threadCursorPrefix  = "thread:"
)

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(c, prefix string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), prefix) {
		return "", badInput("after is not a cursor this field issued")
	}
	return strings.TrimPrefix(string(raw), prefix), nil
}

func meetingCursor(index int) string {
	return encodeCursor(meetingCursorPrefix + strconv.Itoa(index))
}

func parseMeetingCursor(c string) (int, error) {
	s, err := decodeCursor(c, meetingCursorPrefix)
	if err != nil {
		return 0, err
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 {
		return 0, badInput("after is not a cursor this field issued")
	}
	return i, nil
}

func threadCursor(index, perPage, total int) string {
	return encodeCursor(threadCursorPrefix + strconv.Itoa(perPage) + ":" + strconv.Itoa(total) + ":" + strconv.Itoa(index))
}

// parseThreadCursor returns the position a thread cursor names, the upstream
// page size and the list's total when it was issued (a hint that spares
// calls for pages past the end).
func parseThreadCursor(c string) (index, perPage, total int, err error) {
	s, err := decodeCursor(c, threadCursorPrefix)
	if err != nil {
		return 0, 0, 0, err
	}
	parts := strings.Split(s, ":")
	bad := badInput("after is not a cursor this field issued")
	if len(parts) != 3 {
		return 0, 0, 0, bad
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return 0, 0, 0, bad
		}
		nums[i] = n
	}
	if nums[0] == 0 {
		return 0, 0, 0, bad
	}
	return nums[2], nums[0], nums[1], nil
}

// argumentCheck is a gqlgen extension that validates every argument of the
// operation after variables are coerced and before anything executes, so an
// invalid id or page size anywhere in a document is refused before a single
// upstream call, not after its sibling fields already made theirs.
type argumentCheck struct {
	schema *ast.Schema
}

var (
	_ graphql.HandlerExtension        = argumentCheck{}
	_ graphql.OperationContextMutator = argumentCheck{}
)

func (argumentCheck) ExtensionName() string                          { return "ArgumentCheck" }
func (argumentCheck) Validate(schema graphql.ExecutableSchema) error { return nil }

func (a argumentCheck) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	var found *gqlerror.Error
	w := &walker{op: op, schema: a.schema, budget: maxWalkFields}
	w.visit = func(parent string, f graphql.CollectedField, path ast.Path) bool {
		if found != nil {
			return false
		}
		if err := checkArguments(parent+"."+f.Name, f.ArgumentMap(op.Variables)); err != nil {
			found = &gqlerror.Error{
				Message:    err.Error(),
				Path:       path,
				Locations:  []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}},
				Extensions: map[string]any{"code": CodeBadUserInput},
			}
			return false
		}
		return true
	}
	root := "Query"
	if op.Operation != nil && op.Operation.Operation != ast.Query {
		return nil // the schema has no other root; gqlgen refuses it already
	}
	w.walk(root, op.Operation.SelectionSet, nil)
	return found
}

func checkArguments(field string, args map[string]any) error {
	switch field {
	case "Query.user":
		s, err := idText(args["id"])
		if err != nil {
			return err
		}
		_, err = parseUserID(s)
		return err
	case "Query.users":
		list, _ := args["ids"].([]any)
		if len(list) > maxIDs {
			return badInput("ids has %d entries; at most %d are allowed", len(list), maxIDs)
		}
		for _, v := range list {
			s, err := idText(v)
			if err != nil {
				return err
			}
			if _, err := parseUserID(s); err != nil {
				return err
			}
		}
	case "Query.node":
		s, err := idText(args["id"])
		if err != nil {
			return err
		}
		_, err = parseNodeID(s)
		return err
	case "User.meetings", "User.threads":
		if v, ok := args["first"]; ok && v != nil {
			n, err := intArg(v)
			if err != nil {
				return err
			}
			if _, err := pageSize(&n); err != nil {
				return err
			}
		}
		if s, ok := args["after"].(string); ok {
			var err error
			if field == "User.meetings" {
				_, err = parseMeetingCursor(s)
			} else {
				_, _, _, err = parseThreadCursor(s)
			}
			return err
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

func intArg(v any) (int, error) {
	switch v := v.(type) {
	case int64:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return 0, badInput("first is out of range")
		}
		return int(v), nil
	case int:
		return v, nil
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return 0, badInput("first is not an integer")
		}
		return intArg(n)
	}
	return 0, badInput("first is not an integer")
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
		return nodeRef{typeName: typeName, owner: n}, err
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
