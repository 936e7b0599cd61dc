// Package backends defines what an output format of `tycho compile` is.
//
// A format turns a compiled system into files: plain manifests
// (backends/manifests), a Helm chart (backends/helm), a Kustomize base
// (backends/kustomize). Each is its own package implementing Format, and
// backends/formats registers them in one list, which is all `tycho compile
// --format` knows. A new format, or a new orchestrator, is one new package
// and one line in that list (docs/architecture.md, "Adding a format").
//
// Formats package; they make no policy decisions. The system they get has
// been checked and woven, and Objects are the Kubernetes backend's objects
// of it (a format for another orchestrator ignores them and reads System).
package backends

import (
	"io"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/internal/atomicdir"
)

// Input is one compiled system.
type Input struct {
	// System is the checked and woven system.
	System *ast.System
	// Objects are the Kubernetes objects generated from System, in apply
	// order (kubernetes.Generate).
	Objects []kubernetes.Object
	// Options is how the system was compiled, for formats that must render
	// the same objects with other values (a Helm chart's values).
	Options kubernetes.Options
}

// Options are the packaging choices of `tycho compile`.
type Options struct {
	// Encoding is how objects are printed where a format lets the user
	// choose: kubernetes.YAML or kubernetes.JSON.
	Encoding kubernetes.Format
	// Version and AppVersion version a package (a chart's version and
	// appVersion); formats without versions ignore them.
	Version, AppVersion string
}

// File is one file of a format's output, named by a slash-separated path
// relative to the output directory.
type File = atomicdir.File

// Format is an output format.
type Format interface {
	// Name is the value of --format.
	Name() string
	// Files packages in as files for --out-dir, which is replaced
	// atomically with exactly these.
	Files(in Input, opts Options) ([]File, error)
}

// Printer is a Format that can also print on standard output.
type Printer interface {
	Format
	Print(w io.Writer, in Input, opts Options) error
}
