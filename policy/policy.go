package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
)

// Options are the policy flags.
type Options struct {
	// Network is "default", "strict" or "none".
	Network string
	// Security is the Pod Security level: "restricted", "baseline",
	// "privileged" or "none" (no security weaving).
	Security string
	// SecurityCeiling makes Security the most a system may need: what
	// needs more is an error, never a reason to raise the level. tycho up
	// and the API compile so (the operator's level is a limit); compile
	// only reports, and raises a baseline system that needs it to
	// privileged.
	SecurityCeiling bool
	// Disabled names weavers to skip.
	Disabled []string
}

// Weaver makes one kind of policy decision on a system.
type Weaver interface {
	// Name identifies the weaver, e.g. to switch it off.
	Name() string
	// Weave mutates sys and reports what it could not do.
	Weave(sys *ast.System, opts Options) diag.List
}

// Default returns the weavers in the order they run.
func Default() []Weaver {
	return []Weaver{Network{}, Security{}}
}

// Names lists the names of ws.
func Names(ws []Weaver) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name()
	}
	return out
}

// Weave runs ws on sys, skipping the disabled ones.
func Weave(sys *ast.System, ws []Weaver, opts Options) (diag.List, error) {
	for _, d := range opts.Disabled {
		if !slices.Contains(Names(ws), d) {
			return nil, fmt.Errorf("unknown weaver %q (known: %s)", d, strings.Join(Names(ws), ", "))
		}
	}
	var diags diag.List
	for _, w := range ws {
		if slices.Contains(opts.Disabled, w.Name()) {
			continue
		}
		diags = append(diags, w.Weave(sys, opts)...)
	}
	return diags, nil
}
