package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// Address ranges of the simulated cluster. They lie in 198.18.0.0/15
// (RFC 2544 benchmarking), outside the private ranges, so that they can never
// collide with a real network of the machine; nothing routes to them anyway.
const (
	// ServiceCIDR is the ClusterIP range of kube-apiserver.
	ServiceCIDR = "198.19.0.0/16"
	// PodCIDR is the range kwok assigns pod IPs from.
	PodCIDR = "198.18.0.0/16"
)

// FakeNodeAnnotation marks the Nodes that kwok manages; Start sets it on
// every Node it registers.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// Options configure Start. The zero value is a usable one-node cluster.
type Options struct {
	// Nodes is the number of fake Nodes to register; 0 means 1.
	Nodes int
	// StartTimeout bounds the start of the components once the binaries
	// exist (building them is not counted); 0 means 3 minutes.
	StartTimeout time.Duration
	// Log receives progress lines (the binary build, component start-up);
	// nil discards them.
	Log io.Writer
	// Dir is the parent of the cluster's temporary directory; "" means
	// os.TempDir().
	Dir string
}

// Cluster is a running control plane started by Start, or an existing
// cluster attached by Attach.
type Cluster struct {
	// Kubeconfig is the path of a kubeconfig file with cluster-admin
	// (system:masters) credentials.
	Kubeconfig string
	// Dir is the cluster's temporary directory (certificates, data, logs);
	// empty for an attached cluster. Stop removes it.
	Dir string
	// BinDir is the directory of the control-plane binaries; empty for an
	// attached cluster.
	BinDir string

	restConfig *rest.Config
	kubectl    string
	procs      []*proc // in start order

	stopping atomic.Bool // Stop has begun
	stopOnce sync.Once
	stopErr  error
}

// RESTConfig returns a fresh copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config {
	return rest.CopyConfig(c.restConfig)
}

// Kubectl returns the path of a kubectl binary: the one built into the cache
// when PATH had none, else the one on PATH; "" if there is none.
func (c *Cluster) Kubectl() string {
	return c.kubectl
}

// Processes returns the components started for the cluster, in start order;
// none for an attached cluster.
func (c *Cluster) Processes() []Process {
	out := make([]Process, len(c.procs))
	for i, p := range c.procs {
		out[i] = p.Process
	}
	return out
}

// LogDir returns the directory that holds one log file per component.
func (c *Cluster) LogDir() string {
	if c.Dir == "" {
		return ""
	}
	return filepath.Join(c.Dir, "logs")
}

// Attach returns a Cluster for an existing cluster's kubeconfig. Stop does
// nothing to such a cluster.
func Attach(kubeconfig string) (*Cluster, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	c := &Cluster{Kubeconfig: kubeconfig, restConfig: cfg}
	if k, err := exec.LookPath("kubectl"); err == nil {
		c.kubectl = k
	}
	return c, nil
}

// ports are the loopback ports of one cluster.
type ports struct {
	etcdClient, etcdPeer, apiserver, kcm, scheduler, kwok int
}

// freePorts reserves n distinct free loopback ports. All listeners are held
// open until every port is picked, so the n ports differ.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserving a loopback port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// Start builds the binaries if needed, then starts etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok on 127.0.0.1 with free
// ports and a temporary directory of their own, registers opts.Nodes fake
// Nodes, installs kwok's default StorageClass and returns once the API
// server is ready, every Node is Ready and the default ServiceAccount exists.
//
// The caller must call Stop. Until then a SIGINT or SIGTERM to the process
// stops the cluster before the process dies. On error nothing is left
// running and the temporary directory is gone.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}

	binDir, err := EnsureBinaries(ctx, logw)
	if err != nil {
		return nil, err
	}
	bins, err := binariesIn(binDir)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp(opts.Dir, "tycho-cluster-")
	if err != nil {
		return nil, fmt.Errorf("creating cluster directory: %w", err)
	}
	c := &Cluster{Dir: dir, BinDir: binDir, kubectl: bins.kubectl}
	track(c)
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := c.start(ctx, bins, opts, logw); err != nil {
		if c.stopping.Load() {
			// The signal handler stopped the cluster under our feet; the
			// component errors that follow from that are noise.
			err = errors.New("stopped by a signal while starting")
		}
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, fmt.Errorf("starting cluster: %w", err)
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, bins *binaries, opts Options, logw io.Writer) error {
	started := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "tycho-cluster: "+format+"\n", args...)
	}
	logDir := c.LogDir()
	for _, d := range []string{logDir, filepath.Join(c.Dir, "pki"), filepath.Join(c.Dir, "etcd")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	ps, err := freePorts(6)
	if err != nil {
		return err
	}
	port := ports{etcdClient: ps[0], etcdPeer: ps[1], apiserver: ps[2], kcm: ps[3], scheduler: ps[4], kwok: ps[5]}

	// The first address of the service range is the "kubernetes" Service.
	pki, err := newPKI(filepath.Join(c.Dir, "pki"), net.IPv4(198, 19, 0, 1))
	if err != nil {
		return err
	}
	server := "https://127.0.0.1:" + strconv.Itoa(port.apiserver)
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	kubeconfigs := []struct{ path, user, token string }{
		{c.Kubeconfig, "tycho-e2e-admin", pki.adminToken},
		{filepath.Join(c.Dir, "kube-controller-manager.kubeconfig"), "system:kube-controller-manager", pki.kcmToken},
		{filepath.Join(c.Dir, "kube-scheduler.kubeconfig"), "system:kube-scheduler", pki.schedToken},
	}
	for _, k := range kubeconfigs {
		if err := writeKubeconfig(k.path, server, pki.caPEM, k.user, k.token); err != nil {
			return err
		}
	}
	c.restConfig, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading %s: %w", c.Kubeconfig, err)
	}
	// The harness and the tests create many objects quickly; the default
	// client-side limit (5 QPS) would only slow them down.
	c.restConfig.QPS, c.restConfig.Burst = 200, 400
	client, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}

	// etcd
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(port.etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(port.etcdPeer)
	etcd, err := c.run("etcd", bins.etcd, logDir,
		"--name=node0",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=node0="+peerURL,
		// Test data need not survive a power cut; fsync dominates start-up
		// and write latency on small VMs.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, etcd, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, etcdURL+"/health", "")
	}); err != nil {
		return err
	}
	logf("etcd ready on %s (%s)", etcdURL, since(started))

	// kube-apiserver
	apiserver, err := c.run("kube-apiserver", bins.apiserver, logDir,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port.apiserver),
		"--cert-dir="+filepath.Join(c.Dir, "pki"),
		"--tls-cert-file="+pki.serveCert,
		"--tls-private-key-file="+pki.serveKey,
		"--client-ca-file="+pki.caCert,
		// Populates extension-apiserver-authentication completely, as kubeadm
		// does, so the delegating authenticators of the controller manager
		// and scheduler do not log a missing CA bundle every few seconds.
		"--requestheader-client-ca-file="+pki.caCert,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
		"--token-auth-file="+pki.tokenFile,
		"--authorization-mode=Node,RBAC",
		// The default admission plugins (PodSecurity among them) plus the
		// one every kubeadm cluster adds.
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--service-cluster-ip-range="+ServiceCIDR,
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, apiserver, func(ctx context.Context) error {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("/readyz: %w: %s", err, body)
		}
		return nil
	}); err != nil {
		return err
	}
	logf("kube-apiserver ready on %s (%s)", server, since(started))

	// kube-controller-manager: without the node-lifecycle controller, since
	// no kubelet heartbeats its Nodes and kwok's heartbeat may lag on a busy
	// machine; it would otherwise taint and evict.
	kcm, err := c.run("kube-controller-manager", bins.kcm, logDir,
		"--kubeconfig="+kubeconfigs[1].path,
		"--authentication-kubeconfig="+kubeconfigs[1].path,
		"--authorization-kubeconfig="+kubeconfigs[1].path,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port.kcm),
		"--cert-dir="+filepath.Join(c.Dir, "pki", "kube-controller-manager"),
		"--controllers=*,-node-lifecycle-controller",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+pki.saKey,
		"--root-ca-file="+pki.caCert,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--leader-elect=false",
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	scheduler, err := c.run("kube-scheduler", bins.scheduler, logDir,
		"--kubeconfig="+kubeconfigs[2].path,
		"--authentication-kubeconfig="+kubeconfigs[2].path,
		"--authorization-kubeconfig="+kubeconfigs[2].path,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port.scheduler),
		"--cert-dir="+filepath.Join(c.Dir, "pki", "kube-scheduler"),
		"--leader-elect=false",
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	kwokAddr := "127.0.0.1:" + strconv.Itoa(port.kwok)
	kwokArgs := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--config=" + bins.stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + FakeNodeAnnotation + "=fake",
		"--cidr=" + PodCIDR,
		"--node-ip=127.0.0.1",
		"--node-port=" + strconv.Itoa(port.kwok),
		"--server-address=" + kwokAddr,
		"--tls-cert-file=" + pki.serveCert,
		"--tls-private-key-file=" + pki.serveKey,
	}
	kwok, err := c.run("kwok", bins.kwok, logDir, kwokArgs...)
	if err != nil {
		return err
	}

	// kwok's volume stages provision PVs only for its own StorageClass;
	// make it the default, as a real cluster has one.
	if err := applyStorageClass(ctx, client, bins.storageClass); err != nil {
		return err
	}
	for i := range opts.Nodes {
		if err := registerNode(ctx, client, fmt.Sprintf("kwok-node-%d", i)); err != nil {
			return err
		}
	}

	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // components' self-signed health endpoints on loopback
	if err := waitFor(ctx, kcm, func(ctx context.Context) error {
		return httpOK(ctx, insecure, "https://127.0.0.1:"+strconv.Itoa(port.kcm)+"/healthz", "")
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, scheduler, func(ctx context.Context) error {
		return httpOK(ctx, insecure, "https://127.0.0.1:"+strconv.Itoa(port.scheduler)+"/healthz", "")
	}); err != nil {
		return err
	}
	// kwok v0.8.0 can die as it starts, of a data race in its CEL type
	// registry (easycel: "fatal error: concurrent map writes"), which is
	// kwok's and not the cluster's: start it again, at most twice.
	for attempt := 1; ; attempt++ {
		err := waitFor(ctx, kwok, func(ctx context.Context) error {
			return nodesReady(ctx, client, opts.Nodes)
		})
		if err == nil {
			break
		}
		if exited, _ := kwok.exited(); !exited || attempt == 3 {
			return err
		}
		logf("kwok exited as it started (attempt %d); starting it again: %s", attempt, strings.SplitN(err.Error(), "\n", 2)[0])
		if kwok, err = c.run("kwok", bins.kwok, logDir, kwokArgs...); err != nil {
			return err
		}
	}
	// Pods are rejected by the ServiceAccount admission plugin until the
	// controller manager has created the namespace's default ServiceAccount.
	if err := waitFor(ctx, kcm, func(ctx context.Context) error {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return err
	}
	logf("cluster ready in %s: %d node(s), KUBECONFIG=%s", since(started), opts.Nodes, c.Kubeconfig)
	return nil
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(10 * time.Millisecond)
}

// run starts a component and records it for Stop.
func (c *Cluster) run(name, bin, logDir string, args ...string) (*proc, error) {
	p, err := startProc(name, bin, args, logDir)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	c.procs = append(c.procs, p)
	mu.Unlock()
	return p, nil
}

// waitFor polls check until it succeeds. It fails early when p exits and
// when ctx ends, in both cases with the tail of p's log.
func waitFor(ctx context.Context, p *proc, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ok, _ := p.exited(); ok {
			return p.failure(fmt.Errorf("exited before it was ready (last check: %w)", err))
		}
		select {
		case <-ctx.Done():
			return p.failure(fmt.Errorf("not ready: %w (last check: %w)", ctx.Err(), err))
		case <-tick.C:
		}
	}
}

func httpOK(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func writeKubeconfig(path, server string, ca []byte, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["tycho-e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["tycho-e2e"] = &clientcmdapi.Context{Cluster: "tycho-e2e", AuthInfo: user, Namespace: metav1.NamespaceDefault}
	cfg.CurrentContext = "tycho-e2e"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

func applyStorageClass(ctx context.Context, client kubernetes.Interface, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading StorageClass: %w", err)
	}
	var sc storagev1.StorageClass
	if err := yaml.UnmarshalStrict(b, &sc); err != nil {
		return fmt.Errorf("decoding StorageClass %s: %w", path, err)
	}
	if sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
		if sc.Annotations == nil {
			sc.Annotations = map[string]string{}
		}
		sc.Annotations["storageclass.kubernetes.io/is-default-class"] = "true"
	}
	if _, err := client.StorageV1().StorageClasses().Create(ctx, &sc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating StorageClass %s: %w", sc.Name, err)
	}
	return nil
}

// registerNode creates a Node that kwok will manage and removes the
// not-ready taint that the TaintNodesByCondition admission plugin puts on
// every new Node; without the node-lifecycle controller nobody else would.
func registerNode(ctx context.Context, client kubernetes.Interface, name string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{FakeNodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("registering node %s: %w", name, err)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		taints := n.Spec.Taints[:0]
		for _, t := range n.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady {
				taints = append(taints, t)
			}
		}
		if len(taints) == len(n.Spec.Taints) {
			return nil
		}
		n.Spec.Taints = taints
		_, err = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("removing the not-ready taint of node %s: %w", name, err)
	}
	return nil
}

func nodesReady(ctx context.Context, client kubernetes.Interface, want int) error {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < want {
		return fmt.Errorf("%d of %d nodes Ready", ready, want)
	}
	return nil
}

// Stop stops every component (SIGTERM to its process group, SIGKILL after a
// grace period), waits for them to exit and removes the cluster's temporary
// directory. It is safe to call more than once and does nothing for an
// attached cluster.
func (c *Cluster) Stop() error {
	c.stopping.Store(true)
	c.stopOnce.Do(func() {
		c.stopErr = c.stop()
		untrack(c)
	})
	return c.stopErr
}

func (c *Cluster) stop() error {
	mu.Lock()
	procs := c.procs
	mu.Unlock()
	var errs []error
	// Reverse start order: clients before the API server, etcd last. The
	// state is thrown away, so a component that does not finish its graceful
	// shutdown promptly is killed.
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Dir != "" {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", c.Dir, err))
		}
	}
	return errors.Join(errs...)
}
