package main

// End-to-end tests of the GraphiQL IDE: salesgraph runs in demo mode through
// run(), as `go run .` starts it, and headless Chromium (Debian's package)
// drives the page the way a person would. The browser, like a laptop with no
// network or a locked-down deployment, can resolve no host but the loopback
// address: the IDE's files are the ones embedded in the binary. The CDN mode
// is tested with those same files answered through DevTools' request
// interception, posing as jsDelivr.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/ide"
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

// TestIDEInBrowser opens the IDE that the default configuration (`go run .`)
// serves, in headless Chromium that can reach no host but the server, and
// fails on any request to another origin. It runs the example
// operation with the prefilled demo credential and checks the result pane
// against the fake upstream's dataset; then it replaces the credential with a
// wrong one, runs again and checks that the error is shown. Throughout, the
// page must not trip its Content-Security-Policy.
//
// Then it opens the documentation, history and query-builder panels and the
// settings dialog. It leaves artifacts/ide.png (the example's answer),
// artifacts/ide-forbidden.png (the wrong credential's error) and
// artifacts/ide-explorer.png (the query builder).
func TestIDEInBrowser(t *testing.T) {
	requireBrowser(t)
	base := startForBrowser(t)
	dataset := fakeapi.NewDataset(fakeapi.WithUsers(50)) // demo mode's default
	ctx := newBrowser(t)

	requests := watchRequests(t, ctx)
	checkPage := openIDE(t, ctx, base+"/")
	defer checkPage()
	defer checkSameOrigin(t, base, requests)

	// The prefilled editors: the example operation, and the demo credential
	// in the headers tab, which is open.
	query, err := chromedp.Run(ctx, editorText(selQueryEditor))
	if err != nil || query != ide.ExampleQuery {
		t.Fatalf("query editor holds %q (%v), want ide.ExampleQuery", query, err)
	}
	headers, err := chromedp.Run(ctx, editorText(selHeadersEditor))
	if err != nil || !strings.Contains(headers, `"Authorization": "`+fakeapi.DefaultToken+`"`) {
		t.Fatalf("headers editor holds %q (%v), want the demo credential", headers, err)
	}

	// Run the example with the execute button, as a person would.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selExecute))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, waitResult(`"data"`))
	if err != nil {
		t.Fatalf("no result in the result pane: %v", err)
	}
	checkExampleResult(t, text, dataset)
	// What the pane shows on screen (its DOM holds the lines in view only):
	// the first user, with its meeting count.
	visible, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selResult)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(visible, `"id": "1"`) || !strings.Contains(visible, `"totalCount"`) {
		t.Errorf("the result pane does not show user 1:\n%s", visible)
	}
	saveScreenshot(t, ctx, "ide.png")

	// Now a wrong credential, typed over the demo one.
	err = chromedp.Do(ctx,
		chromedp.Click(selHeadersTab),
		chromedp.Click(chromedp.CSS(selHeadersEditor)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// Input.insertText, like a paste: CodeMirror's bracket
			// completion reacts to key presses, not to inserted text.
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: `{"Authorization": "Bearer wrong"}`})
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	headers, err = chromedp.Run(ctx, editorText(selHeadersEditor))
	if err != nil || headers != `{"Authorization": "Bearer wrong"}` {
		t.Fatalf("headers editor holds %q (%v) after typing", headers, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selExecute))); err != nil {
		t.Fatal(err)
	}
	text, err = chromedp.Run(ctx, waitResult(graph.CodeForbidden))
	if err != nil {
		t.Fatalf("the result pane does not show %s: %v", graph.CodeForbidden, err)
	}
	var res exampleResult
	if err := json.Unmarshal([]byte(text), &res); err != nil {
		t.Fatalf("result pane is not JSON: %v\n%s", err, text)
	}
	if len(res.Errors) == 0 || res.Errors[0].Extensions["code"] != graph.CodeForbidden || !strings.Contains(res.Errors[0].Message, "refused") {
		t.Errorf("errors = %+v, want %s with the upstream's refusal", res.Errors, graph.CodeForbidden)
	}
	visible, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selResult)))
	if err != nil || !strings.Contains(visible, graph.CodeForbidden) {
		t.Errorf("the result pane does not show %s on screen (%v):\n%s", graph.CodeForbidden, err, visible)
	}
	saveScreenshot(t, ctx, "ide-forbidden.png")

	// The side panels: the documentation (from the served schema's
	// introspection), the history of this session, and the query builder.
	for _, p := range []struct{ button, panel, want string }{
		{"Show Documentation Explorer", ".graphiql-doc-explorer", "salesgraph: a GraphQL facade"},
		{"Show History", ".graphiql-history", "UsersWithMeetings"},
		{"Show GraphiQL Explorer", ".docExplorerWrap", "meetings"},
	} {
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[aria-label=`+strconv.Quote(p.button)+`]`)))
		if err == nil {
			_, err = chromedp.Run(ctx, waitText(p.panel, p.want))
		}
		if err != nil {
			t.Errorf("%s: %s does not show %q: %v", p.button, p.panel, p.want, err)
		}
	}
	saveScreenshot(t, ctx, "ide-explorer.png")
	// A dialog, whose scroll lock adds a <style> at run time: the CSP
	// admits it by the page's nonce (checked by the deferred function).
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[aria-label="Open settings dialog"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-dialog`)),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS(`.graphiql-dialog`)),
	)
	if err != nil {
		t.Errorf("settings dialog: %v", err)
	}
}

// TestIDEIntrospectionOffInBrowser: with introspection off (the default
// outside demo mode) the page says so above the IDE, naming the setting that
// turns it on; GraphiQL does not ask for the schema, and operations still
// run. It leaves artifacts/ide-introspection-off.png.
func TestIDEIntrospectionOffInBrowser(t *testing.T) {
	requireBrowser(t)
	base := startForBrowser(t, "-introspection=false")
	ctx := newBrowser(t)
	requests := watchRequests(t, ctx)
	checkPage := openIDE(t, ctx, base+"/")
	defer checkPage()

	const want = "Turn it on with SALESGRAPH_INTROSPECTION=true (or -introspection=true)."
	if _, err := chromedp.Run(ctx, waitText("#ide-notice", want)); err != nil {
		t.Fatalf("the page does not say how to turn introspection on: %v", err)
	}
	if slices.Contains(requests(), base+"/graphql") {
		t.Error("GraphiQL asked for the schema, which the server refuses")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selExecute))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, waitResult(`"data"`))
	if err != nil {
		t.Fatalf("no result in the result pane: %v", err)
	}
	checkExampleResult(t, text, fakeapi.NewDataset(fakeapi.WithUsers(50)))
	saveScreenshot(t, ctx, "ide-introspection-off.png")
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

// TestIDEOff turns the IDE off, as production may: no page, no files, and
// the GraphQL endpoint unaffected.
func TestIDEOff(t *testing.T) {
	base := startForBrowser(t, "-ide=false")
	for _, path := range []string{"/", ide.AssetsPath + "graphiql@4.1.2/graphiql.min.js"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with the IDE off = %d, want 404", path, res.StatusCode)
		}
	}
	res, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"{ user(id: \"1\") { id } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			User struct{ ID string } `json:"user"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Data.User.ID != "1" {
		t.Errorf("POST /graphql with the IDE off: %+v, %v", out, err)
	}
}

// TestIDEAssetsSetting: the IDE's files come from the binary unless -ide-assets
// says cdn, and any other value stops the start with a message naming it.
func TestIDEAssetsSetting(t *testing.T) {
	err := run(context.Background(), []string{"-listen-addr", "127.0.0.1:0", "-ide-assets", "node_modules"},
		func(string) string { return "" }, nil, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "ide-assets must be embedded or cdn") {
		t.Errorf("run with -ide-assets node_modules = %v, want the setting named", err)
	}
	file := ide.AssetsPath + "graphiql@4.1.2/graphiql.min.js"
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, http.StatusOK},
		{[]string{"-ide-assets", "cdn"}, http.StatusNotFound},
	} {
		base := startForBrowser(t, c.args...)
		res, err := http.Get(base + file)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("GET %s with %q = %d, want %d", file, c.args, res.StatusCode, c.want)
		}
	}
}

// jsDelivr is where the page loads GraphiQL from with -ide-assets=cdn.
const jsDelivr = "https://cdn.jsdelivr.net/npm/"

// fakeCDN answers the tab's requests to jsDelivr from ide/assets, which holds
// the very bytes jsDelivr serves (the files of the npm tarballs, below
// package@version/ as in jsDelivr's URLs), so that the CDN mode can be tested
// on a machine without network. tamper, when not nil, may change a file on
// its way. It returns a func that lists the URLs requested so far.
func fakeCDN(t *testing.T, ctx context.Context, tamper func(url string, body []byte) []byte) (requested func() []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		urls []string
	)
	paused := chromedp.Events(ctx, fetch.RequestPaused) // subscribed now; read below
	_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: jsDelivr + "*"}}})
	if err != nil {
		t.Fatalf("intercept %s: %v", jsDelivr, err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return // the tab closed
			}
			u := ev.Request.URL
			mu.Lock()
			urls = append(urls, u)
			mu.Unlock()
			code, body := int64(http.StatusNotFound), []byte("not found")
			if name := strings.TrimPrefix(u, jsDelivr); !strings.Contains(name, "..") {
				if b, err := os.ReadFile(filepath.Join("ide", "assets", filepath.FromSlash(name))); err == nil {
					code, body = http.StatusOK, b
				}
			}
			if tamper != nil && code == http.StatusOK {
				body = tamper(u, body)
			}
			contentType := "text/javascript; charset=utf-8"
			if strings.HasSuffix(u, ".css") {
				contentType = "text/css; charset=utf-8"
			}
			_, err := chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID:    ev.RequestID,
				ResponseCode: code,
				Body:         body,
				// As jsDelivr answers: without CORS the browser could not
				// check a cross-origin file's integrity.
				ResponseHeaders: []*fetch.HeaderEntry{
					{Name: "Content-Type", Value: contentType},
					{Name: "Access-Control-Allow-Origin", Value: "*"},
				},
			})
			if err != nil {
				return
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(urls)
	}
}

// TestIDEFromCDNInBrowser loads the page of -ide-assets=cdn, whose files come
// from jsDelivr, each pinned and checked with Subresource Integrity. The
// browser has no network, so fakeCDN answers for jsDelivr with the same bytes. The
// test proves that the page fetches exactly the files it references, that
// its CSP admits them and their integrity values match so GraphiQL runs; and
// that a file changed on its way is refused, leaving the page's message.
func TestIDEFromCDNInBrowser(t *testing.T) {
	requireBrowser(t)
	base := startForBrowser(t, "-ide-assets", "cdn")

	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var referenced []string
	for _, m := range regexp.MustCompile(`(?:src|href)="(https://[^"]+)"`).FindAllStringSubmatch(string(body), -1) {
		referenced = append(referenced, m[1])
	}
	if len(referenced) == 0 {
		t.Fatalf("the CDN page references no CDN file:\n%s", body)
	}

	t.Run("pinned files", func(t *testing.T) {
		ctx := newBrowser(t)
		requested := fakeCDN(t, ctx, nil)
		check := openIDE(t, ctx, base+"/")
		defer check()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selExecute))); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, waitResult(`"data"`)); err != nil {
			t.Fatalf("no result in the result pane: %v", err)
		}
		got := requested()
		slices.Sort(got)
		slices.Sort(referenced)
		if !slices.Equal(got, referenced) {
			t.Errorf("requested from the CDN:\n%q\nwant the page's files:\n%q", got, referenced)
		}
	})

	t.Run("tampered file", func(t *testing.T) {
		ctx := newBrowser(t)
		fakeCDN(t, ctx, func(u string, body []byte) []byte {
			if strings.HasSuffix(u, "/graphiql.min.js") {
				return append(slices.Clip(body), "\n;window.tampered = true;"...)
			}
			return body
		})
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, waitText("#graphiql", "did not load from "+jsDelivr)); err != nil {
			t.Fatalf("the page does not say that its files did not load: %v", err)
		}
		ran, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.tampered === true`))
		if err != nil || ran {
			t.Errorf("the tampered file ran (%v)", err)
		}
	})
}
