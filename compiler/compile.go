package compiler

import (
	"context"
	"fmt"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/policy"
)

// Options are everything a compile takes.
type Options struct {
	Load    LoadOptions
	Lower   LowerOptions
	Policy  policy.Options
	Backend kubernetes.Options
	// GUID labels the objects of a started system; empty for none.
	GUID string
	// User labels the objects with who started the system (the API's
	// principal); empty for none.
	User string
	// Namespace and CreateNamespace place the objects.
	Namespace       string
	CreateNamespace bool
	// Strict turns warnings into errors.
	Strict bool
}

// Result is what a compile produced. Objects is nil when Diags has errors.
type Result struct {
	System  *ast.System
	Objects []kubernetes.Object
	// References are the objects that Objects refer to but do not hold
	// (external secrets and configs, and those the user provides), which
	// must exist before the system starts; nil when Diags has errors.
	References []kubernetes.Reference
	Diags      diag.List
}

// Compile runs the whole pipeline: load, lower, check, weave, generate.
// User mistakes are in Result.Diags; the error is for I/O and bad options.
func Compile(ctx context.Context, opts Options) (*Result, error) {
	res := &Result{}
	loaded, diags, err := Load(ctx, opts.Load)
	if err != nil {
		return nil, err
	}
	res.Diags = diags
	if loaded == nil {
		return res.finish(opts.Strict), nil
	}
	lower := opts.Lower
	lower.callerDir = opts.Load.WorkDir
	lower.guid = opts.GUID
	sys, diags := Lower(loaded, lower)
	res.Diags = append(res.Diags, diags...)
	sys.GUID = opts.GUID
	sys.User = opts.User
	sys.Namespace = opts.Namespace
	sys.CreateNamespace = opts.CreateNamespace
	res.System = sys
	res.Diags = append(res.Diags, Check(sys)...)
	if res.Diags.HasErrors() {
		return res.finish(opts.Strict), nil
	}
	diags, err = policy.Weave(sys, policy.Default(), opts.Policy)
	if err != nil {
		return nil, err
	}
	res.Diags = append(res.Diags, diags...)
	objs, diags := kubernetes.Generate(sys, opts.Backend)
	res.Diags = append(res.Diags, diags...)
	res.Objects = objs
	res.References = kubernetes.References(sys)
	return res.finish(opts.Strict), nil
}

func (r *Result) finish(strict bool) *Result {
	if strict {
		r.Diags.Strict()
	}
	r.Diags.Sort()
	if r.Diags.HasErrors() {
		r.Objects, r.References = nil, nil
	}
	return r
}

// ValidateGUID checks a GUID has the form Tycho gives them.
func ValidateGUID(g string) error {
	if g == "" {
		return nil
	}
	if len(g) != 32 {
		return fmt.Errorf("guid %q: want 32 lowercase hex characters", g)
	}
	for _, c := range g {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("guid %q: want 32 lowercase hex characters", g)
		}
	}
	return nil
}
