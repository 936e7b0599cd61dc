#!/usr/bin/env bash
# build.sh makes sure the control-plane binaries of the e2e cluster harness
# exist and prints the directory that holds them (one line on stdout; logs go
# to stderr).
#
# The binaries are built from the pinned tools modules next to this script
# (etcd/, k8s/, kwok/) into a cache outside the clone:
#
#   ${TYCHO_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tycho/cluster}/<key>/
#
# <key> names the pinned versions and hashes this script and the tools
# modules' go.mod/go.sum, so a version bump builds a new directory and a
# second run finds the old one in well under a second. Concurrent callers
# (parallel test packages) serialise on a lock file; the directory is filled
# under a temporary name and renamed when complete, so a half-built cache is
# never used.
#
# kubectl is used from PATH when present; otherwise it is built into the same
# directory from k8s.io/kubernetes/cmd/kubectl.
#
# kwok's Stage objects and its default StorageClass are copied from the kwok
# module of the pinned version into <key>/kwok-stages/ (stages.yaml,
# storage-class.yaml), so the harness needs no module cache at run time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${TYCHO_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tycho/cluster}

# The tools modules stand alone: no workspace, and none of the caller's
# GOFLAGS (a -modfile or -mod=vendor meant for the root module breaks them).
export GOWORK=off GOFLAGS=
export CGO_ENABLED=0
# -p 2: the reference machine has 2 cores and kube-apiserver's link step alone
# needs several GiB; more parallelism only adds memory pressure.
build_flags=(-p 2 -trimpath -buildvcs=false)

log() { printf 'tycho-cluster: %s\n' "$*" >&2; }

modver() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }

k8s_version=$(modver k8s k8s.io/kubernetes)
etcd_version=$(modver etcd go.etcd.io/etcd/server/v3)
kwok_version=$(modver kwok sigs.k8s.io/kwok)

sum=$(cat "$here/build.sh" "$here"/{etcd,k8s,kwok}/go.{mod,sum} | sha256sum | cut -c1-12)
key="k8s-${k8s_version}_etcd-${etcd_version}_kwok-${kwok_version}_${sum}"
dir="$cache_root/$key"

bins=(etcd kwok kube-apiserver kube-controller-manager kube-scheduler)

# kwok stage sets (kustomize/stage/<set>/ in the kwok module): nodes become
# Ready and keep a heartbeat, pods go through init containers to Ready (and
# Job pods to Succeeded), PVCs of the kwok-volume class get a bound PV.
stage_sets=(node/fast node/heartbeat pod/general volume/fast)

complete() {
	local b
	for b in "${bins[@]}"; do
		[[ -x "$1/$b" ]] || return 1
	done
}

have_stages() { [[ -f "$dir/kwok-stages/stages.yaml" && -f "$dir/kwok-stages/storage-class.yaml" ]]; }

need_kubectl() { ! command -v kubectl >/dev/null 2>&1 && [[ ! -x "$dir/kubectl" ]]; }

if complete "$dir" && have_stages && ! need_kubectl; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/$key.lock"
if ! flock -n 9; then
	log "waiting for another build of $key (lock $cache_root/$key.lock)"
	flock 9
fi
# Holding the lock: any temporary directory left for this key is from a
# build that was killed.
rm -rf "$cache_root/.tmp-$key-"* "$dir/.kwok-stages."*

# k8s version stamping, as hack/lib/version.sh does, so that /version and the
# compatibility-version logic see the real release rather than v0.0.0-master.
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

if ! complete "$dir"; then
	tmp="$cache_root/.tmp-$key-$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	log "building etcd $etcd_version, kwok $kwok_version and Kubernetes $k8s_version control plane into $dir"
	log "this takes about 13 minutes on 2 cores with an empty Go build cache, under a minute with a warm one"
	start=$SECONDS

	log "etcd $etcd_version"
	(cd "$here/etcd" && timed go build "${build_flags[@]}" -ldflags="-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)

	log "kwok $kwok_version"
	(cd "$here/kwok" && timed go build "${build_flags[@]}" \
		-ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}" \
		-o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)

	for b in kube-scheduler kube-controller-manager kube-apiserver; do
		log "$b $k8s_version"
		(cd "$here/k8s" && timed go build "${build_flags[@]}" -ldflags="$k8s_ldflags" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b")
	done

	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
	log "built in $((SECONDS - start))s: $dir"
fi

if ! have_stages; then
	kwok_dir=$(cd "$here/kwok" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -d "$kwok_dir/kustomize/stage" ]] || { log "kwok module not found (got '$kwok_dir')"; exit 1; }
	st="$dir/.kwok-stages.$$"
	rm -rf "$st"
	mkdir -p "$st"
	for set in "${stage_sets[@]}"; do
		for f in "$kwok_dir/kustomize/stage/$set"/*.yaml; do
			case "$(basename "$f")" in
			kustomization.yaml) ;;
			storage-class.yaml) cp "$f" "$st/storage-class.yaml" ;;
			*) { printf -- '---\n# %s\n' "${f#"$kwok_dir"/}"; cat "$f"; } >>"$st/stages.yaml" ;;
			esac
		done
	done
	chmod -R u+w "$st"
	rm -rf "$dir/kwok-stages"
	mv "$st" "$dir/kwok-stages"
fi

if need_kubectl; then
	log "kubectl not on PATH: building kubectl $k8s_version into $dir"
	(cd "$here/k8s" && timed go build "${build_flags[@]}" -ldflags="$k8s_ldflags" -o "$dir/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
	mv "$dir/kubectl.tmp" "$dir/kubectl"
fi

echo "$dir"
