# test/realnode/realnode.mk: the real-node end-to-end tests; included from
# the root Makefile (include test/realnode/realnode.mk).
#
#   make realnode-bin  build (or find cached) kubelet, kube-proxy, CoreDNS,
#                      kube-router and Traefik (the ingress controller some
#                      tests run); prints the cache directory
#   make e2e-real      install the Debian packages the node needs, then run
#                      test/e2e-real: compose systems compiled by tycho on a
#                      real node (containerd, kubelet, kube-proxy, CoreDNS,
#                      kube-router) attached to the harness control plane,
#                      and Tycho's own image (internal/image, as make image
#                      builds it) run with deploy/ and driven through its API.
#                      Needs root; Linux only. Without TYCHO_E2E_REAL=1
#                      (which this target sets) those tests skip, so that
#                      `make e2e` (go test ./test/...) does not start a node.
#
# The node binaries are cached in $${XDG_CACHE_HOME:-$$HOME/.cache}/tycho/realnode/
# (override with TYCHO_REALNODE_CACHE), apart from the control plane's; a cold
# build takes about 25 minutes on 2 cores, Traefik included (see README.md).

TYCHO_REALNODE_BUILD := test/realnode/build.sh
TYCHO_CLUSTER_BUILD ?= test/cluster/tools/build.sh
REALNODE_APT := containerd runc containernetworking-plugins busybox-static iptables ipset conntrack nftables
E2E_REAL_TIMEOUT ?= 60m

.PHONY: realnode-bin realnode-apt e2e-real

realnode-bin:
	@bash $(TYCHO_REALNODE_BUILD)

realnode-apt:
	@if [ "$$(id -u)" != 0 ]; then echo "e2e-real: not root: the tests will skip"; \
	elif ! command -v apt-get >/dev/null; then echo "e2e-real: no apt-get: install $(REALNODE_APT) by hand"; \
	else dpkg -s $(REALNODE_APT) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(REALNODE_APT); }; fi

# The binaries of both caches are built (or found) first, outside go test, so
# that a cold build shows its progress and is not counted against the timeout.
e2e-real: realnode-apt
	@TYCHO_CLUSTER_BIN_DIR="$$(bash $(TYCHO_CLUSTER_BUILD))" && export TYCHO_CLUSTER_BIN_DIR && \
		TYCHO_REALNODE_BIN_DIR="$$(bash $(TYCHO_REALNODE_BUILD))" && export TYCHO_REALNODE_BIN_DIR && \
		TYCHO_E2E_REAL=1 go test -count=1 -timeout $(E2E_REAL_TIMEOUT) -v ./test/realnode/... ./test/e2e-real/...
