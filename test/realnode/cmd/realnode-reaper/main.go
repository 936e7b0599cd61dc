// Command realnode-reaper is started by realnode.Start with the path of the
// node's state file. It waits until its standard input closes, which
// happens when the test process exits however it exits, and then undoes the
// node (realnode.Reap) unless Stop has already done so and removed the
// state file. Errors go to $TMPDIR/tycho-realnode-reaper.log.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tychoctl/tycho/test/realnode"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: realnode-reaper STATE-FILE (stdin: a pipe from the test process)")
		os.Exit(2)
	}
	// A terminal's Ctrl-C or a SIGTERM to the test's process group must not
	// stop the reaper before it has done its work.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := realnode.Reap(os.Args[1]); err != nil {
		log := filepath.Join(os.TempDir(), "tycho-realnode-reaper.log")
		if f, ferr := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); ferr == nil {
			fmt.Fprintf(f, "%s: reaping %s: %v\n", time.Now().Format(time.RFC3339), os.Args[1], err)
			f.Close()
		}
		os.Exit(1)
	}
}
