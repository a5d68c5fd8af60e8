package restclient

import (
	"fmt"
	"strings"
	"time"
)

// A SettingProblem is one invalid setting of a RetryPolicy or
// BreakerSettings: the field, and what is wrong with its value. A caller
// that reads the settings from elsewhere (flags) can say it in its own
// words by replacing Field; other fields named in Issue are named as in Go.
type SettingProblem struct {
	Field string // "MaxDelay"
	Issue string // "must not be below BaseDelay (2s), got 1s"
}

func (p SettingProblem) String() string { return p.Field + " " + p.Issue }

// settingProblems collects SettingProblems.
type settingProblems []SettingProblem

func (ps *settingProblems) check(ok bool, field, format string, args ...any) {
	if !ok {
		*ps = append(*ps, SettingProblem{Field: field, Issue: fmt.Sprintf(format, args...)})
	}
}

func (ps *settingProblems) positive(field string, d time.Duration) {
	ps.check(d > 0, field, "must be positive, got %v", d)
}

func joinProblems(ps []SettingProblem) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, "; ")
}
