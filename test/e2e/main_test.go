package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tychoctl/tycho/test/cluster"
)

// The tycho binary, built once per test binary by TestMain.
var (
	tychoPath string
	tychoErr  error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	binDir, err := os.MkdirTemp("", "tycho-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	return cluster.Main(m, cluster.Options{Nodes: 2}, func(c *cluster.Cluster) error {
		// Ingresses are built in; HTTPRoutes need the Gateway API CRDs
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := cluster.InstallGatewayAPI(ctx, c.RESTConfig()); err != nil {
			return fmt.Errorf("installing the Gateway API CRDs: %w", err)
		}
		// A build failure fails only the tests that run tycho (tychoBin),
		// so that the cluster-only tests still report.
		tychoPath, tychoErr = buildTycho(binDir)
		if tychoErr != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", tychoErr)
		}
		return nil
	})
}

// buildTycho builds cmd/tycho of this checkout into dir.
func buildTycho(dir string) (string, error) {
	out := filepath.Join(dir, "tycho")
	cmd := exec.Command("go", "build", "-o", out, "github.com/tychoctl/tycho/cmd/tycho")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building tycho (go build github.com/tychoctl/tycho/cmd/tycho): %w\n%s",
			err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
