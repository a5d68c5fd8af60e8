package fakeapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestJitterIsUniformAndSeeded(t *testing.T) {
	a, b := New(WithUsers(0), WithLatency(time.Second, time.Millisecond)), New(WithUsers(0), WithLatency(time.Second, time.Millisecond))
	seen := map[time.Duration]bool{}
	for range 200 {
		d := a.delay()
		assert.Equal(t, d, b.delay(), "the same seed draws the same delays")
		assert.GreaterOrEqual(t, d, time.Second)
		assert.LessOrEqual(t, d, time.Second+time.Millisecond)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 100, "jitter varies")

	a.SetLatency(5*time.Millisecond, 0)
	assert.Equal(t, 5*time.Millisecond, a.delay())
}

func TestQuoteNumbersKeepsStructure(t *testing.T) {
	in := `{"a":[1,-2.5e3,{"b":"x1","c":[]}],"d":true,"e":null,"f":{},"g":"1"}`
	assert.Equal(t, `{"a":["1","-2.5e3",{"b":"x1","c":[]}],"d":true,"e":null,"f":{},"g":"1"}`, string(quoteNumbers([]byte(in))))
}

func TestAppendString(t *testing.T) {
	assert.Equal(t, `"a\"b\\c\n\t\r\u0001<&> ł\u2028"`, string(appendString(nil, "a\"b\\c\n\t\r\x01<&> ł\u2028")))
}
