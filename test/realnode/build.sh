#!/usr/bin/env bash
# build.sh makes sure the node binaries of the real-node e2e harness exist and
# prints the directory that holds them (one line on stdout; logs go to
# stderr): kubelet and kube-proxy (the Kubernetes release of the control plane
# in test/cluster/tools/k8s), CoreDNS, and kube-router (whose network policy
# controller alone enforces NetworkPolicy), and Traefik (the ingress
# controller some tests run as a pod) with the Gateway API CRDs of the
# version it is built with (gateway-api-crds.yaml, standard channel).
#
# They are built from the pinned tools modules under
# test/cluster/tools/node/{k8s,coredns,kube-router,traefik} into a cache of their own,
# apart from test/cluster's (so that neither invalidates the other):
#
#   ${TYCHO_REALNODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tycho/realnode}/<key>/
#
# <key> names the pinned versions and hashes this script and the tools
# modules' go.mod/go.sum. As in test/cluster/tools/build.sh, concurrent
# callers serialise on a lock file and the directory is filled under a
# temporary name, then renamed. A cold build takes about 25 minutes on 2
# cores, and Traefik adds to it (measured in README.md); a warm run well
# under a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$(cd "$here/../cluster/tools/node" && pwd)
cache_root=${TYCHO_REALNODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tycho/realnode}

export GOWORK=off GOFLAGS=
export CGO_ENABLED=0
build_flags=(-p 2 -trimpath -buildvcs=false)

log() { printf 'tycho-realnode: %s\n' "$*" >&2; }

modver() { (cd "$tools/$1" && go list -m -f '{{.Version}}' "$2"); }

k8s_version=$(modver k8s k8s.io/kubernetes)
coredns_version=$(modver coredns github.com/coredns/coredns)
kube_router_version=$(modver kube-router github.com/cloudnativelabs/kube-router/v2)
traefik_version=$(modver traefik github.com/traefik/traefik/v3)

sum=$(cat "$here/build.sh" "$tools"/{k8s,coredns,kube-router,traefik}/go.{mod,sum} | sha256sum | cut -c1-12)
key="k8s-${k8s_version}_coredns-${coredns_version}_kube-router-${kube_router_version}_traefik-${traefik_version}_${sum}"
dir="$cache_root/$key"

bins=(kubelet kube-proxy coredns kube-router traefik)
crds=gateway-api-crds.yaml

complete() {
	local b
	for b in "${bins[@]}"; do
		[[ -x "$1/$b" ]] || return 1
	done
	[[ -s "$1/$crds" ]]
}

if complete "$dir"; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/$key.lock"
if ! flock -n 9; then
	log "waiting for another build of $key (lock $cache_root/$key.lock)"
	flock 9
fi
if complete "$dir"; then
	echo "$dir"
	exit 0
fi

# Version stamping as test/cluster/tools/build.sh does for the control plane.
minor=${k8s_version#v1.}
minor=${minor%%.*}
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

timed() {
	local start=$SECONDS
	"$@"
	log "  done in $((SECONDS - start))s"
}

# Binaries already built by an earlier, interrupted run are kept in the
# temporary directory of this key and not built again.
tmp="$cache_root/.tmp-$key"
mkdir -p "$tmp"
log "building kubelet and kube-proxy $k8s_version, CoreDNS $coredns_version, kube-router $kube_router_version and Traefik $traefik_version into $dir"
start=$SECONDS

build() { # name module-dir ldflags package
	if [[ -x "$tmp/$1" ]]; then
		log "$1: already built"
		return
	fi
	log "$1"
	(cd "$tools/$2" && timed go build "${build_flags[@]}" -ldflags="$3" -o "$tmp/$1.part" "$4")
	mv "$tmp/$1.part" "$tmp/$1"
}

build kubelet k8s "$k8s_ldflags" k8s.io/kubernetes/cmd/kubelet
build kube-proxy k8s "$k8s_ldflags" k8s.io/kubernetes/cmd/kube-proxy
build coredns coredns "-s -w" github.com/coredns/coredns
build kube-router kube-router \
	"-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$kube_router_version" \
	github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
build traefik traefik \
	"-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${traefik_version#v} -X github.com/traefik/traefik/v3/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
	github.com/traefik/traefik/v3/cmd/traefik

# The Gateway API CRDs that Traefik's Gateway provider expects, from the
# module it is built with.
gateway_api=$(cd "$tools/traefik" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
for f in "$gateway_api"/config/crd/standard/*.yaml; do
	printf -- '---\n'
	cat "$f"
done >"$tmp/$crds.part"
mv "$tmp/$crds.part" "$tmp/$crds"

rm -rf "$dir"
mv "$tmp" "$dir"
log "built in $((SECONDS - start))s: $dir"
echo "$dir"
