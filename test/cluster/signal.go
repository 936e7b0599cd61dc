package cluster

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// The clusters of this process that are not stopped yet. While there is one,
// SIGINT and SIGTERM stop them all and then terminate the process with the
// same signal, so that an interrupted test run leaves no control plane
// behind. (The components run in their own process groups, so a terminal's
// Ctrl-C does not reach them directly.)
var (
	mu      sync.Mutex
	live    = map[*Cluster]struct{}{}
	sigs    chan os.Signal
	sigDone chan struct{}
)

func track(c *Cluster) {
	mu.Lock()
	defer mu.Unlock()
	live[c] = struct{}{}
	if sigs == nil {
		sigs = make(chan os.Signal, 1)
		sigDone = make(chan struct{})
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		go handleSignals(sigs, sigDone)
	}
}

func untrack(c *Cluster) {
	mu.Lock()
	defer mu.Unlock()
	delete(live, c)
	if len(live) == 0 && sigs != nil {
		signal.Stop(sigs)
		close(sigDone)
		sigs, sigDone = nil, nil
	}
}

func handleSignals(ch <-chan os.Signal, done <-chan struct{}) {
	select {
	case <-done:
		return
	case sig := <-ch:
		mu.Lock()
		clusters := make([]*Cluster, 0, len(live))
		for c := range live {
			clusters = append(clusters, c)
		}
		mu.Unlock()
		fmt.Fprintf(os.Stderr, "tycho-cluster: %v: stopping %d cluster(s)\n", sig, len(clusters))
		var wg sync.WaitGroup
		for _, c := range clusters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Stop(); err != nil {
					fmt.Fprintf(os.Stderr, "tycho-cluster: %v\n", err)
				}
			}()
		}
		wg.Wait()
		// Die of the same signal, as if we had not caught it.
		signal.Reset(sig)
		if s, ok := sig.(syscall.Signal); ok {
			_ = syscall.Kill(os.Getpid(), s)
		}
	}
}
