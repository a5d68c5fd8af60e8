package gqlhttp

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestReadPOSTStringsAsJSON proves that readPOST's shortcut for strings
// without escapes reads every query as encoding/json does, escapes and
// invalid UTF-8 (replaced by U+FFFD) included.
func TestReadPOSTStringsAsJSON(t *testing.T) {
	for _, raw := range []string{
		`"{ user(id: 7) { id } }"`,
		`""`,
		`"{ a }\n"`,
		`"say \"hi\""`,
		`"caf\u00e9 \ud83d\ude00"`,
		`"café ☕"`,
		"\"bad \xff byte\"",
		"\"cut \xe2\x98 rune\"",
		`"back\\slash"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		q, rerr := readPOST([]byte(`{"query":` + raw + `,"operationName":` + raw + `}`))
		if rerr != nil {
			t.Fatalf("%q: refused: %v", raw, rerr.errs)
		}
		if q.query != want || q.operationName != want {
			t.Errorf("%q: read query %q and operationName %q, want %q", raw, q.query, q.operationName, want)
		}
	}
}

// TestReadPOSTOneValue proves that the body must be exactly one JSON object,
// white space aside.
func TestReadPOSTOneValue(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"query":"{ a }"}`:                       true,
		"{\"query\":\"{ a }\"} \n\t":              true,
		`{"query":"{ a }"} {}`:                    false,
		`{"query":"{ a }"}x`:                      false,
		`{"query":"{ a }"`:                        false,
		`null`:                                    false,
		`{"query":1}`:                             false,
		`{"query":"{ a }","operationName":["x"]}`: false,
	} {
		_, rerr := readPOST([]byte(body))
		if (rerr == nil) != ok {
			t.Errorf("%q: accepted %v, want %v", body, rerr == nil, ok)
		}
	}
}

// readPOSTByMap is readPOST as it was, decoding the body into a map of raw
// members: the reference postMembers must agree with.
func readPOSTByMap(body []byte) (*rawRequest, *reqError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, malformed("the request body is not a valid JSON object")
	}
	q := &rawRequest{}
	str := func(key string, into *string) bool {
		raw, ok := m[key]
		if !ok || string(raw) == "null" {
			return true
		}
		return json.Unmarshal(raw, into) == nil
	}
	if !str("query", &q.query) {
		return nil, malformed("query must be a string")
	}
	q.hasQuery = q.query != ""
	if !str("operationName", &q.operationName) {
		return nil, malformed("operationName must be a string")
	}
	var ok bool
	if q.variables, ok = object(m["variables"]); !ok {
		return nil, malformed("variables must be a JSON object")
	}
	if q.extensions, ok = object(m["extensions"]); !ok {
		return nil, malformed("extensions must be a JSON object")
	}
	if raw, ok := m["documentId"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &q.documentID) != nil {
			return nil, malformed("documentId must be a string")
		}
		q.hasDocumentID = true
	}
	return q, nil
}

var readPOSTCorpus = []string{
	`{"query":"{ a }"}`,
	` { "query" : "{ a }" , "operationName" : "A" } `,
	`{"query":"{ a }","variables":{"x":[1,{"y":"}]\"{"}],"z":null},"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}`,
	`{"query":"first","query":"second"}`,
	`{"query":"{ a }","query":null}`,
	`{"\u0071uery":"escaped name","operationName":"\u0041"}`,
	`{"qu\"ery":"not the query","query":"{ a }"}`,
	`{"other":{"query":"nested, not it"},"query":"{ b }","more":[true,false,null,-1.5e3,"]"]}`,
	`{"query":"{ a }","variables":[]}`,
	`{"query":"{ a }","variables":"{}"}`,
	`{"query":"{ a }","extensions":7}`,
	`{"query":1}`,
	`{"operationName":{"a":1},"query":"{ a }"}`,
	`{"query":"tab\tinside"}`,
	"{\"query\":\"bad \xff byte\"}",
	`{}`,
	`{"query":""}`,
	`null`,
	`"a string"`,
	`{"query":"{ a }"} {}`,
	`{"query":"{ a }",}`,
	`{"query" "{ a }"}`,
	`{"query":"{ a }"`,
	`{"variables":{"a":{"b":{"c":[[[]]]}}},"query":"{ deep }"}`,
	"{\"query\":\"{ a }\"}\n\t ",
	`{"query":"a\\"}`,
	`{"query":"ends in a backslash \\\\","x":"y"}`,
	`{"documentId":"sha256:abc","variables":{"id":"1"}}`,
	`{"documentId":null,"query":"{ a }"}`,
	`{"documentId":"","query":"{ a }"}`,
	`{"documentId":7}`,
	`{"documentId":"a","documentId":"b"}`,
	`{"document\u0049d":"escaped name"}`,
}

// TestPostMembersAgreeWithAMap proves that reading the members in place
// reads every body as decoding it into a map did.
func TestPostMembersAgreeWithAMap(t *testing.T) {
	for _, body := range readPOSTCorpus {
		assertReadsAsMap(t, []byte(body))
	}
}

func assertReadsAsMap(t *testing.T, body []byte) {
	t.Helper()
	got, gotErr := readPOST(body)
	want, wantErr := readPOSTByMap(body)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: refused %v, want %v", body, gotErr != nil, wantErr != nil)
	}
	if gotErr != nil {
		if gotErr.errs[0].Message != wantErr.errs[0].Message {
			t.Errorf("%q: %q, want %q", body, gotErr.errs[0].Message, wantErr.errs[0].Message)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q: read %+v, want %+v", body, got, want)
	}
}

func FuzzPostMembers(f *testing.F) {
	for _, body := range readPOSTCorpus {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { assertReadsAsMap(t, body) })
}
