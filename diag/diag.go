package diag

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tychoctl/tycho/ast"
)

// Severity ranks a diagnostic.
type Severity int

// Severities.
const (
	Info Severity = iota
	Warning
	Error
)

// String names the severity as printed.
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	default:
		return "info"
	}
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	case "info":
		*s = Info
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Diagnostic is one finding about the user's input.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Code is a stable kebab-case identifier, e.g. "unsupported-key".
	Code string `json:"code"`
	// Path is the compose key the finding is about, e.g.
	// "services.web.ports.0".
	Path string  `json:"path,omitempty"`
	Pos  ast.Pos `json:"pos"`
	Msg  string  `json:"message"`
	// Notes add hints: what to do about it.
	Notes []string `json:"notes,omitempty"`
}

// String formats d as file:line:col: severity: path: message [code].
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	if d.Code != "" {
		b.WriteString(" [")
		b.WriteString(d.Code)
		b.WriteString("]")
	}
	return b.String()
}

// List collects diagnostics.
type List []Diagnostic

// Add appends a diagnostic.
func (l *List) Add(sev Severity, code string, pos ast.Pos, path, format string, args ...any) *Diagnostic {
	*l = append(*l, Diagnostic{Severity: sev, Code: code, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
	return &(*l)[len(*l)-1]
}

// Errorf appends an error.
func (l *List) Errorf(code string, pos ast.Pos, path, format string, args ...any) *Diagnostic {
	return l.Add(Error, code, pos, path, format, args...)
}

// Warnf appends a warning.
func (l *List) Warnf(code string, pos ast.Pos, path, format string, args ...any) *Diagnostic {
	return l.Add(Warning, code, pos, path, format, args...)
}

// Infof appends an informational note.
func (l *List) Infof(code string, pos ast.Pos, path, format string, args ...any) *Diagnostic {
	return l.Add(Info, code, pos, path, format, args...)
}

// Note adds a hint to d and returns d.
func (d *Diagnostic) Note(format string, args ...any) *Diagnostic {
	d.Notes = append(d.Notes, fmt.Sprintf(format, args...))
	return d
}

// HasErrors reports whether l holds an error.
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Count returns how many diagnostics of severity sev l holds.
func (l List) Count(sev Severity) int {
	n := 0
	for _, d := range l {
		if d.Severity == sev {
			n++
		}
	}
	return n
}

// Sort orders l by position, then severity (errors first), code, path and
// message, and removes duplicates.
func (l *List) Sort() {
	slices.SortStableFunc(*l, compare)
	*l = slices.CompactFunc(*l, func(a, b Diagnostic) bool { return compare(a, b) == 0 && slices.Equal(a.Notes, b.Notes) })
}

func compare(a, b Diagnostic) int {
	if c := strings.Compare(a.Pos.File, b.Pos.File); c != 0 {
		return c
	}
	if a.Pos.Line != b.Pos.Line {
		return a.Pos.Line - b.Pos.Line
	}
	if a.Pos.Col != b.Pos.Col {
		return a.Pos.Col - b.Pos.Col
	}
	if a.Severity != b.Severity {
		return int(b.Severity) - int(a.Severity)
	}
	if c := strings.Compare(a.Code, b.Code); c != 0 {
		return c
	}
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return strings.Compare(a.Msg, b.Msg)
}

// Strict turns every warning of l into an error, as --strict asks.
func (l List) Strict() {
	for i := range l {
		if l[i].Severity == Warning {
			l[i].Severity = Error
		}
	}
}

// WriteText prints l one diagnostic a line, notes indented below.
func (l List) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, d := range l {
		b.WriteString(d.String())
		b.WriteByte('\n')
		for _, n := range d.Notes {
			b.WriteString("\tnote: ")
			b.WriteString(n)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints l as a JSON array.
func (l List) WriteJSON(w io.Writer) error {
	if l == nil {
		l = List{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}

// Error makes l usable as a Go error.
func (l List) Error() string {
	var b strings.Builder
	for i, d := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}
