// Package realnode runs a real Kubernetes node on this machine against a
// control plane of test/cluster, for end-to-end tests that need pods to
// actually run (test/e2e-real): a private containerd (Debian's, with its own
// root, state and socket), kubelet and kube-proxy of the control plane's
// release, CoreDNS as the cluster DNS and kube-router's network policy
// controller as the NetworkPolicy enforcer.
//
//	c, _ := cluster.Start(ctx, cluster.Options{})
//	defer c.Stop()
//	n, err := realnode.Start(ctx, c) // or realnode.Options{...}.Start
//	defer n.Stop()                    // before c.Stop
//
// Pods run from local images only (ProbeImage, BusyboxImage, PauseImage),
// built by the package from test/probe, Debian's static busybox and dash,
// and imported with ctr; nothing is pulled. TraefikImage, the ingress
// controller's, is written by WriteTraefikArchive and imported with
// ImportImage by the tests that run it. The pod network is a bridge
// (BridgeName, NodeIP) with addresses from PodCIDR; Services use the
// harness's range, and nothing leaves the machine.
//
// The API server listens on 127.0.0.1, out of the pods' reach. Tests whose
// pods talk to it (Tycho's API in a pod, the ingress controller) call
// ExposeAPIServer, once or many times: it gives the kubernetes Service an
// endpoint on NodeIP, forwarded by the test process, so that in-cluster
// clients work unchanged, until Stop.
//
// Stop, the signal handler and, if the process dies anyway, a reaper
// process started before the first change put the machine back as Start
// found it: processes, containers, mounts, links, routes, iptables rules,
// ipsets, nftables tables, sysctls, cgroups and system directories.
//
// Needs root, Linux and the Debian packages of AptPackages; Check tells
// what is missing. The node binaries are built by build.sh into their own
// cache (see EnsureBinaries).
package realnode
