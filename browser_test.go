package main

// The harness of the end-to-end tests of the GraphiQL IDE (server_ide_test.go):
// salesgraph runs in demo mode through run(), as `go run .` starts it, and
// headless Chromium (Debian's package) drives the page the way a person
// would. The browser, like a laptop with no network or a locked-down
// deployment, can resolve no host but the loopback address: the IDE's files
// are the ones embedded in the binary. The CDN mode is tested with those
// same files answered through DevTools' request interception, posing as
// jsDelivr.

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

// chromiumPath is where Debian's chromium package puts the browser; CI
// installs it (.ci/run). No test downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// artifactsDir receives the screenshots; CI keeps it, git ignores it.
const artifactsDir = "artifacts"

// requireBrowser skips the test when the browser is missing locally, and
// fails it in CI (CI=true), where .ci/run installs it.
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s not found (apt-get install chromium): %v", chromiumPath, err)
	}
}

// startForBrowser runs salesgraph through run() on a loopback port with the given
// extra arguments and returns its base URL. The server stops with the test.
func startForBrowser(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	args = append([]string{"-listen-addr", "127.0.0.1:0", "-log-level", "warn", "-shutdown-delay", "0"}, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, nil, io.Discard, io.Discard, ready)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("run stopped before it listened: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not listen within 30s")
	}
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and returns a tab.
// The flags keep it from calling home: the test must pass with no network
// beyond loopback.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root in a container, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// No name resolves but the loopback address the server listens on:
		// a request to any other host fails, as with no network at all.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1000),
	)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// Start the browser on a context without deadline (a deadline on the
	// first action would bound the browser's whole life), then bound the
	// test's actions.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return tctx
}

// Selectors of GraphiQL 4's page.
const (
	selResult        = `.graphiql-response .result-window .CodeMirror`
	selHeadersTab    = `//button[normalize-space()="Headers"]`
	selHeadersEditor = `.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror`
	selExecute       = `.graphiql-execute-button`
	selQueryEditor   = `.graphiql-query-editor .CodeMirror`
)

// editorText returns the whole text of the CodeMirror editor sel, as
// CodeMirror holds it (its DOM shows only the lines in view).
func editorText(sel string) chromedp.Action[string] {
	return chromedp.Evaluate[string](`document.querySelector(` + strconv.Quote(sel) + `).CodeMirror.getValue()`)
}

// waitResult waits until the result pane holds text containing want and
// returns that text.
func waitResult(want string) chromedp.Action[string] {
	return chromedp.Poll[string](`(() => {
		const e = document.querySelector(`+strconv.Quote(selResult)+`);
		const v = e && e.CodeMirror.getValue();
		return v && v.includes(`+strconv.Quote(want)+`) ? v : false;
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
}

// saveScreenshot writes the viewport as a PNG below artifactsDir.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// openIDE opens the IDE at url in the tab ctx and waits until GraphiQL is
// up. The returned func reports the page's CSP violations, uncaught
// exceptions and console errors up to the moment it is called.
func openIDE(t *testing.T, ctx context.Context, url string) (check func()) {
	t.Helper()
	// Record every CSP violation, from the first byte of the page on. The
	// listener is installed through DevTools, which the page's CSP does not
	// govern.
	const cspProbe = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || '')));`
	console := watchConsole(ctx)
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe})
			return err
		}),
		// A fixed viewport, so that screenshots look alike on every machine.
		chromedp.EmulateViewport(1600, 1000),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(selExecute)),
		chromedp.WaitVisible(chromedp.CSS(selResult)),
	)
	if err != nil {
		t.Fatalf("open the IDE: %v", err)
	}
	return func() {
		t.Helper()
		violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations`))
		if err != nil {
			t.Errorf("read CSP violations: %v", err)
		}
		if len(violations) > 0 {
			t.Errorf("the page violated its Content-Security-Policy: %q", violations)
		}
		console.check(t)
	}
}

// exampleResult is the part of the example operation's answer the test reads.
type exampleResult struct {
	Data struct {
		Users []struct {
			ID       string `json:"id"`
			Meetings struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					ID      string  `json:"id"`
					Address *string `json:"address"`
					Thread  *struct {
						ID   string `json:"id"`
						Name string `json:"name"`
					} `json:"thread"`
				} `json:"nodes"`
			} `json:"meetings"`
			Threads struct {
				TotalCount int `json:"totalCount"`
				Nodes      []struct {
					Name string `json:"name"`
				} `json:"nodes"`
			} `json:"threads"`
		} `json:"users"`
	} `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// waitText waits until the element sel's text contains want.
func waitText(sel, want string) chromedp.Action[bool] {
	return chromedp.Poll[bool](`(() => {
		const e = document.querySelector(`+strconv.Quote(sel)+`);
		return !!e && e.innerText.includes(`+strconv.Quote(want)+`);
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
}

// watchRequests records the URL of every request the tab sends from now on.
// It listens synchronously, so a request the browser announced before a
// command returned is recorded by the time the command returns.
func watchRequests(t *testing.T, ctx context.Context) (requested func() []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		urls []string
	)
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("watch requests: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(urls)
	}
}

// checkSameOrigin fails the test for every request to an origin other than
// base's. data: URLs (the fonts and icons inside GraphiQL's stylesheet) are
// no request to anywhere.
func checkSameOrigin(t *testing.T, base string, requested func() []string) {
	t.Helper()
	urls := requested()
	if len(urls) == 0 {
		t.Error("no request recorded: the recorder does not work")
	}
	var ours int
	for _, u := range urls {
		switch {
		case strings.HasPrefix(u, base+"/"):
			ours++
		case strings.HasPrefix(u, "data:"):
		default:
			t.Errorf("the page requested %.120s, outside its origin %s", u, base)
		}
	}
	// The page, its six files, the schema's introspection and two operations.
	if want := 1 + 6 + 3; ours < want {
		t.Errorf("%d requests to %s, want at least %d: %q", ours, base, want, urls)
	}
	t.Logf("%d requests, %d of them to %s, none elsewhere", len(urls), ours, base)
}

// checkExampleResult compares the example's answer with the dataset: values
// the test computes from fakeapi's data, not from any client code.
func checkExampleResult(t *testing.T, text string, ds *fakeapi.Dataset) {
	t.Helper()
	var res exampleResult
	if err := json.Unmarshal([]byte(text), &res); err != nil {
		t.Fatalf("result pane is not JSON: %v\n%s", err, text)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("the example answered errors: %+v", res.Errors)
	}
	if len(res.Data.Users) != 2 {
		t.Fatalf("%d users in the result, want 2:\n%s", len(res.Data.Users), text)
	}
	for i, got := range res.Data.Users {
		want, ok := ds.User(int64(i + 1))
		if !ok {
			t.Fatalf("dataset has no user %d", i+1)
		}
		if got.ID != strconv.FormatInt(want.ID, 10) {
			t.Errorf("users[%d].id = %q, want %d", i, got.ID, want.ID)
		}
		if got.Meetings.TotalCount != len(want.Meetings) {
			t.Errorf("user %d: meetings.totalCount = %d, want %d", want.ID, got.Meetings.TotalCount, len(want.Meetings))
		}
		if n := min(3, len(want.Meetings)); len(got.Meetings.Nodes) != n {
			t.Errorf("user %d: %d meetings, want %d", want.ID, len(got.Meetings.Nodes), n)
		}
		// Each meeting shown is one of the user's, with its address and,
		// when it has one, its thread's name.
		for _, m := range got.Meetings.Nodes {
			j := slices.IndexFunc(want.Meetings, func(w fakeapi.Meeting) bool { return strconv.FormatInt(w.ID, 10) == m.ID })
			if j < 0 {
				t.Errorf("user %d: meeting %s is not the user's", want.ID, m.ID)
				continue
			}
			w := want.Meetings[j]
			// An empty address may come back as null.
			if got := m.Address; (got == nil && w.Address != "") || (got != nil && *got != w.Address) {
				t.Errorf("meeting %s: address %v, want %q", m.ID, got, w.Address)
			}
			if w.ThreadID == "" {
				continue
			}
			k := slices.IndexFunc(want.Threads, func(th fakeapi.Thread) bool { return th.ID == w.ThreadID })
			if k >= 0 && (m.Thread == nil || m.Thread.ID != w.ThreadID || m.Thread.Name != want.Threads[k].Name) {
				t.Errorf("meeting %s: thread %+v, want %s %q", m.ID, m.Thread, w.ThreadID, want.Threads[k].Name)
			}
		}
		if got.Threads.TotalCount != len(want.Threads) {
			t.Errorf("user %d: threads.totalCount = %d, want %d", want.ID, got.Threads.TotalCount, len(want.Threads))
		}
		var names []string
		for _, th := range got.Threads.Nodes {
			names = append(names, th.Name)
		}
		var wantNames []string
		for _, th := range want.Threads[:min(2, len(want.Threads))] {
			wantNames = append(wantNames, th.Name)
		}
		if !slices.Equal(names, wantNames) {
			t.Errorf("user %d: thread names %q, want %q", want.ID, names, wantNames)
		}
	}
}

// consoleErrors collects the tab's uncaught exceptions and console errors
// in the background, from the moment it is called.
type consoleErrors struct {
	mu   sync.Mutex
	seen []string
}

func watchConsole(ctx context.Context) *consoleErrors {
	c := &consoleErrors{}
	messages := chromedp.Console(ctx) // subscribed now; read below
	go func() {
		for m, err := range messages {
			if err != nil {
				return // the tab closed
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				c.mu.Lock()
				c.seen = append(c.seen, m.String())
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// check reports the errors seen so far.
func (c *consoleErrors) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.seen {
		t.Errorf("the page reported an error: %s", m)
	}
}
