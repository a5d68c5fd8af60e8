package gqlhttp

import (
	"encoding/json"
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
