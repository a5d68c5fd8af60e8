package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
)

// envPrefix starts the name of every variable salesgraph reads.
const envPrefix = "SALESGRAPH_"

// envFlags defines flags whose defaults come from SALESGRAPH_* environment
// variables, so that every setting has both and a flag wins over its
// variable. A variable that does not parse is collected in problems, to be
// reported with the rest of the configuration's, instead of silently
// becoming the default.
type envFlags struct {
	fs       *flag.FlagSet
	getenv   func(string) string
	problems []string
	names    []string // every variable defined, for unknown
}

// raw is the variable SALESGRAPH_name, or def when it is unset or empty.
func (e *envFlags) raw(name, def string) string {
	e.names = append(e.names, envPrefix+name)
	if v := e.getenv(envPrefix + name); v != "" {
		return v
	}
	return def
}

// envValue parses SALESGRAPH_name, falling back to def when it is unset or
// does not parse (the latter recorded as a problem).
func envValue[T any](e *envFlags, name string, def T, parse func(string) (T, error), what string) T {
	e.names = append(e.names, envPrefix+name)
	s := e.getenv(envPrefix + name)
	if s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil {
		e.problems = append(e.problems, fmt.Sprintf("SALESGRAPH_%s: %q is not %s", name, s, what))
		return def
	}
	return v
}

func withEnv(usage, name string) string { return usage + " (" + envPrefix + name + ")" }

// unknown reports every variable in environ ("NAME=value" entries, as
// os.Environ returns them) that looks meant for salesgraph but is not one
// of its settings, with the closest one that is. A misspelt variable would
// otherwise be ignored without a word: SALESGRAPH_UPSTREAM_ULR would start
// demo mode, fake data and all, where production was meant. The prefix is
// matched in any case, since salesgraph_upstream_url is as surely a mistake.
func (e *envFlags) unknown(environ []string) []string {
	var problems []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if seen[name] || !strings.HasPrefix(strings.ToUpper(name), envPrefix) || slices.Contains(e.names, name) {
			continue
		}
		seen[name] = true
		problems = append(problems, fmt.Sprintf("unknown environment variable %s (did you mean %s?)", name, e.closest(name)))
	}
	slices.Sort(problems)
	return problems
}

// closest is the defined variable nearest to name by edit distance, ties
// going to the one defined first.
func (e *envFlags) closest(name string) string {
	best, bestDist := "", -1
	for _, known := range e.names {
		if d := levenshtein.ComputeDistance(strings.ToUpper(name), known); bestDist < 0 || d < bestDist {
			best, bestDist = known, d
		}
	}
	return best
}

func (e *envFlags) String(flagName, envName, def, usage string) *string {
	return e.fs.String(flagName, e.raw(envName, def), withEnv(usage, envName))
}

func (e *envFlags) Int(flagName, envName string, def int, usage string) *int {
	return e.fs.Int(flagName, envValue(e, envName, def, strconv.Atoi, "an integer"), withEnv(usage, envName))
}

func (e *envFlags) Int64(flagName, envName string, def int64, usage string) *int64 {
	parse := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
	return e.fs.Int64(flagName, envValue(e, envName, def, parse, "an integer"), withEnv(usage, envName))
}

func (e *envFlags) Float64(flagName, envName string, def float64, usage string) *float64 {
	parse := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	return e.fs.Float64(flagName, envValue(e, envName, def, parse, "a number"), withEnv(usage, envName))
}

func (e *envFlags) Bool(flagName, envName string, def bool, usage string) *bool {
	return e.fs.Bool(flagName, envValue(e, envName, def, strconv.ParseBool, "true or false"), withEnv(usage, envName))
}

func (e *envFlags) Duration(flagName, envName string, def time.Duration, usage string) *time.Duration {
	return e.fs.Duration(flagName, envValue(e, envName, def, time.ParseDuration, "a duration (like 10s)"), withEnv(usage, envName))
}
