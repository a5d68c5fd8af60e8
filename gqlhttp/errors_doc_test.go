package gqlhttp

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/salesgraph/salesgraph/internal/mdcheck"
)

// TestErrorCodeTableStatuses keeps the status column of the client teams'
// error-code table (docs/frontend/errors.md) equal to the statuses the
// endpoint answers request errors with (requestStatus, 400 for any other
// code): a request-level code must show its status, and no row may show an
// error status its code is never answered with. Which codes exist is
// graph's TestErrorCodeTableIsTheCodes.
func TestErrorCodeTableStatuses(t *testing.T) {
	const doc = "../docs/frontend/errors.md"
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := mdcheck.Table(string(b), "| `extensions.code` | when | status |")
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	code := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	status := regexp.MustCompile(`\b[1-5][0-9][0-9]\b`)
	seen := map[string]bool{}
	for _, row := range rows {
		var shown []int
		for _, s := range status.FindAllString(row[2], -1) {
			n, _ := strconv.Atoi(s)
			shown = append(shown, n)
		}
		for _, m := range code.FindAllStringSubmatch(row[0], -1) {
			c := m[1]
			seen[c] = true
			want, isRequestCode := requestStatus[c]
			if !isRequestCode {
				want = http.StatusBadRequest // statusFor's answer for any other code
			}
			found := false
			for _, n := range shown {
				switch {
				case n == want:
					found = true
				case n >= 400:
					t.Errorf("%s: %s shows status %d, but a request error with this code is answered %d", doc, c, n, want)
				}
			}
			if isRequestCode && !found {
				t.Errorf("%s: %s's status is %q, but a request error with this code is answered %d", doc, c, row[2], want)
			}
		}
	}
	for c := range requestStatus {
		if !seen[c] {
			t.Errorf("%s has no row for %s", doc, c)
		}
	}
}
