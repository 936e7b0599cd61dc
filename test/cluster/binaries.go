package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// BinDirEnv names an environment variable that, when set, points at a
// directory that already holds the binaries (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok and kwok-stages/); the tools
// modules are then not consulted at all.
const BinDirEnv = "TYCHO_CLUSTER_BIN_DIR"

// binaries is the layout of a binary cache directory written by
// tools/build.sh.
type binaries struct {
	dir          string
	etcd         string
	apiserver    string
	kcm          string
	scheduler    string
	kwok         string
	kubectl      string // empty if neither in dir nor on PATH
	stages       string // kwok Stage objects, one multi-document file
	storageClass string // kwok's default StorageClass for its volume stage
}

func binariesIn(dir string) (*binaries, error) {
	b := &binaries{
		dir:          dir,
		etcd:         filepath.Join(dir, "etcd"),
		apiserver:    filepath.Join(dir, "kube-apiserver"),
		kcm:          filepath.Join(dir, "kube-controller-manager"),
		scheduler:    filepath.Join(dir, "kube-scheduler"),
		kwok:         filepath.Join(dir, "kwok"),
		stages:       filepath.Join(dir, "kwok-stages", "stages.yaml"),
		storageClass: filepath.Join(dir, "kwok-stages", "storage-class.yaml"),
	}
	var missing []string
	for _, f := range []string{b.etcd, b.apiserver, b.kcm, b.scheduler, b.kwok, b.stages, b.storageClass} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, filepath.Base(f))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("binary directory %s lacks %s", dir, strings.Join(missing, ", "))
	}
	if k := filepath.Join(dir, "kubectl"); fileExists(k) {
		b.kubectl = k
	} else if k, err := exec.LookPath("kubectl"); err == nil {
		b.kubectl = k
	}
	return b, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// EnsureBinaries returns the directory holding the control-plane binaries,
// building them first if the cache lacks them. It runs tools/build.sh, which
// is fast (well under a second) when the cache is warm and takes about half an
// hour on 2 cores when it is cold. The build's progress is copied to logw
// (nil discards it). BinDirEnv overrides the lookup.
func EnsureBinaries(ctx context.Context, logw io.Writer) (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if _, err := binariesIn(dir); err != nil {
			return "", fmt.Errorf("%s: %w", BinDirEnv, err)
		}
		return dir, nil
	}
	script, err := buildScript()
	if err != nil {
		return "", err
	}
	if logw == nil {
		logw = io.Discard
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(logw, &stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building cluster binaries with %s: %w\n%s", script, err, lastLines(stderr.String(), 40))
	}
	dir := strings.TrimSpace(lastLines(stdout.String(), 1))
	if _, err := binariesIn(dir); err != nil {
		return "", fmt.Errorf("after %s: %w", script, err)
	}
	return dir, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// buildScript finds tools/build.sh: next to this source file when the test
// binary was built from a checkout (the usual case), else relative to the
// main module of the current directory.
func buildScript() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		p := filepath.Join(filepath.Dir(file), "tools", "build.sh")
		if fileExists(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			p := filepath.Join(filepath.Dir(gomod), "test", "cluster", "tools", "build.sh")
			if fileExists(p) {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	return "", errors.New("cannot find test/cluster/tools/build.sh (tried " + strings.Join(tried, ", ") +
		"); run from the tycho checkout or set " + BinDirEnv)
}
