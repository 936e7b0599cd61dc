package realnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/tychoctl/tycho/test/cluster"
)

// Addresses and names of the real node. The pod range lies inside the
// harness's 198.18.0.0/15 (RFC 2544); nothing routes there and no traffic
// leaves the machine.
const (
	// PodCIDR is the pod range of the bridge network.
	PodCIDR = "198.18.0.0/24"
	// NodeIP is the bridge's address: the pods' gateway, the Node's
	// InternalIP and CoreDNS's listen address.
	NodeIP = "198.18.0.1"
	// DNSServiceIP is the ClusterIP of kube-system/kube-dns, in the
	// harness's service range (cluster.ServiceCIDR).
	DNSServiceIP = "198.19.0.10"
	// ClusterDomain is the kubelet's cluster domain.
	ClusterDomain = "cluster.local"
	// BridgeName is the Linux bridge of the pod network.
	BridgeName = "tychorn0"
	// CNINetwork is the name of the CNI network.
	CNINetwork = "tycho-realnode"
	// CNIBinDir holds the CNI plugins of Debian's containernetworking-plugins.
	CNIBinDir = "/usr/lib/cni"
	// DefaultNodeName is the default Node name. The harness's API server
	// reaches kubelets at their Hostname address first (its default
	// --kubelet-preferred-address-types), and the Hostname address is the
	// node name, so the name must resolve to where the kubelet listens:
	// "localhost" resolves to 127.0.0.1 on every machine.
	DefaultNodeName = "localhost"
	// EnforcerKubeRouter names kube-router's network policy controller.
	EnforcerKubeRouter = "kube-router"

	kubeletAddress = "127.0.0.1"
	lockPath       = "/run/tycho-realnode.lock"
)

// AptPackages are the Debian packages the real node needs.
var AptPackages = []string{"containerd", "runc", "containernetworking-plugins", "busybox-static", "iptables", "ipset", "conntrack", "nftables"}

// Options configure Start. The zero value is the usual node.
type Options struct {
	// NodeName is the Node's name; "" means DefaultNodeName.
	NodeName string
	// NoEnforcer leaves NetworkPolicy unenforced (no kube-router).
	NoEnforcer bool
	// StartTimeout bounds the start once the binaries exist; 0 means 3
	// minutes.
	StartTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Dir is the parent of the node's directory; "" means os.TempDir().
	Dir string
}

// Node is a real node started by Start: containerd, kubelet, kube-proxy,
// CoreDNS and (unless disabled) kube-router as the NetworkPolicy enforcer.
type Node struct {
	// Name is the Node's name.
	Name string
	// Dir holds the node's configuration, state, images and logs; Stop
	// removes it.
	Dir string
	// BinDir holds kubelet, kube-proxy, coredns and kube-router.
	BinDir string
	// ContainerdSocket is the private containerd's socket.
	ContainerdSocket string
	// Enforcer is EnforcerKubeRouter, or "" when NetworkPolicy is not
	// enforced.
	Enforcer string
	// Timings records how long each start-up step took.
	Timings []Timing

	cluster   *cluster.Cluster
	client    kubernetes.Interface
	host      *hostState
	lock      *os.File
	procs     []*proc // in start order
	cordoned  []string
	mu        sync.Mutex
	stopOnce  sync.Once
	stopErr   error
	residue   []string
	reaper    *exec.Cmd
	reaperIn  io.WriteCloser
	sigCancel func()
	logf      func(string, ...any)
	apiProxy  *apiProxy // ExposeAPIServer's
	// apiUnexposed is set by Stop: ExposeAPIServer fails from then on.
	apiUnexposed bool
}

// Timing is the duration of one start-up step.
type Timing struct {
	Step     string
	Duration time.Duration
}

// LogDir holds one log file per component.
func (n *Node) LogDir() string { return filepath.Join(n.Dir, "logs") }

// EnableEnv names the environment variable that must be 1 for the tests
// that start a real node to run (make e2e-real sets it); without it they
// skip, so that go test ./test/... does not build and start a node.
const EnableEnv = "TYCHO_E2E_REAL"

// CheckEnabled is Check, preceded by the EnableEnv test.
func CheckEnabled() error {
	if os.Getenv(EnableEnv) != "1" {
		return fmt.Errorf("realnode: set %s=1 (make e2e-real) to run the real-node tests", EnableEnv)
	}
	return Check()
}

// Check reports why a real node cannot run here: not root, not Linux, or a
// missing program of AptPackages. nil means Start may work.
func Check() error {
	if runtime.GOOS != "linux" {
		return errors.New("realnode: needs Linux")
	}
	if os.Geteuid() != 0 {
		return errors.New("realnode: needs root (containerd, bridges, iptables)")
	}
	var missing []string
	for _, p := range []struct{ file, pkg string }{
		{"containerd", "containerd"},
		{"containerd-shim-runc-v2", "containerd"},
		{"ctr", "containerd"},
		{"runc", "runc"},
		{"iptables", "iptables"},
		{"iptables-save", "iptables"},
		{"iptables-restore", "iptables"},
		{"ip6tables-save", "iptables"},
		{"ipset", "ipset"},
		{"conntrack", "conntrack"},
		{"nft", "nftables"},
		{"ip", "iproute2"},
	} {
		if _, err := exec.LookPath(p.file); err != nil {
			missing = append(missing, p.file+" ("+p.pkg+")")
		}
	}
	for _, f := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if !fileExists(filepath.Join(CNIBinDir, f)) {
			missing = append(missing, filepath.Join(CNIBinDir, f)+" (containernetworking-plugins)")
		}
	}
	if !fileExists("/bin/busybox") {
		missing = append(missing, "/bin/busybox (busybox-static)")
	}
	if !fileExists("/proc/sys/net/bridge/bridge-nf-call-iptables") {
		missing = append(missing, "br_netfilter (kernel module)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("realnode: missing %s; run: apt-get install -y %s",
			strings.Join(missing, ", "), strings.Join(AptPackages, " "))
	}
	return nil
}

// Start brings up a real node with default Options; see Options.Start.
func Start(ctx context.Context, c *cluster.Cluster) (*Node, error) {
	return Options{}.Start(ctx, c)
}

// Start builds the node binaries if needed (test/realnode/build.sh), then
// starts, against the running harness cluster c: a private containerd with
// the local images imported (ProbeImage, PauseImage, BusyboxImage), the pod
// bridge, kubelet, kube-proxy (iptables mode), CoreDNS behind the Service
// kube-system/kube-dns (DNSServiceIP) and kube-router's network policy
// controller. It cordons the fake (kwok) Nodes so that pods land on the
// real one, and returns once the Node is Ready and every component is
// healthy.
//
// The caller must call Stop (before stopping c). On error nothing is left
// running and the machine is as it was.
func (o Options) Start(ctx context.Context, c *cluster.Cluster) (*Node, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 3 * time.Minute
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	if o.NodeName == "" {
		o.NodeName = DefaultNodeName
	}
	binDir, err := EnsureBinaries(ctx, logw)
	if err != nil {
		return nil, err
	}
	lock, err := acquireLock(ctx, logw)
	if err != nil {
		return nil, err
	}
	host, err := snapshotHost()
	if err != nil {
		os.Remove(lockPath)
		lock.Close()
		return nil, err
	}
	dir, err := os.MkdirTemp(o.Dir, "tycho-realnode-")
	if err != nil {
		os.Remove(lockPath)
		lock.Close()
		return nil, err
	}
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		os.Remove(lockPath)
		lock.Close()
		return nil, err
	}
	n := &Node{
		Name:             o.NodeName,
		Dir:              dir,
		BinDir:           binDir,
		ContainerdSocket: filepath.Join(dir, "containerd", "containerd.sock"),
		cluster:          c,
		client:           client,
		host:             host,
		lock:             lock,
		logf: func(format string, args ...any) {
			fmt.Fprintf(logw, "tycho-realnode: "+format+"\n", args...)
		},
	}
	n.catchSignals()
	sctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if err := n.start(sctx, o); err != nil {
		if stopErr := n.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, fmt.Errorf("starting real node: %w", err)
	}
	return n, nil
}

func (n *Node) step(name string, start time.Time) {
	d := time.Since(start).Round(10 * time.Millisecond)
	n.Timings = append(n.Timings, Timing{name, d})
	n.logf("%s (%s)", name, d)
}

func freePorts(k int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func (n *Node) run(name, bin string, args ...string) (*proc, error) {
	p, err := startProc(name, n.LogDir(), bin, args...)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
	return p, nil
}

func (n *Node) start(ctx context.Context, o Options) error {
	begin := time.Now()
	t := time.Now()
	for _, d := range []string{n.LogDir(), filepath.Join(n.Dir, "bin"), filepath.Join(n.Dir, "containerd"), filepath.Join(n.Dir, "pod-logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Before anything changes on the machine: whatever happens to this
	// process from now on, the reaper puts the machine back.
	if err := n.startReaper(ctx); err != nil {
		return err
	}
	n.step("reaper started", t)
	t = time.Now()
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics, routerHealth := ports[0], ports[1], ports[2], ports[3], ports[4]
	runc, err := exec.LookPath("runc")
	if err != nil {
		return err
	}
	files := map[string]string{
		filepath.Join(n.Dir, "containerd", "config.toml"):         n.containerdConfig(),
		filepath.Join(n.Dir, "bin", "runc"):                       fmt.Sprintf(runcWrapper, runc),
		filepath.Join(n.Dir, "cni", "net.d", "10-tycho.conflist"): n.cniConfig(),
		filepath.Join(n.Dir, "kubelet.yaml"):                      n.kubeletConfig(kubeletPort, kubeletHealthz),
		filepath.Join(n.Dir, "kube-proxy.yaml"):                   n.kubeProxyConfig(proxyHealthz, proxyMetrics),
		filepath.Join(n.Dir, "Corefile"):                          n.corefile(),
		filepath.Join(n.Dir, "host-resolv.conf"):                  "# no upstream resolver: pods with dnsPolicy Default get none\n",
	}
	if err := writeFiles(files); err != nil {
		return err
	}

	// The bridge, with the node address, before anything needs it.
	if err := n.setupNetwork(ctx); err != nil {
		return err
	}
	n.step("network set up", t)

	if err := n.startContainerd(ctx); err != nil {
		return err
	}

	// Cluster objects: kube-dns, and the fake nodes out of the way.
	t = time.Now()
	if err := n.createDNSService(ctx); err != nil {
		return err
	}
	if err := n.cordonFakeNodes(ctx, true); err != nil {
		return err
	}

	// CoreDNS on the host, at NodeIP:53.
	coredns, err := n.run("coredns", filepath.Join(n.BinDir, "coredns"), "-conf", filepath.Join(n.Dir, "Corefile"))
	if err != nil {
		return err
	}
	if err := waitFor(ctx, coredns, "CoreDNS to answer", func(ctx context.Context) error {
		addrs, err := lookup(ctx, NodeIP+":53", "kubernetes.default.svc."+ClusterDomain)
		if err != nil {
			return err
		}
		if !slices.Contains(addrs, "198.19.0.1") {
			return fmt.Errorf("kubernetes.default.svc resolves to %v", addrs)
		}
		return nil
	}); err != nil {
		return err
	}
	n.step("CoreDNS ready", t)

	// kubelet.
	t = time.Now()
	kubelet, err := n.run("kubelet", filepath.Join(n.BinDir, "kubelet"),
		"--config="+filepath.Join(n.Dir, "kubelet.yaml"),
		"--kubeconfig="+n.cluster.Kubeconfig,
		"--root-dir="+filepath.Join(n.Dir, "kubelet"),
		"--cert-dir="+filepath.Join(n.Dir, "kubelet", "pki"),
		"--hostname-override="+n.Name,
		"--node-ip="+NodeIP,
		"--v=2",
	)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, kubelet, "the Node to be Ready", func(ctx context.Context) error {
		node, err := n.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node %s: Ready=%s: %s", n.Name, c.Status, c.Message)
			}
		}
		return fmt.Errorf("node %s has no Ready condition", n.Name)
	}); err != nil {
		return err
	}
	if err := n.setPodCIDR(ctx); err != nil {
		return err
	}
	if err := n.removeNotReadyTaint(ctx); err != nil {
		return err
	}
	n.step("kubelet ready, Node Ready", t)

	// kube-proxy.
	t = time.Now()
	proxy, err := n.run("kube-proxy", filepath.Join(n.BinDir, "kube-proxy"),
		"--config="+filepath.Join(n.Dir, "kube-proxy.yaml"), "--v=2")
	if err != nil {
		return err
	}
	if err := waitFor(ctx, proxy, "kube-proxy to be healthy", func(ctx context.Context) error {
		return httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(proxyHealthz)+"/healthz")
	}); err != nil {
		return err
	}
	n.step("kube-proxy ready", t)

	// kube-router's network policy controller, alone.
	if !o.NoEnforcer {
		t = time.Now()
		router, err := n.run("kube-router", filepath.Join(n.BinDir, "kube-router"),
			"--kubeconfig="+n.cluster.Kubeconfig,
			"--hostname-override="+n.Name,
			"--run-firewall=true",
			"--run-router=false",
			"--run-service-proxy=false",
			"--run-loadbalancer=false",
			"--enable-cni=false",
			"--enable-ipv4=true",
			"--enable-ipv6=false",
			"--service-cluster-ip-range="+cluster.ServiceCIDR,
			"--health-port="+strconv.Itoa(routerHealth),
			"--metrics-port=0",
			"--iptables-sync-period=1m",
			"--v=1",
		)
		if err != nil {
			return err
		}
		if err := waitFor(ctx, router, "kube-router to be healthy", func(ctx context.Context) error {
			return httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(routerHealth)+"/healthz")
		}); err != nil {
			return err
		}
		n.Enforcer = EnforcerKubeRouter
		n.step("kube-router (network policy) ready", t)
	}
	n.step("real node ready", begin)
	return nil
}

// startContainerd builds the probe, writes the image archive, starts the
// private containerd and imports the images.
func (n *Node) startContainerd(ctx context.Context) error {
	t := time.Now()
	probe := n.ProbePath()
	if err := BuildProbe(ctx, probe); err != nil {
		return err
	}
	archive := filepath.Join(n.Dir, "images.tar")
	if err := WriteImageArchive(archive, probe, "/bin/busybox"); err != nil {
		return err
	}
	n.step("probe built, image archive written", t)

	t = time.Now()
	ctrd, err := n.run("containerd", "containerd", "--config", filepath.Join(n.Dir, "containerd", "config.toml"))
	if err != nil {
		return err
	}
	if err := waitFor(ctx, ctrd, "containerd", func(ctx context.Context) error {
		_, err := n.ctr(ctx, "version")
		return err
	}); err != nil {
		return err
	}
	n.step("containerd ready", t)
	t = time.Now()
	if err := n.ImportImage(ctx, archive, ImageNames...); err != nil {
		return err
	}
	n.step("images imported", t)
	return nil
}

// ctr runs ctr against the node's containerd in the k8s.io namespace.
func (n *Node) ctr(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "ctr", append([]string{"--address", n.ContainerdSocket, "--namespace", "k8s.io"}, args...)...)
}

// KillContainer sends SIGKILL to the task of a container of the node's
// containerd, as the kernel's out-of-memory killer or a crash would end
// it: the kubelet sees the container exit (137) and restarts it. id is the
// container's ID as a pod's status gives it, with or without its
// "containerd://" prefix.
func (n *Node) KillContainer(ctx context.Context, id string) error {
	id = strings.TrimPrefix(id, "containerd://")
	if id == "" {
		return errors.New("KillContainer: no container ID")
	}
	_, err := n.ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
	return err
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// lookup resolves name (an A query) at the DNS server addr.
func lookup(ctx context.Context, addr, name string) ([]string, error) {
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	return r.LookupHost(ctx, name)
}

func (n *Node) setupNetwork(ctx context.Context) error {
	for _, args := range [][]string{
		{"link", "add", BridgeName, "type", "bridge"},
		{"addr", "add", NodeIP + "/24", "dev", BridgeName},
		{"link", "set", BridgeName, "up"},
	} {
		if _, err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	// Nothing of the simulated ranges may leave the machine: a packet to a
	// ClusterIP that kube-proxy has not (yet) translated, or to a kwok pod
	// address, would otherwise follow the default route. Route the whole
	// 198.18.0.0/15 onto the bridge (its connected /24 is more specific);
	// the route goes with the bridge.
	if _, err := run(ctx, "ip", "-4", "route", "add", "198.18.0.0/15", "dev", BridgeName); err != nil {
		return err
	}
	// Routing between pods and Services, and bridged traffic through
	// iptables (kube-proxy's DNAT of replies, kube-router's filters).
	for _, s := range []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"} {
		if err := writeSysctl(s, "1"); err != nil {
			return fmt.Errorf("setting %s: %w", s, err)
		}
	}
	return nil
}

// managedBy is the managed-by label of the API objects the harness creates.
const managedBy = "tycho-realnode"

// nodeSlice is an EndpointSlice named name in ns that gives the Service
// ns/service one ready endpoint, NodeIP, on ports: how the harness points a
// selector-less Service at what the test machine serves on the node's
// address (CoreDNS; ExposeAPIServer's forwarder).
func (n *Node) nodeSlice(ns, name, service string, ports ...discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	ready := true
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: service,
				discoveryv1.LabelManagedBy:   managedBy,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{NodeIP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			NodeName:   &n.Name,
		}},
		Ports: ports,
	}
}

// slicePort is a port of an EndpointSlice.
func slicePort(name string, protocol corev1.Protocol, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &protocol, Port: &port}
}

func (n *Node) createDNSService(ctx context.Context) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kube-dns", Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"k8s-app": "kube-dns", "app.kubernetes.io/managed-by": managedBy},
		},
		Spec: corev1.ServiceSpec{
			ClusterIP: DNSServiceIP,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	if _, err := n.client.CoreV1().Services(metav1.NamespaceSystem).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating kube-system/kube-dns: %w", err)
	}
	eps := n.nodeSlice(metav1.NamespaceSystem, "kube-dns-realnode", "kube-dns",
		slicePort("dns", corev1.ProtocolUDP, 53), slicePort("dns-tcp", corev1.ProtocolTCP, 53))
	if _, err := n.client.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem).Create(ctx, eps, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the kube-dns EndpointSlice: %w", err)
	}
	return nil
}

func (n *Node) deleteDNSService(ctx context.Context) error {
	var errs []error
	if err := n.client.CoreV1().Services(metav1.NamespaceSystem).Delete(ctx, "kube-dns", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := n.client.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem).Delete(ctx, "kube-dns-realnode", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cordonFakeNodes marks the kwok Nodes unschedulable (or, with on false,
// undoes what it did).
func (n *Node) cordonFakeNodes(ctx context.Context, on bool) error {
	var names []string
	if on {
		nodes, err := n.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, node := range nodes.Items {
			if node.Annotations[cluster.FakeNodeAnnotation] != "" && !node.Spec.Unschedulable {
				names = append(names, node.Name)
			}
		}
	} else {
		names = n.cordoned
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on))
	for _, name := range names {
		if _, err := n.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("cordoning node %s: %w", name, err)
		}
	}
	if on {
		n.cordoned = names
	} else {
		n.cordoned = nil
	}
	return nil
}

// setPodCIDR gives the Node its pod range, as the node IPAM controller
// would (the harness does not allocate node CIDRs).
func (n *Node) setPodCIDR(ctx context.Context) error {
	node, err := n.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if node.Spec.PodCIDR != "" {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%q]}}`, PodCIDR, PodCIDR))
	_, err = n.client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// acquireLock takes the machine-wide lock of real nodes (one bridge, one
// pod range), waiting for another test binary's node, or its reaper, to
// finish. Since the lock file is removed when a node is gone, a lock taken
// on a file that is no longer at lockPath does not count.
func acquireLock(ctx context.Context, logw io.Writer) (*os.File, error) {
	for waited := false; ; waited = true {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, err
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			var held, now syscall.Stat_t
			if syscall.Fstat(int(f.Fd()), &held) == nil && syscall.Stat(lockPath, &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev {
				return f, nil
			}
		}
		f.Close()
		if !waited {
			fmt.Fprintf(logw, "tycho-realnode: waiting for another real node to stop (%s)\n", lockPath)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("realnode: another real node runs on this machine (%s is locked): %w", lockPath, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeNotReadyTaint removes the taint that the TaintNodesByCondition
// admission plugin puts on a new Node: the node-lifecycle controller, which
// would remove it once the Node is Ready, does not run in the harness.
func (n *Node) removeNotReadyTaint(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := n.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		taints := node.Spec.Taints[:0]
		for _, t := range node.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady {
				taints = append(taints, t)
			}
		}
		if len(taints) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = taints
		_, err = n.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// catchSignals stops the node on SIGINT or SIGTERM. The harness's own
// handler stops the cluster and re-raises the signal; the node's teardown
// does not need the API, so both proceed at once.
func (n *Node) catchSignals() {
	ch := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case <-done:
		case sig := <-ch:
			fmt.Fprintf(os.Stderr, "tycho-realnode: %v: stopping the real node\n", sig)
			if err := n.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "tycho-realnode: %v\n", err)
			}
		}
	}()
	n.sigCancel = func() {
		signal.Stop(ch)
		close(done)
	}
}

// Logs returns the last lines of each component's log, for failure
// messages.
func (n *Node) Logs(lines int) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var sb strings.Builder
	for _, p := range n.procs {
		fmt.Fprintf(&sb, "--- %s (%s)\n%s", p.name, p.log, p.tail(lines))
	}
	return sb.String()
}
