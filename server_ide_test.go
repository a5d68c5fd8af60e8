package main

// End-to-end tests of the GraphiQL IDE, in headless Chromium where a page is
// driven (the harness and how the browser is confined are browser_test.go's).

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/salesgraph/salesgraph/graph"
	"github.com/salesgraph/salesgraph/ide"
	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

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
