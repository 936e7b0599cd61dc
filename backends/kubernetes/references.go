package kubernetes

import (
	"strings"

	"github.com/tychoctl/tycho/ast"
)

// Kinds of the objects a system refers to without holding them.
const (
	KindSecret    = "Secret"
	KindConfigMap = "ConfigMap"
)

// Reference is an object that the system's workloads refer to but that
// Generate does not emit: an external secret or config, or one whose value
// the system does not hold (ast.Provided). It must exist in the system's
// namespace, holding Key, before the system starts; up checks that it
// does.
type Reference struct {
	// Kind is KindSecret or KindConfigMap.
	Kind string
	// Name is the object's name, Key the key the workloads read.
	Name string
	Key  string
	// Path is the compose key that defines it (secrets.<name> or
	// configs.<name>) and Pos its position.
	Path string
	Pos  ast.Pos
	// Source is where its value comes from, as the compose file says
	// (nothing for an external one).
	Source ast.Source
	// Provided says why the system does not hold it ("" for an external
	// one).
	Provided ast.Provided
}

// Command is the kubectl command that creates the object in namespace
// ("" writes the placeholder <namespace>). It never holds a value: a
// variable is read by the shell ("$VAR"), a file by kubectl, and a value
// that only the compose file has is the placeholder <value>.
func (r Reference) Command(namespace string) string {
	var b strings.Builder
	b.WriteString("kubectl create ")
	if r.Kind == KindSecret {
		b.WriteString("secret generic ")
	} else {
		b.WriteString("configmap ")
	}
	b.WriteString(shellWord(r.Name))
	switch {
	case r.Source.File != "":
		b.WriteString(" --from-file=" + r.Key + "=" + shellWord(r.Source.File))
	case isShellName(r.Source.Variable):
		b.WriteString(" --from-literal=" + r.Key + `="$` + r.Source.Variable + `"`)
	default:
		b.WriteString(" --from-literal=" + r.Key + "=<value>")
	}
	b.WriteString(" -n ")
	if namespace == "" {
		b.WriteString("<namespace>")
	} else {
		b.WriteString(shellWord(namespace))
	}
	return b.String()
}

// String names the object as the executor's messages do ("Secret
// db-password").
func (r Reference) String() string { return r.Kind + " " + r.Name }

// References lists the objects that the workloads of sys refer to but
// that Generate does not emit, Secrets first, each by name. Only what a
// service mounts is listed: an unused secret is needed by nothing.
func References(sys *ast.System) []Reference {
	usedSecrets, usedConfigs := map[string]bool{}, map[string]bool{}
	for _, s := range sys.Services {
		for _, r := range s.Secrets {
			usedSecrets[r.Name] = true
		}
		for _, r := range s.Configs {
			usedConfigs[r.Name] = true
		}
	}
	var out []Reference
	for _, s := range sys.Secrets {
		if usedSecrets[s.Name] && (s.External || s.Provided != "") {
			out = append(out, reference(KindSecret, "secrets.", s.Name, s.Pos, s.External, s.ExternalName, s.Source, s.Provided))
		}
	}
	for _, c := range sys.Configs {
		if usedConfigs[c.Name] && (c.External || c.Provided != "") {
			out = append(out, reference(KindConfigMap, "configs.", c.Name, c.Pos, c.External, c.ExternalName, c.Source, c.Provided))
		}
	}
	return out
}

func reference(kind, prefix, name string, pos ast.Pos, external bool, externalName string, src ast.Source, why ast.Provided) Reference {
	r := Reference{Kind: kind, Name: DNSLabel(name, 63), Key: dataKey(name), Path: prefix + name, Pos: pos, Source: src, Provided: why}
	if external {
		r.Name = externalObjectName(externalName)
	}
	return r
}

// referenceDiags tells, for each secret and config that the system
// refers to without holding it, why and how to create it. The first note
// is the command alone, for tools reading --diagnostics json.
func (g *gen) referenceDiags() {
	for _, r := range References(g.sys) {
		if r.Provided == "" {
			continue // external: the lowering said so
		}
		code := "secret-reference"
		if r.Kind == KindConfigMap {
			code = "config-reference"
		}
		cmd := r.Command(g.sys.Namespace)
		if r.Provided == ast.ProvidedUnset {
			g.diags.Warnf(code, r.Source.Pos, r.Path+".environment",
				"environment variable %s is not set: the workloads refer to the %s %q instead, which must exist in the namespace before the system starts, with the value under the key %q",
				r.Source.Variable, r.Kind, r.Name, r.Key).
				Note("%s", cmd).
				Note("or set %s to have the %s in the output", r.Source.Variable, r.Kind)
			continue
		}
		d := g.diags.Infof(code, r.Pos, r.Path,
			"secret values are not written: the workloads refer to the %s %q, which must exist in the namespace before the system starts, with the value under the key %q",
			r.Kind, r.Name, r.Key).Note("%s", cmd)
		if r.Source.Content {
			d.Note("the value is the content: of %s", r.Path)
		}
	}
}

// shellWord quotes s for a POSIX shell where it needs it.
func shellWord(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:@%+,=", c)) {
			return shellQuote(s)
		}
	}
	if s == "" {
		return "''"
	}
	return s
}

// isShellName tells whether "$v" expands the variable v in a POSIX shell.
func isShellName(v string) bool {
	if v == "" || v[0] >= '0' && v[0] <= '9' {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
