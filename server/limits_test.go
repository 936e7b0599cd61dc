package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tychoctl/tycho/executor"
)

// blockingSystems is a fake whose starts wait until release is closed.
type blockingSystems struct {
	*fakeSystems
	started chan struct{}
	release chan struct{}
}

func (b *blockingSystems) Start(ctx context.Context, spec StartSpec) (*executor.System, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.fakeSystems.Start(ctx, spec)
}

// serveFrom serves a start request of the test token from addr.
func serveFrom(s *Server, addr, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/system/start", strings.NewReader(`{"name": "x", "system": `+okSystem+`}`))
	r.RemoteAddr = addr
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// TestPerClientLimit: a client with as many requests in flight as the
// server allows gets 429 with Retry-After; another client, or another
// token from the same address, is served.
func TestPerClientLimit(t *testing.T) {
	t.Parallel()
	b := &blockingSystems{fakeSystems: newFake(), started: make(chan struct{}, 8), release: make(chan struct{})}
	const other = "another-token-0123456789"
	s := newTestServer(t, nil, func(o *Options) {
		o.Systems = b
		o.Tokens = []string{testToken, other}
		o.Limits = Limits{PerClient: 2}
	})
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- serveFrom(s, "192.0.2.1:1000", testToken).Code
		}()
	}
	<-b.started
	<-b.started
	w := serveFrom(s, "192.0.2.1:1001", testToken)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("third request of the client: %d (Retry-After %q), want 429 with Retry-After: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if !strings.Contains(w.Body.String(), "this client may have 2 at once") {
		t.Errorf("message: %s", w.Body)
	}
	// the limit holds on every authenticated route: ps and restart too
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/v1/systems/"+guidA+"/services", nil),
		httptest.NewRequest("POST", "/v1/systems/"+guidA+"/restart", strings.NewReader(`{}`)),
	} {
		r.RemoteAddr = "192.0.2.1:1004"
		r.Header.Set("Authorization", "Bearer "+testToken)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s of the client: %d (Retry-After %q), want 429 with Retry-After: %s", r.Method, r.URL.Path, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	// other clients are served while the first waits
	done := make(chan int, 2)
	go func() { done <- serveFrom(s, "192.0.2.2:1000", testToken).Code }()
	go func() { done <- serveFrom(s, "192.0.2.1:1002", other).Code }()
	<-b.started
	<-b.started
	close(b.release)
	for range 2 {
		if c := <-done; c != http.StatusOK {
			t.Errorf("another client: %d, want 200", c)
		}
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("first client: %d, want 200", c)
		}
	}
	// the places are given back
	if w := serveFrom(s, "192.0.2.1:1003", testToken); w.Code != http.StatusOK {
		t.Errorf("after the others ended: %d, want 200: %s", w.Code, w.Body)
	}
	if w := do(t, s, request{method: "GET", path: "/metrics"}); !strings.Contains(w.Body.String(), "tycho_api_limited_total 3\n") {
		t.Errorf("metrics do not count the refusal:\n%s", w.Body)
	}
}

// TestCompileSlots: compiles beyond the slots wait, at most the timeout;
// a compile that outlives its caller keeps its slot until it ends; a
// panic in a compile is an error, not a crash.
func TestCompileSlots(t *testing.T) {
	t.Parallel()
	cs := newCompileSlots(Limits{Compiles: 1, CompileTimeout: 100 * time.Millisecond})
	unblock := make(chan struct{})
	ended := make(chan struct{})
	start := time.Now()
	_, err := run(context.Background(), cs, func(context.Context) (int, error) {
		<-unblock
		close(ended)
		return 1, nil
	})
	if !errors.Is(err, errCompileBusy) {
		t.Fatalf("a compile past the timeout: %v, want errCompileBusy", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the caller waited %s past a 100ms timeout", d)
	}
	// the slot is still held by the abandoned compile
	if _, err := run(context.Background(), cs, func(context.Context) (int, error) { return 2, nil }); !errors.Is(err, errCompileBusy) {
		t.Errorf("while the slot is held: %v, want errCompileBusy", err)
	}
	close(unblock)
	<-ended
	var v int
	for range 100 { // the slot is freed just after ended
		if v, err = run(context.Background(), cs, func(context.Context) (int, error) { return 3, nil }); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || v != 3 {
		t.Errorf("after the slot is freed: %v, %v", v, err)
	}
	_, err = run(context.Background(), cs, func(context.Context) (int, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panic: boom") {
		t.Errorf("a panicking compile: %v", err)
	}
}
