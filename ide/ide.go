// Package ide serves the GraphiQL IDE: one HTML page that loads pinned
// GraphiQL, React and query-builder (explorer) files and points them at the
// GraphQL endpoint, with an example operation and, in demo mode, a prefilled
// Authorization header.
//
// The files are embedded in the binary (assets/, fetched from npm by
// refresh-assets.sh and checked against assets/SHA256SUMS) and served by
// Mount below AssetsPath, from the page's own origin, so the IDE works with
// no network beyond the server. With Options.CDN the page loads the same
// files from jsDelivr instead, each pinned to an exact npm version and
// guarded by Subresource Integrity, so a tampered CDN file is refused. The
// page carries the integrity values in both modes.
//
// The page is served with a strict Content-Security-Policy: no 'unsafe-eval'
// (GraphiQL 4 needs none) and no 'unsafe-inline'. The one inline script is
// fixed and admitted by its hash; the server's settings reach it as JSON in a
// data block, which the browser never runs, and whose text is escaped so that
// no value can close the block. The <style> elements that GraphiQL's dialogs
// add at run time carry a nonce that is new in every response. The embedded
// files are admitted as 'self'; in CDN mode scripts and styles are admitted
// by their exact URLs rather than by the CDN's origin, which also serves
// every other npm package.
//
// GraphiQL 4, not the current 5, is served: GraphiQL 5 ships only ES modules
// with bare imports, stylesheet imports and Monaco web workers, which a
// browser can load only after a bundler build or through esm.sh, whose
// generated files have no stable digest to pin. GraphiQL 4.1.2 has a
// self-contained bundle that is byte for byte the same on npm and on the CDN.
package ide

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ExampleQuery is the operation the IDE opens with unless
// Options.DefaultQuery replaces it: it shows in one request what the facade
// is for, nesting two REST endpoints per user.
const ExampleQuery = `# Salespeople with their latest meetings and the deals they belong to.
query UsersWithMeetings {
  users(ids: ["1", "2"]) {
    id
    meetings(first: 3) {
      totalCount
      nodes { id status startDate address thread { id name contractValue } }
    }
    threads(first: 2) { totalCount nodes { name status } }
  }
}
`

// Options configures the IDE page.
type Options struct {
	// Endpoint is the GraphQL endpoint the IDE sends operations to: a path
	// on the same origin (default "/graphql") or an absolute http(s) URL,
	// whose origin the CSP then admits for connections.
	Endpoint string
	// Headers prefill the headers editor, e.g. with the demo credential.
	// They are shown and editable, never sent behind the user's back.
	// GraphiQL keeps no headers in the browser's storage, so a reload
	// brings these back in place of edited ones.
	Headers map[string]string
	// Title is the page's title; default "salesgraph · GraphiQL".
	Title string
	// DefaultQuery is the editor's text on a first visit; default
	// ExampleQuery. Later visits restore the user's own tabs.
	DefaultQuery string
	// CDN makes the page load its files from jsDelivr instead of the
	// embedded copies that Mount serves.
	CDN bool
	// IntrospectionOff, when not empty, says that the endpoint refuses
	// introspection and names the setting that turns it on, such as
	// "SALESGRAPH_INTROSPECTION=true". The page then says so above the IDE,
	// and GraphiQL does not ask for the schema, an answer that would only
	// be the refusal; operations still run, without completion or docs.
	IntrospectionOff string
}

// Mount registers the IDE on mux: the page at "GET /{$}" and, unless
// opts.CDN is set, the embedded files below AssetsPath. It returns an error
// when opts.Endpoint is neither a path nor an http(s) URL.
func Mount(mux *http.ServeMux, opts Options) error {
	p, err := newPage(opts)
	if err != nil {
		return err
	}
	if !opts.CDN {
		files, err := newAssetHandler()
		if err != nil {
			return err
		}
		mux.Handle("GET "+AssetsPath, files)
	}
	mux.Handle("GET /{$}", p)
	return nil
}

// Handler returns the IDE page alone. Unless opts.CDN is set the page loads
// its files from AssetsPath, which only Mount serves; use Mount then.
// Handler panics if opts.Endpoint is not a path or an http(s) URL, as a
// configuration mistake that must stop the start.
func Handler(opts Options) http.Handler {
	p, err := newPage(opts)
	if err != nil {
		panic(err)
	}
	return p
}

// bootJS starts GraphiQL; see the comment at its top.
//
//go:embed boot.js
var bootJS string

// pageCSS is the page's own inline style, admitted by the nonce.
const pageCSS = `body{margin:0;font-family:system-ui,sans-serif;display:flex;flex-direction:column;height:100vh}` +
	`#graphiql{flex:1;min-height:0}.ide-message{padding:2rem}` +
	`.ide-notice{margin:0;padding:.5rem 1rem;background:#fff4ce;color:#3b2e00;border-bottom:1px solid #e0c36b;font-size:14px}` +
	`.ide-notice code{font-size:13px}`

var pageTemplate = template.Must(template.New("ide").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
{{- range .Styles}}
<link rel="stylesheet" href="{{.URL}}" integrity="{{.Integrity}}" crossorigin="anonymous">
{{- end}}
<style nonce="{{.Nonce}}">{{.CSS}}</style>
</head>
<body>
{{- with .Notice}}
<p class="ide-notice" id="ide-notice" role="status">{{.}}</p>
{{- end}}
<div id="graphiql"><p class="ide-message">Loading GraphiQL…</p></div>
<noscript><p class="ide-message">The GraphiQL IDE needs JavaScript. The GraphQL endpoint is {{.Endpoint}}.</p></noscript>
<script type="application/json" id="ide-config">{{.Config}}</script>
{{- range .Scripts}}
<script src="{{.URL}}" integrity="{{.Integrity}}" crossorigin="anonymous"></script>
{{- end}}
<script>{{.Boot}}</script>
</body>
</html>
`))

// pageConfig is what boot.js reads from #ide-config.
type pageConfig struct {
	Endpoint     string            `json:"endpoint"`
	Headers      map[string]string `json:"headers"`
	DefaultQuery string            `json:"defaultQuery"`
	LoadError    string            `json:"loadError"`
	// Introspection false tells boot.js that the endpoint refuses it, so
	// that GraphiQL does not ask.
	Introspection bool `json:"introspection"`
	// StyleNonce admits the <style> elements that GraphiQL's dialogs add at
	// run time (react-remove-scroll's scroll lock); boot.js hands it to them
	// through the __webpack_nonce__ global that their code reads.
	StyleNonce string `json:"styleNonce"`
}

// link is a script or stylesheet reference in the page.
type link struct{ URL, Integrity string }

// page serves the IDE page. Everything but the style nonce depends only on
// Options and is prepared once.
type page struct {
	cfg       pageConfig
	title     string
	notice    template.HTML // above the IDE; empty for none
	scripts   []link
	styles    []link
	scriptSrc []string // CSP sources of the script and style files
	styleSrc  []string
	connect   string // CSP connect-src
}

func newPage(opts Options) (*page, error) {
	if opts.Endpoint == "" {
		opts.Endpoint = "/graphql"
	}
	if opts.Title == "" {
		opts.Title = "salesgraph · GraphiQL"
	}
	if opts.DefaultQuery == "" {
		opts.DefaultQuery = ExampleQuery
	}
	if opts.Headers == nil {
		opts.Headers = map[string]string{}
	}
	p := &page{
		cfg: pageConfig{
			Endpoint:      opts.Endpoint,
			Headers:       opts.Headers,
			DefaultQuery:  opts.DefaultQuery,
			Introspection: opts.IntrospectionOff == "",
			LoadError:     "The GraphiQL files did not load from " + AssetsPath + ": salesgraph serves them only when the IDE is mounted with ide.Mount.",
		},
		title:   opts.Title,
		connect: "'self'",
	}
	if opts.IntrospectionOff != "" {
		p.notice = template.HTML("Introspection is off on this server, so the IDE has no schema: no documentation, completion or query builder; operations still run. " +
			"Turn it on with <code>" + template.HTMLEscapeString(opts.IntrospectionOff) + "</code>.")
	}
	endpoint, err := url.Parse(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("ide: endpoint %q: %w", opts.Endpoint, err)
	}
	if endpoint.IsAbs() {
		if (endpoint.Scheme != "http" && endpoint.Scheme != "https") || endpoint.Host == "" {
			return nil, fmt.Errorf("ide: endpoint %q is neither a path nor an http(s) URL", opts.Endpoint)
		}
		p.connect += " " + endpoint.Scheme + "://" + endpoint.Host
	}

	// The embedded files are admitted as 'self'. CDN files are admitted by
	// their exact URLs: admitting the CDN's origin would admit every package
	// anyone publishes to npm.
	base := AssetsPath
	p.scriptSrc, p.styleSrc = []string{"'self'"}, []string{"'self'"}
	if opts.CDN {
		base = cdnBase
		p.cfg.LoadError = "The GraphiQL files did not load from " + cdnBase + ". Without access to it, run salesgraph with the IDE's embedded files (SALESGRAPH_IDE_ASSETS=embedded, the default)."
		p.scriptSrc, p.styleSrc = nil, nil
		for _, a := range scripts {
			p.scriptSrc = append(p.scriptSrc, base+a.name())
		}
		for _, a := range styles {
			p.styleSrc = append(p.styleSrc, base+a.name())
		}
	}
	for _, a := range scripts {
		p.scripts = append(p.scripts, link{URL: base + a.name(), Integrity: a.integrity})
	}
	for _, a := range styles {
		p.styles = append(p.styles, link{URL: base + a.name(), Integrity: a.integrity})
	}
	// Render once to report a configuration that cannot be encoded now
	// rather than on every request.
	if _, err := p.render("probe"); err != nil {
		return nil, err
	}
	return p, nil
}

// render returns the page with the given style nonce.
func (p *page) render(nonce string) ([]byte, error) {
	cfg := p.cfg
	cfg.StyleNonce = nonce
	js, err := jsonForScript(cfg)
	if err != nil {
		return nil, fmt.Errorf("ide: %w", err)
	}
	var buf bytes.Buffer
	err = pageTemplate.Execute(&buf, struct {
		Title, Endpoint, Nonce string
		Notice                 template.HTML
		Styles, Scripts        []link
		CSS                    template.CSS
		Config, Boot           template.JS
	}{
		Title:    p.title,
		Endpoint: p.cfg.Endpoint,
		Nonce:    nonce,
		Notice:   p.notice,
		Styles:   p.styles,
		Scripts:  p.scripts,
		CSS:      template.CSS(pageCSS),
		Config:   template.JS(js),
		Boot:     template.JS(bootJS),
	})
	if err != nil {
		return nil, fmt.Errorf("ide: page: %w", err)
	}
	return buf.Bytes(), nil
}

// csp returns the page's Content-Security-Policy for a style nonce.
func (p *page) csp(nonce string) string {
	return strings.Join([]string{
		"default-src 'none'",
		// The one inline script is fixed: its hash pins it.
		"script-src " + strings.Join(append(slices.Clip(p.scriptSrc), hashSource(bootJS)), " "),
		"style-src " + strings.Join(append(slices.Clip(p.styleSrc), "'nonce-"+nonce+"'"), " "),
		// GraphiQL's stylesheet embeds its fonts and icons as data: URLs.
		"font-src data:",
		"img-src 'self' data:",
		"connect-src " + p.connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func (p *page) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	// crypto/rand.Read never fails; URL-safe base64 has no character that
	// HTML would escape in the nonce attribute.
	var b [18]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	body, err := p.render(nonce)
	if err != nil {
		// newPage rendered the same configuration already.
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", p.csp(nonce))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// Each response has its own nonce: no cache may replay one.
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// hashSource is the CSP source expression that admits exactly the inline
// script whose text is s.
func hashSource(s string) string { return "'" + integrity([]byte(s)) + "'" }

// jsonForScript encodes v for a <script type="application/json"> block.
// encoding/json escapes <, > and & as \u003c, \u003e and \u0026, so no value
// can write "</script" or "<!--" and leave the block; JSON.parse reads the
// escapes back as the original characters.
func jsonForScript(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if bytes.ContainsAny(b, "<>") {
		// Unreachable while json.Marshal escapes HTML; kept as a tripwire.
		return nil, fmt.Errorf("config JSON is not safe to embed in HTML")
	}
	return b, nil
}
