package ide

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// AssetsPath is the URL prefix below which Mount serves the embedded files.
// Each file's URL below it names the npm package and its version, as
// jsDelivr's do, so that it can be cached for ever.
const AssetsPath = "/ide/assets/"

// cdnBase is where the page loads its files from with Options.CDN. jsDelivr
// serves every file of every npm tarball byte for byte, so the digests of
// the embedded files, which come from the same tarballs, hold for it too.
const cdnBase = "https://cdn.jsdelivr.net/npm/"

// embedded holds the files the page loads, as ide/refresh-assets.sh fetched
// them from npm, below assets/<package>@<version>/, and the manifest of their
// digests (assets/SHA256SUMS), which is the one list of what the page loads.
//
//go:embed assets
var embedded embed.FS

// manifestName is the manifest's path in embedded.
const manifestName = "assets/SHA256SUMS"

// asset is one file the page loads: an npm package at an exact version, a
// path inside its tarball, and the file's Subresource Integrity value.
type asset struct {
	pkg, version, file string
	integrity          string
}

// name is the asset's path below cdnBase, AssetsPath and assets/:
// package@version/file.
func (a asset) name() string { return a.pkg + "@" + a.version + "/" + a.file }

// The pinned files, from the manifest: the scripts in the order the page runs
// them, then the stylesheets.
var scripts, styles = mustParseManifest()

// pinned is every file the page loads.
func pinned() []asset { return append(append([]asset(nil), scripts...), styles...) }

func mustParseManifest() (scripts, styles []asset) {
	b, err := embedded.ReadFile(manifestName)
	if err == nil {
		scripts, styles, err = parseManifest(b)
	}
	if err != nil {
		// A manifest that does not parse cannot have passed the tests.
		panic("ide: " + manifestName + ": " + err.Error())
	}
	return scripts, styles
}

// parseManifest reads sha256sum's format, "<hex digest>  <name>" per line,
// where the name is package@version/file; lines starting with # are
// comments.
func parseManifest(b []byte) (scripts, styles []asset, err error) {
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		digest, herr := hex.DecodeString(sum)
		if !ok || herr != nil || len(digest) != sha256.Size {
			return nil, nil, fmt.Errorf("line %d is not \"<sha256 in hex>  <name>\"", i+1)
		}
		a, ok := parseName(name)
		if !ok {
			return nil, nil, fmt.Errorf("line %d: %q is not package@version/file", i+1, name)
		}
		a.integrity = "sha256-" + base64.StdEncoding.EncodeToString(digest)
		switch path.Ext(a.file) {
		case ".js":
			scripts = append(scripts, a)
		case ".css":
			styles = append(styles, a)
		default:
			return nil, nil, fmt.Errorf("line %d: %s is neither .js nor .css", i+1, name)
		}
	}
	if len(scripts) == 0 {
		return nil, nil, fmt.Errorf("no script listed")
	}
	return scripts, styles, nil
}

// parseName splits package@version/file; a scoped package (@scope/name)
// holds one slash more.
func parseName(name string) (asset, bool) {
	n := 2
	if strings.HasPrefix(name, "@") {
		n = 3
	}
	parts := strings.SplitN(name, "/", n)
	if len(parts) != n {
		return asset{}, false
	}
	spec, file := strings.Join(parts[:n-1], "/"), parts[n-1]
	// Past the first character, which is a scoped package's own @.
	pkg, version, ok := strings.Cut(spec[1:], "@")
	if !ok || pkg == "" || version == "" || file == "" || path.Clean(file) != file || strings.HasPrefix(file, "../") {
		return asset{}, false
	}
	return asset{pkg: spec[:1] + pkg, version: version, file: file}, true
}

// integrity returns b's Subresource Integrity value (sha256-<base64>).
func integrity(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// assetFile is one served file. It is read from the executable's own
// data at each request (embed's files seek and read in place): ReadFile
// would copy the 2.5 MB of scripts onto the heap, where every replica
// would hold them, and the garbage collector count them, for as long as it
// runs, most of them never asking for the IDE.
type assetFile struct {
	path        string // in embedded
	contentType string
	etag        string
}

// assetHandler serves the pinned files below AssetsPath. Only the files the
// manifest lists exist: a request is a lookup in a map, never a file system
// path, so no URL (with "..", encoded slashes or anything else) reaches
// anything else, the manifest and the licences included.
type assetHandler map[string]assetFile

// newAssetHandler reads the pinned files from embedded. It cannot fail once
// TestEmbeddedFilesMatchManifest passes: go:embed took the files the
// manifest names at build time.
func newAssetHandler() (assetHandler, error) {
	h := assetHandler{}
	for _, a := range pinned() {
		p := "assets/" + a.name()
		if _, err := fs.Stat(embedded, p); err != nil {
			return nil, fmt.Errorf("ide: embedded file %s: %w", a.name(), err)
		}
		ct := "text/javascript; charset=utf-8"
		if path.Ext(a.file) == ".css" {
			ct = "text/css; charset=utf-8"
		}
		h[a.name()] = assetFile{path: p, contentType: ct, etag: `"` + a.integrity + `"`}
	}
	return h, nil
}

func (h assetHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := h[strings.TrimPrefix(r.URL.Path, AssetsPath)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The URL names the exact version, so the content behind it never changes.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", f.etag)
	file, err := embedded.Open(f.path)
	if err != nil { // newAssetHandler found it: cannot happen
		http.Error(w, "asset missing", http.StatusInternalServerError)
		return
	}
	defer file.Close()
	http.ServeContent(w, r, "", time.Time{}, file.(io.ReadSeeker))
}
