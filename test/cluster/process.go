package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process describes one running component of a cluster.
type Process struct {
	// Name is the component name, e.g. "kube-apiserver".
	Name string
	// PID is the process ID. Each component leads its own process group,
	// so PID is also its process group ID.
	PID int
	// Log is the file that receives the component's stdout and stderr.
	Log string
}

// proc is a started component.
type proc struct {
	Process
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // exit status; valid once done is closed
}

// startProc starts bin with args in its own process group, logging to
// logDir/name.log.
func startProc(name, bin string, args []string, logDir string) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	fmt.Fprintf(logFile, "+ %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: Stop kills the whole group, and a terminal's
		// Ctrl-C reaches only our signal handler, which stops us in order.
		Setpgid: true,
		// If the test binary dies without cleaning up (go test -timeout
		// panics, SIGKILL), the kernel kills the component too.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{
		Process: Process{Name: name, PID: cmd.Process.Pid, Log: logPath},
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited, with its exit error.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, escalates to SIGKILL after grace,
// and waits until the leader is reaped and the group is empty.
func (p *proc) stop(grace time.Duration) error {
	pgid := p.PID
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children that outlived the leader (none of ours fork, but be sure).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for GroupAlive(pgid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: process group %d still alive after SIGKILL", p.Name, pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// GroupAlive reports whether any process of process group pgid still exists.
func GroupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// logTail returns the last n lines of the component's log, indented, for
// error messages.
func (p *proc) logTail(n int) string {
	return tailFile(p.Log, n)
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("    (cannot read %s: %v)", path, err)
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

// failure describes a component that did not come up: its exit status if it
// died, and the tail of its log.
func (p *proc) failure(cause error) error {
	state := "still running"
	if ok, err := p.exited(); ok {
		state = fmt.Sprintf("exited: %v", err)
	}
	return fmt.Errorf("%s (pid %d, %s): %w\n  last lines of %s:\n%s",
		p.Name, p.PID, state, cause, p.Log, p.logTail(30))
}
