// Package prewarm compiles compose-go's JSON schema on a second core while
// the rest of the program initialises, when the command will load compose
// files.
//
// compose-go compiles the compose-spec schema on first use (≈15 ms of CPU
// on the machines Tycho is measured on), a third of a short `tycho
// compile`. Importing this package starts that work from an init function:
// Go initialises packages in import-path order once their dependencies are
// ready, so this one runs right after compose-go's schema package and before
// the Kubernetes packages, whose initialisation then overlaps the compile.
// compose-go guards the compile with a sync.Once, so the first real load
// waits for this one instead of repeating it. Commands that load no compose
// file (version, status, down, ...) would only pay for it, so the command
// word is looked at: a guess that, when wrong, costs nothing but the
// overlap.
package prewarm

import (
	"os"

	"github.com/compose-spec/compose-go/v2/schema"
)

// loads are the commands that load compose files as they start.
var loads = map[string]bool{"compile": true, "up": true, "diff": true}

func init() {
	if len(os.Args) > 1 && loads[os.Args[1]] {
		go func() { _ = schema.Validate(map[string]any{}) }()
	}
}
