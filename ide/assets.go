package ide

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// AssetsPath is the URL prefix under which Mount serves the IDE's files when
// Options.AssetsDir is set. Each file's URL below it names the npm package
// and its version, as jsDelivr's do, so the files can be cached forever.
const AssetsPath = "/ide/assets/"

// InstallCommand fills the folder that Options.AssetsDir names
// (ide/assets/node_modules) with the pinned packages, from the npm registry.
const InstallCommand = "npm ci --prefix ide/assets"

// cdnBase is where the default page loads its files from. jsDelivr serves
// every file of every npm tarball byte for byte, so the integrity values
// below, computed from the tarballs, hold for it too.
const cdnBase = "https://cdn.jsdelivr.net/npm/"

// asset is one file the page loads: an npm package at an exact version, a
// path inside its tarball, and the file's Subresource Integrity value. The
// same bytes come from the CDN and from the folder that InstallCommand fills,
// so one value covers both, and Mount refuses a folder whose files differ.
type asset struct {
	pkg, version, file string
	integrity          string
}

// name is the asset's path below cdnBase and AssetsPath: package@version/file.
func (a asset) name() string { return a.pkg + "@" + a.version + "/" + a.file }

// The pinned files: GraphiQL 4 (its last major version with a self-contained
// browser bundle; see the package doc), React 18 (the last with UMD builds)
// and the query-builder explorer plugin. ide/assets/package.json pins the
// same versions; TestPackageJSONMatchesPins keeps the two in step.
//
// The digests were computed from the npm tarballs. Those of graphiql, react,
// react-dom and the explorer's script equal the ones gqlgen's playground
// package pins for the same jsDelivr URLs, which confirms that the CDN serves
// the tarballs' bytes. The explorer's stylesheet is dist/style.css rather
// than the style.min.css gqlgen uses, because jsDelivr generates that file:
// it is in no tarball, so no local folder could match it.
var (
	scripts = []asset{
		{"react", "18.2.0", "umd/react.production.min.js", "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="},
		{"react-dom", "18.2.0", "umd/react-dom.production.min.js", "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="},
		{"graphiql", "4.1.2", "graphiql.min.js", "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="},
		{"@graphiql/plugin-explorer", "4.0.6", "dist/index.umd.js", "sha256-UM8sWOS0Xa9yLY85q6Clh0pF4qpxX+TOcJ41flECqBs="},
	}
	styles = []asset{
		{"graphiql", "4.1.2", "graphiql.min.css", "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="},
		{"@graphiql/plugin-explorer", "4.0.6", "dist/style.css", "sha256-aJCaSuI7+t/EWRrLTis8jU9EFTua5/o7fnwxnroxDvE="},
	}
)

// pinned is every file the page loads.
func pinned() []asset { return append(append([]asset(nil), scripts...), styles...) }

// integrity returns b's Subresource Integrity value (sha256-<base64>).
func integrity(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// localFile is an asset read from Options.AssetsDir.
type localFile struct {
	body        []byte
	contentType string
	etag        string
}

// loadAssets reads every file of want from dir (a node_modules folder) and
// checks it against its pinned digest. It reads them once, at start, so that
// a missing or outdated install stops the server with a message naming the
// fix instead of showing a blank page, and so that serving them never touches
// the file system again.
func loadAssets(dir string, want []asset) (map[string]localFile, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("ide: assets dir %q is not a folder; run %q and point the assets dir at ide/assets/node_modules", dir, InstallCommand)
	}
	files := make(map[string]localFile, len(want))
	var problems []string
	for _, a := range want {
		p := filepath.Join(dir, filepath.FromSlash(a.pkg), filepath.FromSlash(a.file))
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, fmt.Sprintf("%s is missing", p))
			continue
		case err != nil:
			problems = append(problems, err.Error())
			continue
		}
		if got := integrity(b); got != a.integrity {
			problems = append(problems, fmt.Sprintf("%s is not the file of %s@%s (digest %s, want %s)", p, a.pkg, a.version, got, a.integrity))
			continue
		}
		ct := "text/javascript; charset=utf-8"
		if path.Ext(a.file) == ".css" {
			ct = "text/css; charset=utf-8"
		}
		files[a.name()] = localFile{body: b, contentType: ct, etag: `"` + a.integrity + `"`}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("ide: assets dir %q does not hold the pinned IDE files (run %q): %s", dir, InstallCommand, strings.Join(problems, "; "))
	}
	return files, nil
}

// assetHandler serves the loaded files below AssetsPath. Only the pinned
// files exist: a request is a lookup in a map, never a file system path, so
// no URL (with "..", encoded slashes or anything else) reaches other files.
type assetHandler map[string]localFile

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
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
