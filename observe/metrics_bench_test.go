package observe_test

import (
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/observe"
)

// BenchmarkPerRequestMetrics is what every operation records (in flight,
// its count and duration) plus an APQ lookup and a batch size.
func BenchmarkPerRequestMetrics(b *testing.B) {
	m := observe.NewMetrics()
	b.ReportAllocs()
	for b.Loop() {
		done := m.OperationStarted()
		m.Operation(m.OperationLabel("Dashboard", true), observe.OutcomeOK, time.Millisecond)
		m.APQ(observe.APQHit)
		m.BatchSize("meetings", 4)
		done()
	}
}
