package realnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// teardownState is what the reaper needs to undo a node whose test process
// died without calling Stop (a panic, a fatal signal, go test's timeout).
type teardownState struct {
	Dir              string
	ContainerdSocket string
	Host             *hostState
}

func (n *Node) stateFile() string { return filepath.Join(n.Dir, "teardown.json") }

// startReaper starts test/realnode/cmd/realnode-reaper: it waits for its
// standard input to close, which happens when this process exits, and then
// undoes the node from the state file unless Stop has removed it. It runs
// in its own process group, without a parent-death signal, so that it
// outlives this process, and it holds the machine's real-node lock until it
// exits.
func (n *Node) startReaper(ctx context.Context) error {
	b, err := json.Marshal(teardownState{Dir: n.Dir, ContainerdSocket: n.ContainerdSocket, Host: n.host})
	if err != nil {
		return err
	}
	if err := os.WriteFile(n.stateFile(), b, 0o600); err != nil {
		return err
	}
	bin := filepath.Join(n.Dir, "bin", "realnode-reaper")
	if err := goBuild(ctx, bin, "./test/realnode/cmd/realnode-reaper"); err != nil {
		return err
	}
	// Its binary is in Dir, which the teardown removes: a running binary
	// may be unlinked.
	cmd := exec.Command(bin, n.stateFile())
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The reaper shares the lock (same open file): no other node starts
	// before it is done.
	cmd.ExtraFiles = []*os.File{n.lock}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the reaper: %w", err)
	}
	n.reaper, n.reaperIn = cmd, pipe
	return nil
}

// Reap undoes, without the API, the node whose state file is given, if the
// file still exists: it is what Stop does after stopping the components. It
// is the body of cmd/realnode-reaper.
func Reap(stateFile string) error {
	b, err := os.ReadFile(stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil // Stop did it
	}
	if err != nil {
		return err
	}
	var st teardownState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("reading %s: %w", stateFile, err)
	}
	n := &Node{Dir: st.Dir, ContainerdSocket: st.ContainerdSocket, host: st.Host, logf: func(string, ...any) {}}
	err = n.teardownLocal(nil)
	// The lock died with its holder; its file is the node's too.
	os.Remove(lockPath)
	return err
}

// Residue lists what Stop could not put back as it was before Start
// (empty after a clean Stop).
func (n *Node) Residue() []string { return n.residue }

// Stop deletes the node's pods (so that kubelet stops their sandboxes and
// CNI releases their addresses), stops every component, kills what is left
// of the containers, unmounts everything under Dir, deletes the bridge and
// restores the iptables rules, ipsets, nftables tables, sysctls, cgroups and
// system directories recorded before Start. It is safe to call more than
// once; its error lists what could not be undone.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		if n.sigCancel != nil {
			n.sigCancel()
		}
		n.stopErr = n.stop()
	})
	return n.stopErr
}

func (n *Node) stop() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n.mu.Lock()
	procs := slices.Clone(n.procs)
	n.mu.Unlock()

	var containerd *proc
	for _, p := range procs {
		if p.name == "containerd" {
			containerd = p
		}
	}
	// Let the kubelet tear the pods down while the API is there.
	for _, p := range procs {
		if p.name == "kubelet" && !p.exited() {
			if err := n.drain(ctx, 45*time.Second); err != nil {
				n.logf("draining: %v", err)
			}
		}
	}
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i] == containerd {
			continue
		}
		if err := procs[i].stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if n.client != nil {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		if err := n.unexposeAPIServer(actx); err != nil && !isUnreachable(err) {
			errs = append(errs, err)
		}
		if err := n.deleteDNSService(actx); err != nil && !isUnreachable(err) {
			errs = append(errs, err)
		}
		if err := n.cordonFakeNodes(actx, false); err != nil && !isUnreachable(err) {
			errs = append(errs, err)
		}
		if err := n.client.CoreV1().Nodes().Delete(actx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) && !isUnreachable(err) {
			errs = append(errs, err)
		}
		acancel()
	}
	errs = append(errs, n.teardownLocal(containerd))
	if n.host != nil {
		n.residue = n.host.residue()
		if len(n.residue) > 0 {
			errs = append(errs, fmt.Errorf("left behind: %s", strings.Join(n.residue, "; ")))
		}
	}
	// The state file is gone with Dir: the reaper, woken by the closed pipe,
	// finds nothing to do.
	if n.reaperIn != nil {
		n.reaperIn.Close()
		_ = n.reaper.Wait()
	}
	if n.lock != nil {
		os.Remove(lockPath)
		n.lock.Close()
	}
	return errors.Join(errs...)
}

// teardownLocal undoes everything on the machine once the components other
// than containerd (if given, still running) are stopped: containers, shims,
// mounts, links, iptables, ipsets, sysctls, cgroups, system directories and
// Dir itself.
func (n *Node) teardownLocal(containerd *proc) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	errs = append(errs, n.killContainers())
	if containerd != nil {
		if err := containerd.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, n.killShims())
	// Shims that were killed leave their containers' processes behind.
	errs = append(errs, n.killContainers())
	errs = append(errs, n.unmountAll())
	if n.host != nil {
		errs = append(errs, n.deleteLinks())
		errs = append(errs, n.host.removeRoutes())
		errs = append(errs, n.host.restoreIptables())
		errs = append(errs, n.host.restoreIPSets())
		errs = append(errs, n.host.restoreSysctls())
		_, _ = run(ctx, "conntrack", "-D", "-s", PodCIDR)
		_, _ = run(ctx, "conntrack", "-D", "-d", PodCIDR)
		errs = append(errs, n.host.removeCgroups())
		errs = append(errs, n.host.removePaths())
	}
	if err := os.RemoveAll(n.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isUnreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded)
}

// drain deletes every pod bound to the node and waits until they are gone.
func (n *Node) drain(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sel := metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name}
	grace := int64(1)
	for {
		pods, err := n.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, sel)
		if err != nil {
			return err
		}
		if len(pods.Items) == 0 {
			return nil
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				_ = n.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d pods still on the node", len(pods.Items))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// killContainers kills and deletes every container in the runc state
// directory of the node's containerd.
func (n *Node) killContainers() error {
	root := filepath.Join(n.Dir, "runc", "k8s.io")
	des, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var errs []error
	for _, d := range des {
		id := d.Name()
		_, _ = run(context.Background(), "runc", "--root", root, "kill", "--all", id, "KILL")
	}
	for _, d := range des {
		id := d.Name()
		if _, err := run(context.Background(), "runc", "--root", root, "delete", "--force", id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killShims kills the containerd-shim-runc-v2 processes of this node's
// containerd (their command line names its socket), by process ID.
func (n *Node) killShims() error {
	des, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var pids []int
	for _, d := range des {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "containerd-shim-runc-v2") && slices.Contains(args, n.ContainerdSocket) {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// unmountAll unmounts every mount point under Dir (pod volumes, overlay
// root filesystems, shm, network namespaces), deepest first.
func (n *Node) unmountAll() error {
	var errs []error
	for range 3 {
		var mine []string
		for _, m := range mountPoints() {
			if m == n.Dir || strings.HasPrefix(m, n.Dir+"/") {
				mine = append(mine, m)
			}
		}
		if len(mine) == 0 {
			return nil
		}
		sort.Slice(mine, func(i, j int) bool { return len(mine[i]) > len(mine[j]) })
		errs = errs[:0]
		for _, m := range mine {
			if err := syscall.Unmount(m, 0); err != nil {
				if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
					errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// deleteLinks deletes the bridge and any network interface that appeared
// since Start (veth ends whose namespace is gone take their peers along).
func (n *Node) deleteLinks() error {
	var errs []error
	for _, l := range linkNames() {
		if slices.Contains(n.host.Links, l) {
			continue
		}
		if _, err := run(context.Background(), "ip", "link", "del", l); err != nil && fileExists(filepath.Join("/sys/class/net", l)) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
