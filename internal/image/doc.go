// Package image builds Tycho's container image without a container engine:
// a static tycho binary on a distroless-style base (an empty base with
// /etc/passwd and /etc/group naming the nonroot user 65532, the host's CA
// certificates when it has them, and /tmp), run as 65532:65532 with the
// entrypoint /tycho and the command api. The image is written as an OCI
// image layout in a tar archive, which `ctr images import` and
// `skopeo copy oci-archive:` read.
//
// The output depends only on the binary, the certificates and the
// options: every timestamp is the Unix epoch (or Options.Created), and the
// entries of the layer and of the archive are in a fixed order.
package image
