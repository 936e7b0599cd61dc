// Package manifests is the plain output format: the Kubernetes objects as
// YAML documents or a JSON v1 List on stdout, or one file per object.
package manifests

import (
	"fmt"
	"io"
	"strings"

	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/kubernetes"
)

// Format is the manifests format.
type Format struct{}

var _ backends.Printer = Format{}

// Name is "manifests".
func (Format) Name() string { return "manifests" }

// Print writes the objects as one stream.
func (Format) Print(w io.Writer, in backends.Input, opts backends.Options) error {
	return kubernetes.Print(w, in.Objects, encoding(opts))
}

// Files gives one file per object, named <kind>-<name>.<encoding>.
func (Format) Files(in backends.Input, opts backends.Options) ([]backends.File, error) {
	enc := encoding(opts)
	files := make([]backends.File, 0, len(in.Objects))
	seen := map[string]bool{}
	for _, o := range in.Objects {
		b, err := kubernetes.Marshal(o, enc)
		if err != nil {
			return nil, err
		}
		name := FileName(o, enc)
		if seen[name] {
			return nil, fmt.Errorf("two objects would be written to %s", name)
		}
		seen[name] = true
		files = append(files, backends.File{Name: name, Data: b})
	}
	return files, nil
}

// FileName is the file an object is written to: <kind>-<name>.<encoding>,
// the kind in lower case. Names are DNS names, so they are unique per kind
// within a namespace, which is all one compile holds.
func FileName(o kubernetes.Object, enc kubernetes.Format) string {
	return fmt.Sprintf("%s-%s.%s", strings.ToLower(o.GetObjectKind().GroupVersionKind().Kind), o.GetName(), enc)
}

func encoding(opts backends.Options) kubernetes.Format {
	if opts.Encoding == "" {
		return kubernetes.YAML
	}
	return opts.Encoding
}
