package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The metric names both files use are checked against the server's own
// in the main module (monitoring_test.go at the root), which can start a
// server; this module checks their form.

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("monitoring/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// TestDashboard: every panel queries the dashboard's Prometheus variable,
// fits the grid, and has an id of its own.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["instance"] {
		t.Errorf("want the variables datasource and instance, have %v", vars)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("%q lies outside the grid: %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("%q does not query ${datasource}", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			if !strings.Contains(q.Expr, `instance=~"$instance"`) {
				t.Errorf("%q %s: not filtered by the instance variable: %s", p.Title, q.RefID, q.Expr)
			}
		}
	}
	if queries < 20 {
		t.Errorf("%d queries: has the dashboard lost its panels?", queries)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// TestAlertRules: each alert waits before firing, has a severity, a summary
// and a runbook, and the ones issue 22 asks for are there.
func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile("monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			switch {
			case r.Alert == "":
				t.Errorf("a rule that is no alert: %+v", r)
			case r.For == "":
				t.Errorf("%s fires on one evaluation", r.Alert)
			case r.Labels["severity"] != "warning" && r.Labels["severity"] != "critical":
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			case r.Annotations["summary"] == "" || len(r.Annotations["runbook"]) < 200:
				t.Errorf("%s: no summary or no runbook worth the name", r.Alert)
			}
		}
	}
	for _, want := range []string{"SalesgraphUpstreamCircuitOpen", "SalesgraphErrorRatioHigh", "SalesgraphLatencyHigh", "SalesgraphRedisUnreachable", "SalesgraphMemoryBudgetPressure"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestPromtoolChecksTheQueries runs Prometheus's own checker on the alert
// rules, and on the dashboard's queries turned into recording rules (with
// Grafana's variables given values), so that a query Prometheus cannot
// parse fails here. promtool is Debian's prometheus package; .ci/run
// installs it. Without it the test skips, except when CI is set.
func TestPromtoolChecksTheQueries(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found, and CI is set: install Debian's prometheus package")
		}
		t.Skip("promtool not found (Debian's prometheus package)")
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
	for _, p := range readDashboard(t).Panels {
		for _, q := range p.Targets {
			expr, err := json.Marshal(grafana.Replace(q.Expr)) // a JSON string is a YAML string
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&rules, "      - record: dashboard:panel%d:%s\n        expr: %s\n", p.ID, strings.ToLower(q.RefID), expr)
		}
	}
	dash := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(dash, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"monitoring/alerts.yml", dash} {
		out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
		}
	}
}
