package realnode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinDirEnv names an environment variable that, when set, points at a
// directory that already holds kubelet, kube-proxy, coredns and kube-router;
// build.sh is then not run.
const BinDirEnv = "TYCHO_REALNODE_BIN_DIR"

var nodeBinaries = []string{"kubelet", "kube-proxy", "coredns", "kube-router"}

func checkBinDir(dir string) error {
	var missing []string
	for _, b := range nodeBinaries {
		if !fileExists(filepath.Join(dir, b)) {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("binary directory %s lacks %s", dir, strings.Join(missing, ", "))
	}
	return nil
}

// EnsureBinaries returns the directory of the node binaries, building them
// with test/realnode/build.sh when its cache lacks them (about 25 minutes on
// 2 cores; well under a second when warm). BinDirEnv overrides it. The
// directory also holds Traefik (TraefikBinary, GatewayCRDs), which only the
// tests that run the ingress controller need, and so which it may lack.
func EnsureBinaries(ctx context.Context, logw io.Writer) (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("%s: %w", BinDirEnv, err)
		}
		return dir, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "test", "realnode", "build.sh")
	if logw == nil {
		logw = io.Discard
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(logw, &stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the node binaries with %s: %w\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := lines[len(lines)-1]
	if err := checkBinDir(dir); err != nil {
		return "", fmt.Errorf("after %s: %w", script, err)
	}
	return dir, nil
}
