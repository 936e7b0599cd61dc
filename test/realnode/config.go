package realnode

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// containerdConfig is a private containerd (own root, state, socket) whose
// CRI plugin uses the local pause image, the runc wrapper and the node's
// CNI configuration.
func (n *Node) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
oom_score = 0

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %q
        Root = %q
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
    max_conf_num = 1
`,
		filepath.Join(n.Dir, "containerd", "root"),
		filepath.Join(n.Dir, "containerd", "state"),
		n.ContainerdSocket,
		n.ContainerdSocket+".ttrpc",
		filepath.Join(n.Dir, "containerd", "opt"),
		PauseImage,
		filepath.Join(n.Dir, "bin", "runc"),
		filepath.Join(n.Dir, "runc"),
		CNIBinDir,
		filepath.Join(n.Dir, "cni", "net.d"),
	)
}

// runcWrapper clamps a negative oomScoreAdj in the OCI bundle's config.json
// (and in an exec's process.json) to 0 before running runc: lowering
// oom_score_adj needs CAP_SYS_RESOURCE, which this sandbox lacks, while
// kubelet asks for -998 for every pod sandbox.
const runcWrapper = `#!/bin/sh
# Written by test/realnode: clamps negative oomScoreAdj to 0, then runs runc.
bundle= process= prev=
for a in "$@"; do
	case $prev in
	--bundle|-b) bundle=$a ;;
	--process|-p) process=$a ;;
	esac
	case $a in
	--bundle=*) bundle=${a#--bundle=} ;;
	--process=*) process=${a#--process=} ;;
	esac
	prev=$a
done
for f in "${bundle:+$bundle/config.json}" "$process"; do
	if [ -n "$f" ] && [ -f "$f" ]; then
		sed -i -E 's/"oomScoreAdj": *-[0-9]+/"oomScoreAdj":0/g' "$f"
	fi
done
exec %s "$@"
`

// cniConfig is a bridge network on the node's bridge with host-local
// addresses from PodCIDR (state under the node's directory), portmap for
// hostPort, and no masquerading: traffic never leaves the machine.
func (n *Node) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q, "gateway": %q, "rangeStart": "198.18.0.10"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, CNINetwork, BridgeName, filepath.Join(n.Dir, "cni", "ipam"), PodCIDR, NodeIP)
}

func (n *Node) kubeletConfig(port, healthzPort int) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The API server reaches the kubelet at the Node's Hostname address (%[1]s,
# which resolves to 127.0.0.1) unless it prefers InternalIP; it sends no
# client certificate, so the kubelet serves anonymous requests.
address: %[2]s
port: %[3]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://%[5]s
# cgroup v1 and no systemd here.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
# No CAP_SYS_RESOURCE: the kubelet cannot lower its own oom_score_adj.
oomScoreAdj: 0
clusterDNS: [%[6]q]
clusterDomain: %[7]s
resolvConf: %[8]s
podLogsDir: %[9]s
registerNode: true
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
nodeStatusReportFrequency: 30s
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
  nodefs.inodesFree: "1%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMinimumGCAge: 24h
`, n.Name, kubeletAddress, port, healthzPort, n.ContainerdSocket, DNSServiceIP, ClusterDomain,
		filepath.Join(n.Dir, "host-resolv.conf"), filepath.Join(n.Dir, "pod-logs"))
}

func (n *Node) kubeProxyConfig(healthzPort, metricsPort int) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %q
hostnameOverride: %s
mode: iptables
clusterCIDR: %s
detectLocalMode: ClusterCIDR
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
oomScoreAdj: 0
iptables:
  syncPeriod: 10s
  minSyncPeriod: 0s
  localhostNodePorts: false
# Leave the machine's conntrack settings alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  tcpBeLiberal: false
`, n.cluster.Kubeconfig, n.Name, PodCIDR, healthzPort, metricsPort)
}

// corefile serves the cluster domain from the API (through the harness's
// admin kubeconfig) on the bridge address only; it forwards nothing, since
// there is no upstream network.
func (n *Node) corefile() string {
	return fmt.Sprintf(`%[1]s.:53 in-addr.arpa.:53 ip6.arpa.:53 {
    bind %[2]s
    errors
    kubernetes %[1]s in-addr.arpa ip6.arpa {
        kubeconfig %[3]s tycho-e2e
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
}
.:53 {
    bind %[2]s
    errors
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`, ClusterDomain, NodeIP, n.cluster.Kubeconfig)
}

func writeFiles(files map[string]string) error {
	for path, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(path, "/runc") {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}
