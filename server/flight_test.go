package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tychoctl/tycho/executor"
)

func TestStatusFlightShares(t *testing.T) {
	t.Parallel()
	var f statusFlight
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) ([]executor.System, error) {
		calls.Add(1)
		<-release
		return []executor.System{{GUID: guidA}}, nil
	}
	var wg sync.WaitGroup
	results := make(chan int, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := f.do(context.Background(), "", fn)
			if err != nil {
				t.Error(err)
			}
			results <- len(got)
		}()
	}
	// the waiters join the running call; then it ends
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(results)
	for n := range results {
		if n != 1 {
			t.Errorf("a caller got %d systems, want 1", n)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	// a later call calls again
	if _, err := f.do(context.Background(), "", fn); err != nil || calls.Load() != 2 {
		t.Errorf("second round: %v, %d calls", err, calls.Load())
	}
}

func TestStatusFlightCancelledCaller(t *testing.T) {
	t.Parallel()
	var f statusFlight
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.do(ctx, guidA, func(context.Context) ([]executor.System, error) {
		<-release
		return nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
