package gqlhttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Persisted operations. With automatic persisted queries (APQ, Apollo's
// protocol) a client sends only extensions.persistedQuery.sha256Hash; the
// first time, the server answers PERSISTED_QUERY_NOT_FOUND and the client
// sends the document with the hash, which the server remembers. Only
// documents that passed every check are remembered, so the cache holds no
// garbage an attacker chose.
//
// In allow-list mode only the documents loaded at start run, by hash or by
// identical text; a request for anything else is refused.

// maxRememberedQuery is the largest document APQ or the parsed-document
// cache keeps: with 1,000 entries of at most 32 KiB, neither can grow past
// 32 MiB, whatever clients send.
const maxRememberedQuery = 32 << 10

// An APQStore remembers the documents that automatic persisted queries
// registered, by the lowercase hex SHA-256 of their text. It is called
// concurrently. It holds only documents that passed every check. A store
// that cannot answer answers a miss (the client then sends the document
// again), and one that cannot remember drops the document; a store shared
// by replicas lets a client register on one and hit on another.
type APQStore interface {
	Get(ctx context.Context, hash string) (query string, ok bool)
	Put(ctx context.Context, hash, query string)
}

// lruStore is the default APQStore: an in-process LRU cache.
type lruStore struct{ c *lru.Cache[string, string] }

func newLRUStore(size int) *lruStore {
	c, _ := lru.New[string, string](size)
	return &lruStore{c: c}
}

func (s *lruStore) Get(_ context.Context, hash string) (string, bool) { return s.c.Get(hash) }
func (s *lruStore) Put(_ context.Context, hash, query string)         { s.c.Add(hash, query) }

type persisted struct {
	apq   APQStore          // nil when off or in allow-list mode
	allow map[string]string // hash → document, allow-list mode
	known map[string]bool   // the allow-list's documents, by text
}

func newPersisted(o *Options) *persisted {
	p := &persisted{}
	switch {
	case len(o.AllowedOperations) > 0:
		p.allow = make(map[string]string, len(o.AllowedOperations))
		p.known = make(map[string]bool, len(o.AllowedOperations))
		for h, doc := range o.AllowedOperations {
			p.allow[strings.ToLower(h)] = doc
			p.known[doc] = true
		}
	case !o.DisableAPQ:
		p.apq = o.APQStore
		if p.apq == nil {
			p.apq = newLRUStore(o.APQCacheSize)
		}
	}
	return p
}

// queryHash is the hash APQ clients send: lowercase hex SHA-256 of the text.
func queryHash(q string) string {
	sum := sha256.Sum256([]byte(q))
	return hex.EncodeToString(sum[:])
}

// resolve returns the document a request runs and, for a document APQ
// should remember once it has passed every check, the function that does.
func (p *persisted) resolve(ctx context.Context, r *rawRequest) (query string, remember func(), rerr *reqError) {
	if r.hasDocumentID {
		query, rerr = p.byDocumentID(ctx, r) // documentid.go
		return query, nil, rerr
	}
	hash, hasHash, rerr := persistedHash(r.extensions)
	if rerr != nil {
		return "", nil, rerr
	}
	switch {
	case p.allow != nil && hasHash:
		doc, ok := p.allow[hash]
		if !ok {
			if r.hasQuery {
				return "", nil, notAllowed()
			}
			return "", nil, pqNotFound()
		}
		if r.hasQuery && queryHash(r.query) != hash {
			return "", nil, hashMismatch(r.query)
		}
		return doc, nil, nil
	case p.allow != nil:
		if !r.hasQuery {
			return "", nil, missingQuery()
		}
		if !p.known[r.query] {
			return "", nil, notAllowed()
		}
		return r.query, nil, nil
	case hasHash && p.apq == nil:
		return "", nil, requestErr(http.StatusBadRequest, CodePersistedQueryNotSupported,
			// Apollo clients recognise this exact message and stop sending hashes.
			"PersistedQueryNotSupported")
	case hasHash && !r.hasQuery:
		doc, ok := p.apq.Get(ctx, hash)
		if !ok {
			return "", nil, pqNotFound()
		}
		return doc, nil, nil
	case hasHash:
		if queryHash(r.query) != hash {
			return "", nil, hashMismatch(r.query)
		}
		if len(r.query) > maxRememberedQuery {
			return r.query, nil, nil
		}
		q := r.query
		return q, func() { p.apq.Put(ctx, hash, q) }, nil
	case !r.hasQuery:
		return "", nil, missingQuery()
	}
	return r.query, nil, nil
}

// persistedHash reads extensions.persistedQuery: {"version": 1,
// "sha256Hash": "<64 hex digits>"}.
func persistedHash(ext map[string]any) (hash string, ok bool, rerr *reqError) {
	raw, present := ext["persistedQuery"]
	if !present || raw == nil {
		return "", false, nil
	}
	bad := malformed("extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<64 hex digits>\"}")
	m, isMap := raw.(map[string]any)
	if !isMap {
		return "", false, bad
	}
	if v, _ := m["version"].(json.Number); v.String() != "1" {
		return "", false, bad
	}
	h, _ := m["sha256Hash"].(string)
	if !isSHA256Hex(h) {
		return "", false, bad
	}
	return strings.ToLower(h), true, nil
}

func pqNotFound() *reqError {
	// Apollo clients recognise this exact message and resend with the document.
	return requestErr(http.StatusNotFound, CodePersistedQueryNotFound, "PersistedQueryNotFound")
}

// hashMismatch says what is wrong, and what the client can compare its own
// hashing with: the length of query and its SHA-256, as this server read
// them. The message holds those and fixed text only, never the query or any
// part of it, nor the hash the client sent (masking would remove that).
func hashMismatch(query string) *reqError {
	return requestErr(http.StatusBadRequest, CodePersistedQueryHashMismatch, fmt.Sprintf(
		"extensions.persistedQuery.sha256Hash is not the SHA-256 of query: the %d bytes of query received hash to %s; hash exactly the text sent as query, as UTF-8, in lowercase hex",
		len(query), queryHash(query)))
}

func notAllowed() *reqError {
	return requestErr(http.StatusForbidden, CodeOperationNotAllowed, "this server runs only registered operations, and this document is not one of them")
}

func missingQuery() *reqError {
	return malformed("the request has no query (a string holding the GraphQL document)")
}

// LoadOperations reads an allow-list for Options.AllowedOperations from
// path: either a directory, whose *.graphql and *.gql files (searched
// recursively) each hold one document, or an Apollo persisted-query manifest
// (JSON, {"operations": [{"id": …, "body": …}]}). A document is registered
// under the SHA-256 of its exact text and, when that differs, of its text
// with surrounding white space trimmed; a manifest operation also under its
// id. The documents are checked against the schema by Options.Validate and
// New.
func LoadOperations(path string) (map[string]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	add := func(doc string) {
		out[queryHash(doc)] = doc
		if t := strings.TrimSpace(doc); t != doc && t != "" {
			out[queryHash(t)] = t
		}
	}
	if info.IsDir() {
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || (filepath.Ext(p) != ".graphql" && filepath.Ext(p) != ".gql") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(b)) == "" {
				return fmt.Errorf("%s is empty", p)
			}
			add(string(b))
			return nil
		})
	} else {
		err = loadManifest(path, out, add)
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no operations (*.graphql files or a manifest)", path)
	}
	return out, nil
}

func loadManifest(path string, out map[string]string, add func(string)) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m struct {
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s is neither a directory nor a persisted-query manifest: %w", path, err)
	}
	for i, op := range m.Operations {
		if strings.TrimSpace(op.Body) == "" {
			return fmt.Errorf("%s: operation %d has no body", path, i)
		}
		add(op.Body)
		if op.ID != "" {
			out[strings.ToLower(op.ID)] = op.Body
		}
	}
	return nil
}

// prepareAllowList checks every allowed document the way a request's would
// be checked against schema, and returns them parsed, by text, or what is
// wrong with each bad one. o has its defaults.
func prepareAllowList(o *Options, schema *ast.Schema) (map[string]*ast.QueryDocument, []string) {
	p := newPreparer(o, schema)
	out := make(map[string]*ast.QueryDocument, len(o.AllowedOperations))
	hashes := make([]string, 0, len(o.AllowedOperations))
	for h := range o.AllowedOperations {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	var problems []string
	for _, h := range hashes {
		text := o.AllowedOperations[h]
		if _, done := out[text]; done {
			continue
		}
		doc, rerr := p.prepare(text)
		if rerr != nil {
			problems = append(problems, fmt.Sprintf("operation %s (sha256 %.12s…): %s", operationNames(text), h, firstMessage(rerr.errs)))
			continue
		}
		out[text] = doc
	}
	return out, problems
}

// operationNames names a document's operations for a message, best effort.
func operationNames(text string) string {
	var names []string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "query" || f[0] == "mutation" || f[0] == "subscription") {
			names = append(names, strings.TrimRight(strings.SplitN(f[1], "(", 2)[0], "{"))
		}
	}
	if len(names) == 0 {
		return "(anonymous)"
	}
	return strings.Join(names, ", ")
}

func firstMessage(errs gqlerror.List) string {
	if len(errs) == 0 {
		return "invalid"
	}
	return errs[0].Message
}
