package compiler_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
)

// roundTripInput is one system whose objects are printed and read back.
type roundTripInput struct {
	name string
	opts compiler.Options
}

// roundTripInputs are the corpus units compose-go loads and the inputs of
// the golden cases (extracted into a temporary directory), each compiled
// with default options.
func roundTripInputs(t *testing.T) []roundTripInput {
	t.Helper()
	var in []roundTripInput
	for _, c := range loadGolden(t) {
		dir, _ := c.Extract(t)
		if _, err := os.Stat(filepath.Join(dir, "compose.yaml")); err != nil {
			continue // stdin-only or override-only cases
		}
		opts := defaultOptions()
		opts.Load.WorkDir = dir
		opts.Load.Files = []string{"compose.yaml"}
		opts.Load.Env = c.Env
		in = append(in, roundTripInput{name: "golden/" + c.Name, opts: opts})
	}
	if _, err := os.Stat(filepath.Join(corpusDir, "LOADCHECK.md")); err == nil {
		for _, u := range loadCheck(t, corpusDir) {
			if u.ok {
				in = append(in, roundTripInput{name: "corpus/" + u.name, opts: unitOptions(u)})
			}
		}
	} else {
		t.Logf("public corpus not found at %s: only the golden inputs are round-tripped", corpusDir)
	}
	return in
}

// diffOpts make cmp.Diff agree with equality.Semantic: quantities compare
// by value, nil and empty collections are equal.
var diffOpts = []cmp.Option{
	cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }),
	cmpopts.EquateEmpty(),
}

// TestRoundTrip prints every object of every input as YAML and as JSON and
// reads it back with sigs.k8s.io/yaml (as kubectl does): the result must be
// the same object.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	inputs := roundTripInputs(t)
	total := 0
	for _, in := range inputs {
		res, err := compileSafely(in.opts)
		if err != nil {
			t.Errorf("%s: %v", in.name, err)
			continue
		}
		if res.Diags.HasErrors() {
			t.Logf("%s: does not compile (TestCorpus/TestGolden report it); skipped", in.name)
			continue
		}
		total += len(res.Objects)
		for _, o := range res.Objects {
			kind := o.GetObjectKind().GroupVersionKind().Kind
			name := in.name + "/" + kind + "/" + o.GetName()
			for _, f := range []kubernetes.Format{kubernetes.YAML, kubernetes.JSON} {
				b, err := kubernetes.Marshal(o, f)
				if err != nil {
					t.Errorf("%s: Marshal(%s): %v", name, f, err)
					continue
				}
				if f == kubernetes.YAML {
					checkYAMLShape(t, name, b)
				} else if !json.Valid(b) {
					t.Errorf("%s: JSON output is not valid JSON:\n%s", name, b)
				}
				got := reflect.New(reflect.TypeOf(o).Elem()).Interface()
				if err := yaml.Unmarshal(b, got); err != nil {
					t.Errorf("%s: printed %s does not decode: %v\n%s", name, f, err, b)
					continue
				}
				if !equality.Semantic.DeepEqual(o, got) {
					t.Errorf("%s: %s round trip changes the object (-want +got):\n%s\nprinted:\n%s", name, f, cmp.Diff(o, got, diffOpts...), b)
				}
			}
		}
	}
	t.Logf("%d inputs, %d objects round-tripped as YAML and JSON", len(inputs), total)
}

// checkYAMLShape checks what kubectl users expect of a printed object:
// apiVersion first, no creationTimestamp: null, no empty status.
func checkYAMLShape(t *testing.T, name string, b []byte) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("apiVersion:")) {
		t.Errorf("%s: YAML does not start with apiVersion:\n%s", name, b)
	}
	if bytes.Contains(b, []byte("creationTimestamp")) {
		t.Errorf("%s: YAML has a creationTimestamp:\n%s", name, b)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "status:") {
			t.Errorf("%s: YAML has a top-level status:\n%s", name, b)
		}
	}
}
