package restclient

import "context"

// How each upstream request a caller asks for is answered, told to the
// caller itself (WithAnswerReport): by an HTTP exchange of its own, by an
// identical call already in flight (share.go), or by the response cache
// (cache.go). The client's own observers (WithObserver, WithShareObserver)
// count these for the whole process; the report is what lets a caller, an
// operation say, count its own.

// Answer is how one upstream request was answered.
type Answer uint8

const (
	// AnswerSent is one HTTP request sent upstream: every attempt of a
	// call, retries included, but none the circuit breaker or the rate
	// limit refused unsent.
	AnswerSent Answer = iota
	// AnswerShared is a call answered by an identical one in flight,
	// whose caller the exchanges are reported to.
	AnswerShared
	// AnswerCached is a call answered by a fresh cached answer, unsent.
	AnswerCached
)

type answerReportKey struct{}

// WithAnswerReport returns a context whose calls tell f how each of their
// upstream requests was answered, with the endpoint template. A shared
// call's exchanges are told to the caller whose context runs it (the first
// one), and AnswerShared to each of the others. f is called on the calling
// goroutine, possibly from several at once: keep it cheap.
func WithAnswerReport(ctx context.Context, f func(endpoint string, a Answer)) context.Context {
	return context.WithValue(ctx, answerReportKey{}, f)
}

func reportAnswer(ctx context.Context, endpoint string, a Answer) {
	if f, ok := ctx.Value(answerReportKey{}).(func(string, Answer)); ok && f != nil {
		f(endpoint, a)
	}
}

// joined is told of a call that joined an identical one in flight.
func (c *Client) joined(ctx context.Context, endpoint string) {
	if c.onShare != nil {
		c.onShare(endpoint)
	}
	reportAnswer(ctx, endpoint, AnswerShared)
}
