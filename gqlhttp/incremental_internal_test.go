package gqlhttp

import (
	"encoding/json"
	"testing"
)

// FuzzJSONWalk: the walk that cuts deferred fields out of a payload reads
// any bytes without panicking, and reads a well-formed object's members
// and an array's elements exactly as encoding/json does. The executor only
// ever gives it valid JSON; a custom scalar that writes anything else
// must cost the response (the encoder refuses it), not the process.
func FuzzJSONWalk(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[1,{"c":"}"}],"d\"e":null}`,
		` { "x" : { } , "y" : [ ] } `,
		`[1, "two", {"three": [3]}, null]`,
		`{}`, `[]`, `{"a":`, `{"a":1,}`, `[1,`, `"\`, `{"a" 1}`, `{"\u00e9":true}`, ``, `nul`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = jsonEnd(b, 0)
		var keys []string
		okObj := eachMember(b, func(_ []byte, k string, v []byte) {
			keys = append(keys, k)
			_ = jsonEnd(v, 0)
		})
		n := 0
		okArr := eachElement(b, func([]byte) { n++ })

		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) == nil && obj != nil {
			if !okObj {
				t.Fatalf("a valid object was refused: %q", b)
			}
			seen := map[string]bool{}
			for _, k := range keys {
				seen[k] = true
			}
			for k := range obj {
				if !seen[k] {
					t.Fatalf("member %q of %q was not read", k, b)
				}
			}
		}
		var arr []json.RawMessage
		if json.Unmarshal(b, &arr) == nil && arr != nil {
			if !okArr || n != len(arr) {
				t.Fatalf("a valid array of %d was read as %d (%t): %q", len(arr), n, okArr, b)
			}
		}
	})
}
