package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
)

// EnvPrefix starts the name of every variable salesgraph reads.
const EnvPrefix = "SALESGRAPH_"

// envName is the variable of a flag: SALESGRAPH_ and the flag's name in
// upper snake case, so that the two can never disagree.
func envName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envFlags defines flags bound to Config's fields whose defaults come from
// SALESGRAPH_* environment variables, so that every setting has both and a
// flag wins over its variable. A variable that does not parse is collected
// in problems, to be reported with the rest of the configuration's, instead
// of silently becoming the default.
type envFlags struct {
	fs       *flag.FlagSet
	getenv   func(string) string
	problems []string
	names    []string // every variable defined, for unknown
}

// envValue is the value of flagName's variable, def when it is unset or
// empty, or def with a problem recorded when it does not parse.
func envValue[T any](e *envFlags, flagName string, def T, parse func(string) (T, error), what string) T {
	name := envName(flagName)
	e.names = append(e.names, name)
	s := e.getenv(name)
	if s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil {
		e.problems = append(e.problems, fmt.Sprintf("%s: %q is not %s", name, s, what))
		return def
	}
	return v
}

func withEnv(usage, flagName string) string { return usage + " (" + envName(flagName) + ")" }

func (e *envFlags) string(p *string, name, def, usage string) {
	parse := func(s string) (string, error) { return s, nil }
	e.fs.StringVar(p, name, envValue(e, name, def, parse, ""), withEnv(usage, name))
}

func (e *envFlags) secret(p *Secret, name, usage string) {
	e.string((*string)(p), name, "", usage)
}

func (e *envFlags) int(p *int, name string, def int, usage string) {
	e.fs.IntVar(p, name, envValue(e, name, def, strconv.Atoi, "an integer"), withEnv(usage, name))
}

func (e *envFlags) int64(p *int64, name string, def int64, usage string) {
	parse := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
	e.fs.Int64Var(p, name, envValue(e, name, def, parse, "an integer"), withEnv(usage, name))
}

func (e *envFlags) float64(p *float64, name string, def float64, usage string) {
	parse := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	e.fs.Float64Var(p, name, envValue(e, name, def, parse, "a number"), withEnv(usage, name))
}

func (e *envFlags) bool(p *bool, name string, def bool, usage string) {
	e.fs.BoolVar(p, name, envValue(e, name, def, strconv.ParseBool, "true or false"), withEnv(usage, name))
}

func (e *envFlags) duration(p *time.Duration, name string, def time.Duration, usage string) {
	e.fs.DurationVar(p, name, envValue(e, name, def, time.ParseDuration, "a duration (like 10s)"), withEnv(usage, name))
}

// unknown reports every variable in environ ("NAME=value" entries, as
// os.Environ returns them) that looks meant for salesgraph but is not one
// of its settings, with the closest one that is, if one is close. A
// misspelt variable would otherwise be ignored without a word:
// SALESGRAPH_UPSTREAM_ULR would start demo mode, fake data and all, where
// production was meant. The prefix is matched in any case, since
// salesgraph_upstream_url is as surely a mistake.
func (e *envFlags) unknown(environ []string) []string {
	var problems []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if seen[name] || !strings.HasPrefix(strings.ToUpper(name), EnvPrefix) || slices.Contains(e.names, name) {
			continue
		}
		seen[name] = true
		upper := strings.ToUpper(name)
		if best, ok := nearest(upper[len(EnvPrefix):], e.names, EnvPrefix); ok {
			problems = append(problems, fmt.Sprintf("unknown environment variable %s (did you mean %s?)", name, best))
		} else {
			problems = append(problems, fmt.Sprintf("unknown environment variable %s (salesgraph -help lists the settings)", name))
		}
	}
	slices.Sort(problems)
	return problems
}

// nearest is the name in known (each prefix followed by a name) nearest to
// name by edit distance, ties going to the first, when it is near enough
// to be what was meant: at most a third of name's length apart (at least
// one edit). A farther one would be a guess that misleads, as -version
// answered with -pprof did.
func nearest(name string, known []string, prefix string) (string, bool) {
	best, bestDist := "", -1
	for _, k := range known {
		if d := levenshtein.ComputeDistance(name, strings.TrimPrefix(k, prefix)); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	return best, bestDist >= 0 && bestDist <= max(1, len(name)/3)
}

// flagError turns a parse error into one line that names the mistake (and
// the closest flag, for an unknown one) and where the flags are listed; for
// -help it prints the flags to stdout and returns flag.ErrHelp.
func flagError(fs *flag.FlagSet, err error, stdout io.Writer) error {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "Usage of salesgraph (each flag's SALESGRAPH_* variable in parentheses; salesgraph -version prints the version):")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return err
	}
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if best, ok := nearest(strings.TrimLeft(name, "-"), names, ""); ok {
			return fmt.Errorf("%w (did you mean -%s? salesgraph -help lists the flags)", err, best)
		}
	}
	return fmt.Errorf("%w (salesgraph -help lists the flags)", err)
}
