package restclient_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/salesgraph/salesgraph/restclient"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// BenchmarkCallHedging is what hedging costs a call that needs no hedge
// (its answer comes before the delay): a timer and the contexts to cancel
// the loser with, against the same call unhedged.
func BenchmarkCallHedging(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			fake := fakeapi.NewServer()
			defer fake.Close()
			opts := []restclient.Option{restclient.WithCredentials(http.Header{"Authorization": {fakeapi.DefaultToken}})}
			if on {
				opts = append(opts, restclient.WithHedging(restclient.HedgePolicy{MinDelay: time.Minute, MaxDelay: time.Minute}))
			}
			c, err := restclient.New(fake.URL, opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.UserMeetings(context.Background(), 7); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(fake.Calls())/float64(b.N), "upstream-calls/op")
		})
	}
}
