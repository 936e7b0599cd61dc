// Package cluster runs a real, throw-away Kubernetes control plane for tests:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler on
// 127.0.0.1, with kwok simulating the nodes, the pods on them and the volume
// provisioner. No container runtime, no Docker and no network are needed.
//
// The binaries are built once from the pinned tools modules under tools/ into
// a cache outside the clone (see tools/build.sh and EnsureBinaries); starting
// a cluster from a warm cache takes seconds.
//
// Tests either start their own clusters with Start, or share one per test
// binary through Main and Shared:
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m, cluster.Options{}, nil)) }
//
//	func TestE2EThing(t *testing.T) {
//		c := cluster.Shared(t) // skips under -short
//		cfg := c.RESTConfig()
//		...
//	}
//
// Setting TYCHO_E2E_KUBECONFIG makes Main use that existing cluster instead
// of starting one.
package cluster
