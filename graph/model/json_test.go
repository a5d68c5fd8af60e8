package model

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPassedThroughJSONIsCompact: white space between tokens goes, white
// space inside strings stays, and compact input is kept as it is.
func TestPassedThroughJSONIsCompact(t *testing.T) {
	assert.Equal(t, `[{"name":"Źródło  wpisu","value":1}]`, string(compactJSON(json.RawMessage("[\n  { \"name\": \"Źródło  wpisu\",\t\"value\": 1 }\r\n]"))))
	raw := json.RawMessage(`{"a":[1,2]}`)
	got := compactJSON(raw)
	assert.Equal(t, string(raw), string(got))
	assert.Same(t, &raw[0], &got[0], "no copy of what is compact already")
}
