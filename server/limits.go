package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// Limits bound the work of requests, so that no client, and no request,
// can make the server stop answering the others.
type Limits struct {
	// PerClient bounds the requests of one client (its bearer token and
	// remote address) in flight at once; more are answered 429
	// (0: DefaultPerClient).
	PerClient int
	// Compiles bounds the compiles running at once across all clients; a
	// start waits for a slot, at most CompileTimeout (0: DefaultCompiles).
	Compiles int
	// CompileTimeout bounds the wait for a compile slot and the compile
	// itself; past it the start is answered 503 (0: 20s). The compile
	// keeps its slot until it ends, so that abandoned compiles cannot pile
	// up: expansion and nesting bounds keep each compile short.
	CompileTimeout time.Duration
}

// Defaults of Limits.
const (
	DefaultPerClient      = 64
	DefaultCompiles       = 4
	DefaultCompileTimeout = 20 * time.Second
)

func (l *Limits) normalize() {
	if l.PerClient <= 0 {
		l.PerClient = DefaultPerClient
	}
	if l.Compiles <= 0 {
		l.Compiles = DefaultCompiles
	}
	if l.CompileTimeout <= 0 {
		l.CompileTimeout = DefaultCompileTimeout
	}
}

// clientLimiter counts the requests in flight per client.
type clientLimiter struct {
	max      int
	mu       sync.Mutex
	inFlight map[[sha256.Size]byte]int
}

// clientKey identifies the client of r: its credentials and the host it
// comes from, hashed so that no token is kept.
func clientKey(r *http.Request) [sha256.Size]byte {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return sha256.Sum256([]byte(r.Header.Get("Authorization") + "\x00" + host))
}

// acquire takes a place for the client of r; false when it has max
// requests in flight. release gives it back.
func (c *clientLimiter) acquire(r *http.Request) (release func(), ok bool) {
	k := clientKey(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight == nil {
		c.inFlight = map[[sha256.Size]byte]int{}
	}
	if c.inFlight[k] >= c.max {
		return nil, false
	}
	c.inFlight[k]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.inFlight[k]--; c.inFlight[k] == 0 {
			delete(c.inFlight, k)
		}
	}, true
}

// errCompileBusy is a compile that found no slot, or did not end, in its
// time.
var errCompileBusy = errors.New("the server is busy compiling")

// compileSlots runs compiles, at most cap(slots) at once.
type compileSlots struct {
	slots   chan struct{}
	timeout time.Duration
}

func newCompileSlots(l Limits) *compileSlots {
	return &compileSlots{slots: make(chan struct{}, l.Compiles), timeout: l.CompileTimeout}
}

// run runs fn in a slot and returns its result, or errCompileBusy when no
// slot frees up or fn does not end within the timeout. fn keeps its slot
// until it returns, even when its caller has given up.
func run[T any](ctx context.Context, cs *compileSlots, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, cs.timeout)
	defer cancel()
	select {
	case cs.slots <- struct{}{}:
	case <-ctx.Done():
		return zero, errCompileBusy
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-cs.slots }()
		defer func() {
			// a panic here is not in the request's goroutine, where
			// ServeHTTP would catch it
			if p := recover(); p != nil {
				done <- result{zero, fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
			}
		}()
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, errCompileBusy
	}
}
