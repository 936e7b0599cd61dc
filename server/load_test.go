package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mergeChain is the merge-key bomb: each level holds three merges of the
// one before, so the expanded document grows as 3^depth.
func mergeChain(depth int) string {
	var b strings.Builder
	b.WriteString("x-0: &m0 {a: 1}\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "x-%d: &m%d {b0: {<<: *m%d}, b1: {<<: *m%d}, b2: {<<: *m%d}}\n", i, i, i-1, i-1, i-1)
	}
	fmt.Fprintf(&b, "services:\n  web:\n    image: nginx\n    labels:\n      bomb: *m%d\n", depth)
	return b.String()
}

// nestedLists is 8 KB of nested flow lists.
func nestedLists() string {
	return "services:\n  web:\n    image: nginx\n    command: " + strings.Repeat("[", 4000) + strings.Repeat("]", 4000) + "\n"
}

// attacks are the documents that once exhausted a server.
var attacks = map[string]string{
	"merge chain 12": mergeChain(12),
	"merge chain 24": mergeChain(24),
	"nested lists":   nestedLists(),
	"self merge":     "x-a: &a {<<: *a}\nservices:\n  web: {image: nginx}\n",
	"alias bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nservices:\n  web: {image: nginx, labels: {x: *g}}\n",
}

// TestLoadBounded: 50 clients on loopback, 40 of them sending normal
// starts and status calls and 10 sending the expansion and nesting
// attacks. Every normal request succeeds, every attack is refused, no
// request outlives the compile timeout, and the server's heap stays under
// a bound; the latencies are reported.
func TestLoadBounded(t *testing.T) {
	const (
		clients   = 50
		attackers = 10
		perClient = 10
		heapBound = 1 << 30 // bytes: what a server with 4 compile slots may use
	)
	f := newFake()
	tokens := make([]string, clients)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("load-token-%02d-0123456789", i)
	}
	s := newTestServer(t, f, func(o *Options) {
		o.Tokens = tokens
		o.MaxBodyBytes = 1 << 20
	})
	ts := httptest.NewServer(s)
	defer ts.Close()

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	names := make([]string, 0, len(attacks))
	for n := range attacks {
		names = append(names, n)
	}
	slices.Sort(names)
	type result struct {
		kind   string // "status", "start", or the attack's name
		code   int
		took   time.Duration
		errMsg string
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	post := func(token, path, body string) (int, string, error) {
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, resp.Status)
		return resp.StatusCode, b.String(), nil
	}
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perClient {
				var kind, path, body string
				switch {
				case i < attackers:
					kind = names[(i+j)%len(names)]
					path, body = "/system/start", fmt.Sprintf(`{"name": "a%d", "system": %q}`, i, attacks[kind])
				case j%2 == 0:
					kind, path, body = "start", "/system/start", fmt.Sprintf(`{"name": "n%d", "system": %s}`, i, okSystem)
				default:
					kind, path, body = "status", "/system/status", `{}`
				}
				start := time.Now()
				code, msg, err := post(tokens[i], path, body)
				r := result{kind: kind, code: code, took: time.Since(start), errMsg: msg}
				if err != nil {
					r.errMsg = err.Error()
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled

	var normal, attack []time.Duration
	for _, r := range results {
		if r.took > DefaultCompileTimeout+10*time.Second {
			t.Errorf("%s took %s, past the compile timeout", r.kind, r.took)
		}
		switch r.kind {
		case "start", "status":
			normal = append(normal, r.took)
			if r.code != http.StatusOK {
				t.Errorf("normal %s: %d %s", r.kind, r.code, r.errMsg)
			}
		default:
			attack = append(attack, r.took)
			if r.code/100 != 4 {
				t.Errorf("attack %q: %d %s, want a 4xx", r.kind, r.code, r.errMsg)
			}
		}
	}
	if p := peak.Load(); p > heapBound {
		t.Errorf("peak heap %d MiB, over the bound of %d MiB", p>>20, heapBound>>20)
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[int(float64(len(d)-1)*p)]
	}
	t.Logf("%d normal requests: p50 %s, p99 %s, max %s; %d attacks: p50 %s, max %s; peak heap %d MiB",
		len(normal), pct(normal, 0.5), pct(normal, 0.99), pct(normal, 1), len(attack), pct(attack, 0.5), pct(attack, 1), peak.Load()>>20)
}
