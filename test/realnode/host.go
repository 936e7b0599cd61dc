package realnode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// hostState is what Start changes on the machine outside its own directory,
// recorded before it changes anything, so that Stop can put it back and
// Residue can tell what is still different.
type hostState struct {
	Iptables  map[string]string   // "iptables" / "ip6tables" → *-save output
	IPSets    []string            // ipset names
	NFTTables []string            // "family name"
	Sysctls   map[string]string   // of watchedSysctls
	Links     []string            // network interfaces
	Netns     []string            // /run/netns
	Cgroups   []string            // cgroup directories under cgroupParent
	Paths     map[string][]string // watched path → its entries (nil: absent)
	Mounts    []string            // mount points
	Routes    []string            // ip -4 route show table all
}

// sysctls that Start, kubelet (its kernel tunables), kube-proxy or
// kube-router may set.
var watchedSysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv4/conf/all/forwarding",
	"net/ipv4/conf/all/route_localnet",
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
	"net/ipv6/conf/all/forwarding",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
	"net/netfilter/nf_conntrack_max",
	"net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait",
	"net/netfilter/nf_conntrack_tcp_be_liberal",
}

// Paths outside the node's directory that the components write to despite
// their configuration (hard-coded in kubelet, containerd's shims, libcni),
// or might: each is removed by Stop if it was absent, and its new entries
// are removed if it existed.
var watchedPaths = []string{
	"/var/log/containers",
	"/var/log/pods",
	"/var/lib/kubelet",
	"/var/lib/cni",
	"/var/lib/containerd",
	"/var/lib/kube-router",
	"/etc/cni",
	"/etc/kubernetes",
	"/opt/cni",
	"/run/containerd",
	"/run/netns",
	"/run/kubernetes",
	"/run/calico",
	"/run/xtables.lock",
	"/run/mount", // libmount's utab, when kubelet runs mount(8)
}

func readSysctl(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", name))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func writeSysctl(name, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", name), []byte(value+"\n"), 0o644)
}

func output(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// normaliseSave drops the comments and packet counters of iptables-save
// output, leaving what iptables-restore reads.
func normaliseSave(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, ":") {
			// ":CHAIN POLICY [packets:bytes]"
			if i := strings.LastIndex(line, " ["); i > 0 {
				line = line[:i]
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// tables splits normalised save output into table → its lines (without
// the "*table" and "COMMIT" lines).
func tables(save string) map[string][]string {
	out := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(save, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			cur = line[1:]
			out[cur] = []string{}
		case line == "COMMIT":
			cur = ""
		case cur != "" && line != "":
			out[cur] = append(out[cur], line)
		}
	}
	return out
}

// cgroupParent is the cgroup under which containerd's CRI plugin puts the
// containers when the kubelet runs without per-QoS cgroups. Only it is
// watched: other cgroups of the machine come and go on their own.
const cgroupParent = "k8s.io"

// containerCgroups lists the cgroup directories under cgroupParent of
// every hierarchy, cgroupParent itself included.
func containerCgroups() []string {
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupParent))
	var out []string
	for _, r := range roots {
		out = append(out, listDirs(r)...)
	}
	return out
}

func listDirs(root string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func entries(path string) []string {
	if _, err := os.Lstat(path); err != nil {
		return nil
	}
	des, err := os.ReadDir(path)
	if err != nil {
		return []string{} // a file: present, no entries
	}
	out := []string{}
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out = append(out, unescapeMount(fields[4]))
		}
	}
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func linkNames() []string {
	des, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

func routes() []string {
	out, err := output("ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil
	}
	var rs []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			rs = append(rs, l)
		}
	}
	return rs
}

// removeRoutes deletes the IPv4 routes that were not there before (those of
// a deleted link are gone already).
func (h *hostState) removeRoutes() error {
	var errs []error
	for _, r := range routes() {
		if slices.Contains(h.Routes, r) {
			continue
		}
		if _, err := output("ip", append([]string{"-4", "route", "del"}, strings.Fields(r)...)...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func nftTables() []string {
	out, err := output("nft", "list", "tables")
	if err != nil {
		return nil
	}
	var ts []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "table" {
			ts = append(ts, f[1]+" "+f[2])
		}
	}
	sort.Strings(ts)
	return ts
}

func ipsetNames() []string {
	out, err := output("ipset", "list", "-n")
	if err != nil {
		return nil
	}
	return strings.Fields(out)
}

func snapshotHost() (*hostState, error) {
	h := &hostState{
		Iptables: map[string]string{},
		Sysctls:  map[string]string{},
		Paths:    map[string][]string{},
	}
	for _, fam := range []string{"iptables", "ip6tables"} {
		out, err := output(fam + "-save")
		if err != nil {
			return nil, err
		}
		h.Iptables[fam] = normaliseSave(out)
	}
	h.IPSets = ipsetNames()
	h.NFTTables = nftTables()
	for _, s := range watchedSysctls {
		if v, ok := readSysctl(s); ok {
			h.Sysctls[s] = v
		}
	}
	h.Links = linkNames()
	h.Netns = entries("/run/netns")
	h.Cgroups = containerCgroups()
	for _, p := range watchedPaths {
		h.Paths[p] = entries(p)
	}
	h.Mounts = mountPoints()
	h.Routes = routes()
	return h, nil
}

// restoreIptables puts back every table of the snapshot and empties the
// tables that the snapshot lacks (iptables-restore flushes each table it
// is given and deletes its user chains).
func (h *hostState) restoreIptables() error {
	var errs []error
	for fam, before := range h.Iptables {
		nowOut, err := output(fam + "-save")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if normaliseSave(nowOut) == before {
			continue
		}
		was := tables(before)
		now := tables(normaliseSave(nowOut))
		var in strings.Builder
		names := make([]string, 0, len(now))
		for t := range now {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			in.WriteString("*" + t + "\n")
			if lines, ok := was[t]; ok {
				for _, l := range lines {
					in.WriteString(l + "\n")
				}
			} else {
				// The built-in chains, emptied, with policy ACCEPT.
				for _, l := range now[t] {
					if strings.HasPrefix(l, ":") {
						f := strings.Fields(l)
						if len(f) >= 2 && f[1] != "-" {
							in.WriteString(f[0] + " ACCEPT\n")
						}
					}
				}
			}
			in.WriteString("COMMIT\n")
		}
		cmd := exec.Command(fam+"-restore", "-w")
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore: %w: %s", fam, err, out))
		}
	}
	// Tables that only iptables-nft or kube-proxy created.
	for _, t := range nftTables() {
		if !slices.Contains(h.NFTTables, t) {
			if _, err := output("nft", append([]string{"delete", "table"}, strings.Fields(t)...)...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (h *hostState) restoreIPSets() error {
	var errs []error
	for _, s := range ipsetNames() {
		if !slices.Contains(h.IPSets, s) {
			if _, err := output("ipset", "destroy", s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (h *hostState) restoreSysctls() error {
	var errs []error
	for _, s := range watchedSysctls {
		was, ok := h.Sysctls[s]
		if !ok {
			continue
		}
		if now, _ := readSysctl(s); now != was {
			if err := writeSysctl(s, was); err != nil {
				errs = append(errs, fmt.Errorf("restoring %s=%s: %w", s, was, err))
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroups removes the cgroup directories that were not there before,
// deepest first. Their processes must be gone.
func (h *hostState) removeCgroups() error {
	now := containerCgroups()
	sort.Slice(now, func(i, j int) bool { return len(now[i]) > len(now[j]) })
	var errs []error
	for _, d := range now {
		if slices.Contains(h.Cgroups, d) {
			continue
		}
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// removePaths removes the watched paths that were absent, and the new
// entries of those that were present.
func (h *hostState) removePaths() error {
	var errs []error
	for _, p := range watchedPaths {
		was := h.Paths[p]
		if was == nil {
			if _, err := os.Lstat(p); err == nil {
				if err := os.RemoveAll(p); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		for _, e := range entries(p) {
			if !slices.Contains(was, e) {
				if err := os.RemoveAll(filepath.Join(p, e)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// residue lists what differs from the snapshot.
func (h *hostState) residue() []string {
	var out []string
	for fam, before := range h.Iptables {
		now, err := output(fam + "-save")
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		if a, b := tables(before), tables(normaliseSave(now)); !sameTables(a, b) {
			out = append(out, fam+" rules differ")
		}
	}
	if now := nftTables(); !sameSet(now, h.NFTTables) {
		out = append(out, fmt.Sprintf("nftables tables: %v, were %v", now, h.NFTTables))
	}
	if now := ipsetNames(); !sameSet(now, h.IPSets) {
		out = append(out, fmt.Sprintf("ipsets: %v, were %v", now, h.IPSets))
	}
	for s, was := range h.Sysctls {
		if now, _ := readSysctl(s); now != was {
			out = append(out, fmt.Sprintf("sysctl %s = %s, was %s", s, now, was))
		}
	}
	if now := linkNames(); !sameSet(now, h.Links) {
		out = append(out, fmt.Sprintf("links: %v, were %v", now, h.Links))
	}
	if now := entries("/run/netns"); !sameSet(now, h.Netns) {
		out = append(out, fmt.Sprintf("/run/netns: %v, was %v", now, h.Netns))
	}
	if now := containerCgroups(); !sameSet(now, h.Cgroups) {
		out = append(out, fmt.Sprintf("cgroups under %s: %d, were %d", cgroupParent, len(now), len(h.Cgroups)))
	}
	for _, p := range watchedPaths {
		if now := entries(p); !sameSet(now, h.Paths[p]) || (now == nil) != (h.Paths[p] == nil) {
			out = append(out, fmt.Sprintf("%s: %v, was %v", p, now, h.Paths[p]))
		}
	}
	if now := routes(); !sameSet(now, h.Routes) {
		out = append(out, fmt.Sprintf("routes: %v, were %v", now, h.Routes))
	}
	if now := mountPoints(); !sameSet(now, h.Mounts) {
		out = append(out, fmt.Sprintf("mounts: %d, were %d", len(now), len(h.Mounts)))
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// sameTables compares two iptables dumps as rule sets; a table that one
// lacks equals an empty table with ACCEPT policies in the other.
func sameTables(a, b map[string][]string) bool {
	empty := func(lines []string) bool {
		for _, l := range lines {
			if !strings.HasPrefix(l, ":") || !strings.HasSuffix(l, " ACCEPT") {
				return false
			}
		}
		return true
	}
	for t, la := range a {
		lb, ok := b[t]
		if !ok {
			if !empty(la) {
				return false
			}
			continue
		}
		if !sameSet(la, lb) {
			return false
		}
	}
	for t, lb := range b {
		if _, ok := a[t]; !ok && !empty(lb) {
			return false
		}
	}
	return true
}
