// Package prewarm compiles compose-go's JSON schema on a second core while
// the rest of the program initialises.
//
// compose-go compiles the compose-spec schema on first use (≈15 ms on the
// machines Tycho is measured on), which is a third of a short `tycho
// compile`. Importing this package starts that work from an init function:
// Go initialises packages in import-path order once their dependencies are
// ready, so this one runs right after compose-go's schema package and before
// the Kubernetes packages, whose initialisation then overlaps the compile.
// compose-go guards the compile with a sync.Once, so the first real load
// waits for this one instead of repeating it.
package prewarm

import "github.com/compose-spec/compose-go/v2/schema"

func init() {
	go func() { _ = schema.Validate(map[string]any{}) }()
}
