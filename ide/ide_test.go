package ide

import (
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// get serves one request to h and returns the response with its body read.
func get(t *testing.T, h http.Handler, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// csp parses a Content-Security-Policy header into directive → sources.
func csp(t *testing.T, header string) map[string][]string {
	t.Helper()
	if header == "" {
		t.Fatal("no Content-Security-Policy header")
	}
	m := map[string][]string{}
	for d := range strings.SplitSeq(header, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

var (
	scriptTagRE = regexp.MustCompile(`<script([^>]*)>`)
	linkTagRE   = regexp.MustCompile(`<link rel="stylesheet"([^>]*)>`)
	attrRE      = regexp.MustCompile(`(\w+)="([^"]*)"`)
	configRE    = regexp.MustCompile(`(?s)<script type="application/json" id="ide-config">(.*?)</script>`)
	inlineRE    = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	inlineCSSRE = regexp.MustCompile(`(?s)<style nonce="([^"]*)">(.*?)</style>`)
)

// attrs returns the attributes of every tag that re matches in page.
func attrs(re *regexp.Regexp, page string) []map[string]string {
	var tags []map[string]string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		a := map[string]string{}
		for _, kv := range attrRE.FindAllStringSubmatch(m[1], -1) {
			a[kv[1]] = html.UnescapeString(kv[2])
		}
		tags = append(tags, a)
	}
	return tags
}

// checkStrictCSP asserts what every mode shares: no unsafe or wildcard
// sources, the inline script admitted by the hash of the text actually
// served, the inline style by the nonce actually served.
func checkStrictCSP(t *testing.T, res *http.Response, page string) map[string][]string {
	t.Helper()
	policy := csp(t, res.Header.Get("Content-Security-Policy"))
	if got := policy["default-src"]; !slices.Equal(got, []string{"'none'"}) {
		t.Errorf("default-src = %q, want 'none'", got)
	}
	for _, d := range []string{"base-uri", "form-action", "frame-ancestors"} {
		if got := policy[d]; !slices.Equal(got, []string{"'none'"}) {
			t.Errorf("%s = %q, want 'none'", d, got)
		}
	}
	for d, sources := range policy {
		for _, s := range sources {
			wide := strings.HasPrefix(s, "'unsafe-") || strings.Contains(s, "*") || s == "https:" || s == "http:" || s == "blob:"
			if wide || s == "data:" && d != "font-src" && d != "img-src" {
				t.Errorf("%s admits %s", d, s)
			}
		}
	}
	m := inlineRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no inline boot script in the page")
	}
	if h := "'" + integrity([]byte(m[1])) + "'"; !slices.Contains(policy["script-src"], h) {
		t.Errorf("script-src %q lacks the served boot script's hash %s", policy["script-src"], h)
	}
	s := inlineCSSRE.FindStringSubmatch(page)
	if s == nil {
		t.Fatal("no inline style with a nonce in the page")
	}
	nonce := html.UnescapeString(s[1])
	if n := "'nonce-" + nonce + "'"; !slices.Contains(policy["style-src"], n) {
		t.Errorf("style-src %q lacks the page's nonce %s", policy["style-src"], n)
	}
	if got := pageConfigOf(t, page).StyleNonce; got != nonce {
		t.Errorf("config styleNonce = %q, want the style's nonce %q", got, nonce)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	return policy
}

// pageConfigOf parses the page's #ide-config block as boot.js does.
func pageConfigOf(t *testing.T, page string) pageConfig {
	t.Helper()
	m := configRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no #ide-config block in the page")
	}
	var cfg pageConfig
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("#ide-config is not JSON: %v\n%s", err, m[1])
	}
	return cfg
}

func TestPageFromCDN(t *testing.T) {
	h := Handler(Options{Endpoint: "/graphql", Headers: map[string]string{"Authorization": "demo-token"}, CDN: true})
	res, page := get(t, h, "/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	policy := checkStrictCSP(t, res, page)

	// Every file is pinned: exact version in the URL, integrity, CORS mode
	// (without which the browser cannot check the integrity of a
	// cross-origin file), and admitted by its exact URL, not by the CDN.
	var srcs []string
	for _, a := range attrs(scriptTagRE, page) {
		if a["src"] != "" {
			srcs = append(srcs, a["src"])
			checkPinned(t, a, "src", policy["script-src"])
		}
	}
	for _, a := range attrs(linkTagRE, page) {
		checkPinned(t, a, "href", policy["style-src"])
	}
	if len(srcs) != len(scripts) {
		t.Errorf("page loads %d scripts, want %d: %q", len(srcs), len(scripts), srcs)
	}
	for _, d := range []string{"script-src", "style-src"} {
		for _, s := range policy[d] {
			pinnedURL := slices.ContainsFunc(pinned(), func(a asset) bool { return s == cdnBase+a.name() })
			if !pinnedURL && !strings.HasPrefix(s, "'sha256-") && !strings.HasPrefix(s, "'nonce-") {
				t.Errorf("%s admits %s: only the pinned files' exact URLs, a hash or the nonce may be admitted", d, s)
			}
		}
	}
	if got := policy["connect-src"]; !slices.Equal(got, []string{"'self'"}) {
		t.Errorf("connect-src = %q, want 'self'", got)
	}

	cfg := pageConfigOf(t, page)
	if cfg.Endpoint != "/graphql" || cfg.Headers["Authorization"] != "demo-token" || cfg.DefaultQuery != ExampleQuery {
		t.Errorf("config = %+v", cfg)
	}

	// A new nonce in every response.
	res2, page2 := get(t, h, "/")
	if res2.Header.Get("Content-Security-Policy") == res.Header.Get("Content-Security-Policy") || pageConfigOf(t, page2).StyleNonce == cfg.StyleNonce {
		t.Error("two responses share a nonce")
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
}

func checkPinned(t *testing.T, a map[string]string, urlAttr string, admitted []string) {
	t.Helper()
	u := a[urlAttr]
	i := slices.IndexFunc(pinned(), func(p asset) bool { return cdnBase+p.name() == u })
	if i < 0 {
		t.Errorf("%s %s is not a pinned file", urlAttr, u)
		return
	}
	if want := pinned()[i].integrity; a["integrity"] != want {
		t.Errorf("%s: integrity %q, want %q", u, a["integrity"], want)
	}
	if a["crossorigin"] != "anonymous" {
		t.Errorf("%s: crossorigin %q, want anonymous", u, a["crossorigin"])
	}
	if !slices.Contains(admitted, u) {
		t.Errorf("%s is not admitted by %q", u, admitted)
	}
}

func TestPageDefaultsAndNoHeaders(t *testing.T) {
	res, page := get(t, Handler(Options{}), "/")
	checkStrictCSP(t, res, page)
	cfg := pageConfigOf(t, page)
	if cfg.Endpoint != "/graphql" || cfg.DefaultQuery != ExampleQuery || cfg.Headers == nil || len(cfg.Headers) != 0 {
		t.Errorf("config = %+v, want the defaults and empty (not null) headers", cfg)
	}
	if !strings.Contains(page, "<title>salesgraph · GraphiQL</title>") {
		t.Error("default title missing")
	}
}

// TestConfigCannotEscape puts markup in every configurable string: none may
// close the JSON block or the title, and boot.js must read them back intact.
func TestConfigCannotEscape(t *testing.T) {
	evil := `</script><script>alert(1)</script><!--`
	opts := Options{
		Endpoint:     "/graphql?x=" + evil,
		Headers:      map[string]string{"Authorization": evil, evil: "\u2028&'\""},
		DefaultQuery: "# " + evil + "\n{ users(ids: [\"1\"]) { id } }",
		Title:        `<b>"title"</b>`,
	}
	res, page := get(t, Handler(opts), "/")
	checkStrictCSP(t, res, page)
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<!--") {
		t.Fatalf("a configured value broke out of its context:\n%s", page)
	}
	if got, want := strings.Count(page, "</script>"), len(scripts)+2; got != want {
		t.Errorf("page has %d </script>, want %d (files, config block, boot script)", got, want)
	}
	if !strings.Contains(page, "<title>&lt;b&gt;&#34;title&#34;&lt;/b&gt;</title>") {
		t.Errorf("title not HTML-escaped:\n%s", page)
	}
	cfg := pageConfigOf(t, page)
	if cfg.Endpoint != opts.Endpoint || cfg.DefaultQuery != opts.DefaultQuery || len(cfg.Headers) != 2 ||
		cfg.Headers["Authorization"] != evil || cfg.Headers[evil] != "\u2028&'\"" {
		t.Errorf("config did not round-trip: %+v", cfg)
	}
}

func TestAbsoluteEndpoint(t *testing.T) {
	res, page := get(t, Handler(Options{Endpoint: "https://api.example.com/graphql"}), "/")
	policy := checkStrictCSP(t, res, page)
	if got, want := policy["connect-src"], []string{"'self'", "https://api.example.com"}; !slices.Equal(got, want) {
		t.Errorf("connect-src = %q, want %q", got, want)
	}
	for _, bad := range []string{"javascript:alert(1)", "ftp://example.com/graphql", "https:///graphql", "%zz"} {
		if err := Mount(http.NewServeMux(), Options{Endpoint: bad}); err == nil {
			t.Errorf("Mount accepted endpoint %q", bad)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Handler did not panic on a javascript: endpoint")
		}
	}()
	Handler(Options{Endpoint: "javascript:alert(1)"})
}

// TestEmbeddedServesOnlyPinnedFiles serves every pinned file with its
// digest, type and caching headers, and nothing else: not the manifest, not
// the licences, not a path that tries to leave the map.
func TestEmbeddedServesOnlyPinnedFiles(t *testing.T) {
	mux := http.NewServeMux()
	if err := Mount(mux, Options{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, a := range pinned() {
		res, body := get(t, mux, AssetsPath+a.name())
		if res.StatusCode != http.StatusOK || integrity([]byte(body)) != a.integrity {
			t.Errorf("GET %s = %d, body digest %s, want 200 and %s", a.name(), res.StatusCode, integrity([]byte(body)), a.integrity)
		}
		wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[filepath.Ext(a.file)]
		if got := res.Header.Get("Content-Type"); got != wantType {
			t.Errorf("%s: Content-Type %q, want %q", a.name(), got, wantType)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: headers %v", a.name(), res.Header)
		}
		res, _ = get(t, mux, AssetsPath+a.name(), "If-None-Match", res.Header.Get("ETag"))
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%s: conditional GET = %d, want 304", a.name(), res.StatusCode)
		}
	}

	// Through a real server and client, so that the mux's path cleaning and
	// redirects take part, as they would in production.
	js := scripts[0]
	for _, path := range []string{
		AssetsPath + js.pkg + "/" + js.file,            // the real path, without the version
		AssetsPath + "SHA256SUMS",                      // in the embedded folder, not pinned
		AssetsPath + "LICENSES.txt",                    // likewise
		AssetsPath + js.pkg + "@" + js.version + "/..", // dot segments
		AssetsPath + js.name() + "/../../SHA256SUMS",
		AssetsPath + "%2e%2e/%2e%2e/assets.go",                        // encoded dots
		AssetsPath + js.pkg + "@" + js.version + "%2f..%2fSHA256SUMS", // encoded slashes
		AssetsPath + "..%5c..%5cSHA256SUMS",                           // backslashes
		AssetsPath,
	} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d %.80q, want 404", path, res.StatusCode, body)
		}
	}
}

// TestMountEmbedded: the default page needs nothing but its own origin, and
// every file it references is served with the integrity the page states.
func TestMountEmbedded(t *testing.T) {
	mux := http.NewServeMux()
	if err := Mount(mux, Options{Headers: map[string]string{"Authorization": "x"}}); err != nil {
		t.Fatal(err)
	}
	res, page := get(t, mux, "/")
	policy := checkStrictCSP(t, res, page)
	for _, d := range []string{"script-src", "style-src", "connect-src"} {
		for _, s := range policy[d] {
			if strings.Contains(s, ":") {
				t.Errorf("%s admits %s: the default page must need nothing but its own origin", d, s)
			}
		}
	}
	if got := pageConfigOf(t, page); !got.Introspection || strings.Contains(page, "ide-notice\"") {
		t.Errorf("introspection = %v or a notice is shown, with no IntrospectionOff", got.Introspection)
	}
	refs := append(attrs(scriptTagRE, page), attrs(linkTagRE, page)...)
	n := 0
	for _, a := range refs {
		u := a["src"] + a["href"]
		if u == "" {
			continue
		}
		n++
		if !strings.HasPrefix(u, AssetsPath) {
			t.Errorf("page loads %s, not from %s", u, AssetsPath)
			continue
		}
		res, body := get(t, mux, u)
		if res.StatusCode != http.StatusOK || integrity([]byte(body)) != a["integrity"] {
			t.Errorf("GET %s = %d with digest %s, want 200 and the page's integrity %s", u, res.StatusCode, integrity([]byte(body)), a["integrity"])
		}
	}
	if n != len(pinned()) {
		t.Errorf("page loads %d files, want %d", n, len(pinned()))
	}
}

// TestEmbeddedFilesMatchManifest checks the committed files, as go:embed
// took them, against assets/SHA256SUMS, which refresh-assets.sh checks the
// npm files against: the bytes the binary serves are the npm packages'. It
// also checks that the folder holds nothing the manifest does not list, and
// that the page loads the packages it is documented to.
func TestEmbeddedFilesMatchManifest(t *testing.T) {
	listed := map[string]bool{}
	for _, a := range pinned() {
		listed["assets/"+a.name()] = true
		b, err := embedded.ReadFile("assets/" + a.name())
		if err != nil {
			t.Errorf("%s is in the manifest but not embedded: %v (run ide/refresh-assets.sh)", a.name(), err)
			continue
		}
		if got := integrity(b); got != a.integrity {
			t.Errorf("%s: digest %s, the manifest says %s (run ide/refresh-assets.sh)", a.name(), got, a.integrity)
		}
	}
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || listed[p] || p == manifestName || p == "assets/LICENSES.txt" {
			return err
		}
		t.Errorf("%s is embedded but not in the manifest", p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range pinned() {
		got = append(got, a.pkg+"@"+a.version)
	}
	got = slices.Compact(slices.Sorted(slices.Values(got)))
	want := []string{"@graphiql/plugin-explorer@4.0.6", "graphiql@4.1.2", "react-dom@18.2.0", "react@18.2.0"}
	if !slices.Equal(got, want) {
		t.Errorf("the manifest pins %q, want %q (update docs/frontend/ide.md with the versions)", got, want)
	}
	// React first: the others are UMD bundles that read the React globals.
	if scripts[0].pkg != "react" || scripts[1].pkg != "react-dom" {
		t.Errorf("scripts load in the order %v, want react, react-dom first", scripts)
	}
}

func TestParseManifest(t *testing.T) {
	const sum = "4b4969fa4ef3594324da2c6d78ce8766fbbc2fd121fff395aedf997db0a99a06"
	scripts, styles, err := parseManifest([]byte("# comment\n\n" + sum + "  @scope/pkg@1.2.3/dist/a.js\n" + sum + "  lib@0.1.0/b.css\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantJS := asset{pkg: "@scope/pkg", version: "1.2.3", file: "dist/a.js", integrity: "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="}
	if len(scripts) != 1 || scripts[0] != wantJS || len(styles) != 1 || styles[0].name() != "lib@0.1.0/b.css" {
		t.Errorf("parseManifest = %+v, %+v", scripts, styles)
	}
	for _, bad := range []string{
		sum + " lib@1/a.js",             // one space: not sha256sum's format
		sum[:62] + "  lib@1/a.js",       // short digest
		sum + "  lib/a.js",              // no version
		sum + "  @scope/pkg/a.js",       // scoped, no version
		sum + "  lib@1/../../etc.js",    // leaves the folder
		sum + "  lib@1/a.txt",           // neither script nor style
		"# only comments",               // no script
		"zz" + sum[2:] + "  lib@1/a.js", // not hex
	} {
		if _, _, err := parseManifest([]byte(bad)); err == nil {
			t.Errorf("parseManifest accepted %q", bad)
		}
	}
}

// TestIntrospectionOffNotice: with introspection off the page says so above
// the IDE, naming the setting, and tells boot.js not to ask for the schema.
func TestIntrospectionOffNotice(t *testing.T) {
	res, page := get(t, Handler(Options{IntrospectionOff: "SALESGRAPH_INTROSPECTION=<true>"}), "/")
	checkStrictCSP(t, res, page)
	if !strings.Contains(page, `<p class="ide-notice" id="ide-notice" role="status">Introspection is off on this server`) ||
		!strings.Contains(page, "Turn it on with <code>SALESGRAPH_INTROSPECTION=&lt;true&gt;</code>.") {
		t.Errorf("no notice naming the (escaped) setting in the page:\n%s", page)
	}
	if pageConfigOf(t, page).Introspection {
		t.Error("config introspection = true with IntrospectionOff set")
	}
}

// TestExampleQueryIsValid validates the example against the schema file.
func TestExampleQueryIsValid(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "schema.graphqls"))
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	doc, errs := gqlparser.LoadQuery(schema, ExampleQuery)
	if errs != nil {
		t.Fatalf("ExampleQuery is invalid: %v", errs)
	}
	if len(doc.Operations) != 1 || doc.Operations[0].Name != "UsersWithMeetings" {
		t.Errorf("ExampleQuery has operations %v, want one named UsersWithMeetings", doc.Operations)
	}
}
