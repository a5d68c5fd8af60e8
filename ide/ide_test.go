package ide

import (
	"encoding/json"
	"html"
	"io"
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
	h := Handler(Options{Endpoint: "/graphql", Headers: map[string]string{"Authorization": "demo-token"}})
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

// fakeAssets writes files for a made-up pinned set into a temporary
// node_modules folder, next to a secret that no URL may reach.
func fakeAssets(t *testing.T) (dir string, want []asset) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "node_modules")
	write := func(path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct{ pkg, file, body string }{
		{"lib", "dist/lib.js", "console.log('lib');\n"},
		{"@scope/plugin", "dist/p.css", "body{color:red}\n"},
	} {
		want = append(want, asset{pkg: f.pkg, version: "1.2.3", file: f.file, integrity: integrity([]byte(f.body))})
		write(filepath.Join(dir, filepath.FromSlash(f.pkg), filepath.FromSlash(f.file)), f.body)
	}
	for _, p := range []string{filepath.Join(root, "secret.txt"), filepath.Join(dir, "secret.txt"), filepath.Join(dir, "lib", "secret.txt")} {
		write(p, "SECRET")
	}
	return dir, want
}

func TestLocalAssetsServeOnlyPinnedFiles(t *testing.T) {
	dir, want := fakeAssets(t)
	files, err := loadAssets(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+AssetsPath, assetHandler(files))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, a := range want {
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
	for _, path := range []string{
		AssetsPath + "lib/dist/lib.js",                  // the real path, without the version
		AssetsPath + "lib@1.2.3/secret.txt",             // a file next to a pinned one
		AssetsPath + "lib@1.2.3/../secret.txt",          // dot segments
		AssetsPath + "lib@1.2.3/../../secret.txt",       // out of the folder
		AssetsPath + "%2e%2e/%2e%2e/secret.txt",         // encoded dots
		AssetsPath + "lib@1.2.3%2f..%2f..%2fsecret.txt", // encoded slashes
		AssetsPath + "..%5c..%5csecret.txt",             // backslashes
		AssetsPath + "secret.txt",
		AssetsPath,
	} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || strings.Contains(string(body), "SECRET") {
			t.Errorf("GET %s = %d %q, want 404", path, res.StatusCode, body)
		}
	}
}

func TestLoadAssetsRefusesWrongFiles(t *testing.T) {
	dir, want := fakeAssets(t)
	for name, mutate := range map[string]func(){
		"changed": func() { os.WriteFile(filepath.Join(dir, "lib", "dist", "lib.js"), []byte("evil()"), 0o644) },
		"missing": func() { os.Remove(filepath.Join(dir, "lib", "dist", "lib.js")) },
	} {
		t.Run(name, func(t *testing.T) {
			mutate()
			_, err := loadAssets(dir, want)
			if err == nil || !strings.Contains(err.Error(), InstallCommand) || !strings.Contains(err.Error(), "lib.js") {
				t.Errorf("loadAssets = %v, want an error naming the file and %q", err, InstallCommand)
			}
		})
	}
	if err := Mount(http.NewServeMux(), Options{AssetsDir: filepath.Join(dir, "nope")}); err == nil || !strings.Contains(err.Error(), InstallCommand) {
		t.Errorf("Mount on a missing folder = %v, want an error naming %q", err, InstallCommand)
	}
}

// installedAssets returns the folder InstallCommand fills, skipping the test
// when it is empty, except in CI, which installs it first.
func installedAssets(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("assets", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: CI must run %q first", dir, InstallCommand)
		}
		t.Skipf("%s is missing; run %q", dir, InstallCommand)
	}
	return dir
}

func TestMountInstalledAssets(t *testing.T) {
	dir := installedAssets(t)
	mux := http.NewServeMux()
	if err := Mount(mux, Options{AssetsDir: dir, Headers: map[string]string{"Authorization": "x"}}); err != nil {
		t.Fatal(err)
	}
	res, page := get(t, mux, "/")
	policy := checkStrictCSP(t, res, page)
	for _, d := range []string{"script-src", "style-src"} {
		for _, s := range policy[d] {
			if strings.Contains(s, ":") {
				t.Errorf("%s admits %s in local mode: the page must need nothing but its own origin", d, s)
			}
		}
	}
	refs := append(attrs(scriptTagRE, page), attrs(linkTagRE, page)...)
	n := 0
	for _, a := range refs {
		u := a["src"] + a["href"]
		if u == "" || u == "data:," {
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

// TestPackageJSONMatchesPins keeps ide/assets/package.json and its lockfile,
// which InstallCommand installs, at the versions whose digests assets.go pins.
func TestPackageJSONMatchesPins(t *testing.T) {
	var manifest struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	for path, v := range map[string]any{"assets/package.json": &manifest, "assets/package-lock.json": &lock} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	for _, a := range pinned() {
		if got := manifest.Dependencies[a.pkg]; got != a.version {
			t.Errorf("package.json: %s is %q, want exactly %q", a.pkg, got, a.version)
		}
		if got := lock.Packages["node_modules/"+a.pkg].Version; got != a.version {
			t.Errorf("package-lock.json: %s is %q, want %q", a.pkg, got, a.version)
		}
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
