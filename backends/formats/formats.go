// Package formats is the one list of `tycho compile --format` values.
// Adding a format is one package under backends/ and one line here.
package formats

import (
	"fmt"
	"strings"

	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/helm"
	"github.com/tychoctl/tycho/backends/kustomize"
	"github.com/tychoctl/tycho/backends/manifests"
)

// All are the formats, the default first.
var All = []backends.Format{
	manifests.Format{},
	helm.Format{},
	kustomize.Format{},
}

// Names are the formats' names, the default first.
func Names() []string {
	names := make([]string, len(All))
	for i, f := range All {
		names[i] = f.Name()
	}
	return names
}

// Lookup finds a format by name.
func Lookup(name string) (backends.Format, error) {
	for _, f := range All {
		if f.Name() == name {
			return f, nil
		}
	}
	return nil, fmt.Errorf("unknown format %q: want %s", name, strings.Join(Names(), ", "))
}
