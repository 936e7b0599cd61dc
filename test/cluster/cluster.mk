# test/cluster/cluster.mk: targets for the e2e control plane; included from
# the root Makefile. See test/cluster/README.md.
#
#   make cluster-bin   build (or find cached) etcd, kube-apiserver,
#                      kube-controller-manager, kube-scheduler and kwok;
#                      prints the cache directory
#   make cluster       start a cluster for manual use; prints the KUBECONFIG
#                      path; Ctrl-C stops it
#   make e2e           run every test under ./test/... against real
#                      control planes (TestE2E…; skipped under -short)
#
# The binaries are cached in $${XDG_CACHE_HOME:-$$HOME/.cache}/tycho/cluster/
# (override with TYCHO_CLUSTER_CACHE); a cold build takes about half an hour
# on 2 cores, a warm start a few seconds.

TYCHO_CLUSTER_BUILD := test/cluster/tools/build.sh
E2E_TIMEOUT ?= 80m
CLUSTER_NODES ?= 2

.PHONY: cluster-bin cluster e2e

cluster-bin:
	@bash $(TYCHO_CLUSTER_BUILD)

cluster:
	@TYCHO_CLUSTER_BIN_DIR="$$(bash $(TYCHO_CLUSTER_BUILD))" && export TYCHO_CLUSTER_BIN_DIR && \
		go run ./test/cluster/cmd/tycho-cluster -nodes $(CLUSTER_NODES)

# The binaries are built (or found) first, outside go test, so that a cold
# build shows its progress and is not counted against the test timeout.
e2e:
	@TYCHO_CLUSTER_BIN_DIR="$$(bash $(TYCHO_CLUSTER_BUILD))" && export TYCHO_CLUSTER_BIN_DIR && \
		go test -count=1 -timeout $(E2E_TIMEOUT) ./test/...
