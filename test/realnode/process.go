package realnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a component started by Start, in its own process group.
type proc struct {
	name string
	pid  int
	log  string
	done chan struct{}
	err  error
}

func startProc(name, logDir, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "+ %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, pid: cmd.Process.Pid, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, SIGKILL after grace, and waits
// until the group is gone.
func (p *proc) stop(grace time.Duration) error {
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-p.pid, 0)
		if err != nil && !errors.Is(err, syscall.EPERM) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: process group %d still alive after SIGKILL", p.name, p.pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString("    ")
		sb.Write(l)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// waitFor polls check every 200ms until it succeeds, p exits or ctx ends.
func waitFor(ctx context.Context, p *proc, what string, check func(context.Context) error) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before %s (%v; last check: %w)\n  last lines of %s:\n%s", p.name, what, p.err, err, p.log, p.tail(30))
		}
		select {
		case <-ctx.Done():
			msg := fmt.Errorf("waiting for %s: %w (last check: %w)", what, ctx.Err(), err)
			if p != nil {
				msg = fmt.Errorf("%w\n  last lines of %s:\n%s", msg, p.log, p.tail(30))
			}
			return msg
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// run runs a command to completion and returns its combined output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
