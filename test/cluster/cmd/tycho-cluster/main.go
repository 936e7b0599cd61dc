// Command tycho-cluster starts the e2e test cluster of package
// github.com/tychoctl/tycho/test/cluster for manual use:
//
//	go run ./test/cluster/cmd/tycho-cluster [-nodes N]
//
// It prints the kubeconfig path (export KUBECONFIG=…) and runs until
// interrupted (Ctrl-C, SIGTERM), then stops the cluster and removes its
// directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tychoctl/tycho/test/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "tycho-cluster: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	nodes := flag.Int("nodes", 2, "number of fake nodes")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := cluster.Start(ctx, cluster.Options{Nodes: *nodes, Log: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
	fmt.Fprintf(os.Stderr, "tycho-cluster: logs in %s; Ctrl-C stops the cluster\n", c.LogDir())
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "tycho-cluster: stopping")
	return c.Stop()
}
