package realnode

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// The ingress controller of the harness: Traefik, built by build.sh into
// the node's binary directory (see test/realnode/README.md for the
// version and why). Start does not import its image: tests that need the
// controller call WriteTraefikArchive and ImportImage.
const (
	// TraefikImage is the local image of Traefik: /traefik, the
	// entrypoint, and the probe's files.
	TraefikImage = "tycho.test/traefik:e2e"
	// TraefikBinary is the file name of Traefik in the binary directory.
	TraefikBinary = "traefik"
	// GatewayCRDs is the file, in the binary directory, of the Gateway API
	// CRDs (standard channel) of the version Traefik is built with.
	GatewayCRDs = "gateway-api-crds.yaml"
)

// WriteTraefikArchive writes the OCI archive of TraefikImage to path: the
// probe image's files (probe and busybox as for WriteImageArchive), so that
// tests can run the probe in the controller's pod as the controller, and
// the binary traefik as /traefik, the entrypoint.
func WriteTraefikArchive(path, traefik, probe, busybox string) error {
	layer, err := rootfsLayer(probe, busybox, layerFile{"traefik", traefik})
	if err != nil {
		return fmt.Errorf("writing the Traefik image layer: %w", err)
	}
	return writeOCIArchive(path, layer, []ociImage{
		{names: []string{TraefikImage}, entrypoint: []string{"/traefik"}},
	})
}

// ProbePath is the probe binary that Start built (see BuildProbe).
func (n *Node) ProbePath() string { return filepath.Join(n.Dir, "bin", "probe") }

// ImportImage imports an image archive (OCI layout or docker save) into the
// node's containerd, where the kubelet finds it, and checks that the named
// images are there afterwards.
func (n *Node) ImportImage(ctx context.Context, archive string, names ...string) error {
	if _, err := n.ctr(ctx, "images", "import", archive); err != nil {
		return err
	}
	out, err := n.ctr(ctx, "images", "ls", "-q")
	if err != nil {
		return err
	}
	var missing []string
	for _, img := range names {
		if !slices.Contains(strings.Fields(out), img) {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("image %s missing after importing %s; containerd has: %s", strings.Join(missing, ", "), filepath.Base(archive), out)
	}
	return nil
}
