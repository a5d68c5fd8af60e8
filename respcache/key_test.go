package respcache_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/salesgraph/salesgraph/respcache"
)

var secret = bytes.Repeat([]byte("k"), respcache.MinSecretLen)

func mustKeyer(t *testing.T, secret []byte) *respcache.Keyer {
	t.Helper()
	k, err := respcache.NewKeyer(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func get(t *testing.T, url string, header map[string][]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		r.Header[name] = values
	}
	return r
}

const meetingsURL = "http://crm.example/api/v1/users/7/meetings"

func TestKeyCoversTheWholeRequest(t *testing.T) {
	k := mustKeyer(t, secret)
	base := k.Key(get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a"}}))
	for name, r := range map[string]*http.Request{
		"another credential":   get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer b"}}),
		"no credential":        get(t, meetingsURL, nil),
		"another header":       get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a"}, "X-Tenant": {"2"}}),
		"a second value":       get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a", "Bearer b"}}),
		"another user":         get(t, "http://crm.example/api/v1/users/8/meetings", map[string][]string{"Authorization": {"Bearer a"}}),
		"a query":              get(t, meetingsURL+"?page=2", map[string][]string{"Authorization": {"Bearer a"}}),
		"another host":         get(t, "http://staging.crm.example/api/v1/users/7/meetings", map[string][]string{"Authorization": {"Bearer a"}}),
		"another scheme":       get(t, "https://crm.example/api/v1/users/7/meetings", map[string][]string{"Authorization": {"Bearer a"}}),
		"value moved to name":  get(t, meetingsURL, map[string][]string{"Authorizationbearer a": {""}}),
		"credential in a name": get(t, meetingsURL, map[string][]string{"Bearer a": {"Authorization"}}),
	} {
		if k.Key(r) == base {
			t.Errorf("%s: same key", name)
		}
	}
	head := get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a"}})
	head.Method = http.MethodHead
	if k.Key(head) == base {
		t.Error("HEAD and GET: same key")
	}
	other := mustKeyer(t, bytes.Repeat([]byte("o"), respcache.MinSecretLen))
	if other.Key(get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a"}})) == base {
		t.Error("another secret: same key")
	}
}

func TestKeyIgnoresWhatChangesPerRequest(t *testing.T) {
	k := mustKeyer(t, secret)
	base := k.Key(get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a"}, "X-Tenant": {"2"}}))
	same := get(t, meetingsURL, map[string][]string{
		"x-tenant":      {"2"}, // a hand-filled map: sent as the same header
		"Authorization": {"Bearer a"},
		"Traceparent":   {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"X-Request-Id":  {"req-1"},
	})
	if k.Key(same) != base {
		t.Error("trace context, request id or header spelling changed the key")
	}
}

func TestKeyerSecrets(t *testing.T) {
	if _, err := respcache.NewKeyer(secret[:respcache.MinSecretLen-1]); err == nil {
		t.Error("a short secret was accepted")
	}
	r := get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a"}})
	a, b := respcache.NewRandomKeyer(), respcache.NewRandomKeyer()
	if a.Key(r) == b.Key(r) {
		t.Error("two random keyers agree")
	}
	if s := a.Key(r).String(); len(s) != 64 || strings.Contains(s, "Bearer") {
		t.Errorf("key text %q", s)
	}
}

// TestKeysAreStableAcrossVersions: keys live in Redis, shared by every
// replica; during a rolling deployment replicas of two versions must
// compute the same key for the same request, or they share nothing. The
// value is what the key of this request was when it was written: a change
// to the encoding must be deliberate (a new "respcache/vN" domain).
func TestKeysAreStableAcrossVersions(t *testing.T) {
	k := mustKeyer(t, secret)
	r := get(t, meetingsURL+"?page=2", map[string][]string{
		"Authorization": {"Bearer a"},
		"x-tenant":      {"2", "3"},
		"Accept":        {"application/json"},
		"Traceparent":   {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	})
	if got := k.Key(r).String(); got != "254f4fa2d7c864bea3b278a68a849a5038b81e5408dda85783e23d5ea37daeba" {
		t.Errorf("key %s", got)
	}
	if got := respcache.CredentialOf(k.Key(r)); got != "02b76ccc88503b4487fb235a67259594521428d227bbfa3e59c7eebc47ba9141" {
		t.Errorf("credential %s", got)
	}
}

// TestKeyerFor: the one statement of which secret a cache needs: any of
// MinSecretLen bytes or more; none for a cache this process alone uses
// (a random one); one every replica shares for a cache shared through
// Redis.
func TestKeyerFor(t *testing.T) {
	r := get(t, meetingsURL, map[string][]string{"Authorization": {"Bearer a"}})
	for _, shared := range []bool{false, true} {
		k, err := respcache.KeyerFor(secret, shared)
		if err != nil || k.Key(r) != mustKeyer(t, secret).Key(r) {
			t.Errorf("shared %v: a secret given is the one keyed with (%v)", shared, err)
		}
		var se *respcache.SecretError
		if _, err := respcache.KeyerFor(secret[:5], shared); !errors.As(err, &se) || se.Issue != "must be at least 32 bytes, got 5" {
			t.Errorf("shared %v, a short secret: %v", shared, err)
		}
	}
	a, errA := respcache.KeyerFor(nil, false)
	b, errB := respcache.KeyerFor(nil, false)
	if errA != nil || errB != nil || a.Key(r) == b.Key(r) {
		t.Errorf("not shared, no secret: random keyers (%v, %v)", errA, errB)
	}
	var se *respcache.SecretError
	if _, err := respcache.KeyerFor(nil, true); !errors.As(err, &se) || !strings.HasPrefix(se.Issue, "is required") {
		t.Errorf("shared, no secret: %v", err)
	}
}
