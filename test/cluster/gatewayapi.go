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
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// GatewayAPIModule is the module whose standard-channel CRDs
// InstallGatewayAPI installs: the version of go.mod, read from the module
// cache, so that the CRDs are those of the Go types Tycho emits.
const GatewayAPIModule = "sigs.k8s.io/gateway-api"

var gvrCRD = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// GatewayAPICRDs returns the paths of the Gateway API standard-channel
// CustomResourceDefinitions of the module version in go.mod.
func GatewayAPICRDs() ([]string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", GatewayAPIModule).Output()
	if err != nil {
		return nil, fmt.Errorf("finding %s in the module cache (go list -m): %w", GatewayAPIModule, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	paths, err := filepath.Glob(filepath.Join(dir, "gateway.networking.k8s.io_*.yaml"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no Gateway API CRDs in %s: %v", dir, err)
	}
	return paths, nil
}

// InstallGatewayAPI applies the Gateway API standard-channel CRDs to the
// cluster of cfg (server-side apply, so it may run again) and waits until
// they are established and served.
func InstallGatewayAPI(ctx context.Context, cfg *rest.Config) error {
	paths, err := GatewayAPICRDs()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var names []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if obj.GetKind() != "CustomResourceDefinition" {
				continue // the standard channel also ships a ValidatingAdmissionPolicy
			}
			data, err := obj.MarshalJSON()
			if err != nil {
				return err
			}
			force := true
			if _, err := dyn.Resource(gvrCRD).Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
				metav1.PatchOptions{FieldManager: "tycho-e2e", Force: &force}); err != nil {
				return fmt.Errorf("applying CRD %s: %w", obj.GetName(), err)
			}
			names = append(names, obj.GetName())
		}
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			crd, err := dyn.Resource(gvrCRD).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			established := false
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					established = true
				}
			}
			if !established {
				return false, nil
			}
		}
		// served: the resources answer a list
		_, err := dyn.Resource(schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
}
