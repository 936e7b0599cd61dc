package server

import (
	"context"
	"sync"
	"time"

	"github.com/tychoctl/tycho/executor"
)

// statusFlight makes concurrent status calls for the same GUID (or for
// all systems) share one call of the Systems: status is the API's most
// frequent call, and each makes a handful of cluster-wide list calls.
type statusFlight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done    chan struct{}
	systems []executor.System
	err     error
}

// flightTimeout bounds a shared call, which no single caller's context
// may cancel.
const flightTimeout = time.Minute

// do returns the result of fn for key, calling it once for all callers
// that ask while it runs. A caller whose context ends stops waiting.
func (f *statusFlight) do(ctx context.Context, key string, fn func(context.Context) ([]executor.System, error)) ([]executor.System, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c, running := f.calls[key]
	if !running {
		c = &flightCall{done: make(chan struct{})}
		f.calls[key] = c
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
			defer cancel()
			c.systems, c.err = fn(cctx)
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.systems, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
