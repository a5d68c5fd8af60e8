package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// envFlags defines flags whose defaults come from SALESGRAPH_* environment
// variables, so that every setting has both and a flag wins over its
// variable. A variable that does not parse is collected in problems, to be
// reported with the rest of the configuration's, instead of silently
// becoming the default.
type envFlags struct {
	fs       *flag.FlagSet
	getenv   func(string) string
	problems []string
}

// raw is the variable SALESGRAPH_name, or def when it is unset or empty.
func (e *envFlags) raw(name, def string) string {
	if v := e.getenv("SALESGRAPH_" + name); v != "" {
		return v
	}
	return def
}

// envValue parses SALESGRAPH_name, falling back to def when it is unset or
// does not parse (the latter recorded as a problem).
func envValue[T any](e *envFlags, name string, def T, parse func(string) (T, error), what string) T {
	s := e.getenv("SALESGRAPH_" + name)
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

func withEnv(usage, name string) string { return usage + " (SALESGRAPH_" + name + ")" }

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
