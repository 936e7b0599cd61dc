package realnode

import (
	"fmt"
	"path/filepath"
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
