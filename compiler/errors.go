package compiler

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// compose-go's errors carry no positions. Each shape of message it produces
// is matched here to the key path or line it is about; one golden case per
// shape lives in testdata/compile (load-error-*). Unmatched messages keep
// their text, positioned at the first file.
var (
	reYAMLLine    = regexp.MustCompile(`(?:yaml|line): (?:line )?(\d+)(?::(\d+))?: `)
	reYAMLLine2   = regexp.MustCompile(`\byaml: line (\d+)`)
	reInterpolate = regexp.MustCompile(`error while interpolating ([^\s:]+): (.*)$`)
	reValidating  = regexp.MustCompile(`^validating (.+?): (.*)$`)
	reKeyPath     = regexp.MustCompile(`\b((?:services|volumes|networks|secrets|configs|include|models)(?:\.[A-Za-z0-9_.\-\[\]]+)?)\b`)
	reQuotedSvc   = regexp.MustCompile(`service "([^"]+)"`)
	reAdditional  = regexp.MustCompile(`[Aa]dditional propert(?:y|ies) '?([A-Za-z0-9_\-]+)'? (?:is|are) not allowed`)
	reRequiredVar = regexp.MustCompile(`required variable (\S+) is missing a value`)
	reDuplicate   = regexp.MustCompile(`line (\d+): mapping key "([^"]+)" already defined at line (\d+)`)
)

// loadError turns a compose-go error into a diagnostic; names maps the
// file names compose-go knows to those shown to the user.
func loadError(err error, m *srcmap.Map, names map[string]string) diag.Diagnostic {
	if d, ok := portRangeDiagnostic(err, m); ok {
		return d
	}
	d := loadError1(err, m, names)
	// one diagnostic, one line
	d.Msg = strings.Join(strings.Fields(d.Msg), " ")
	if d.Path != "" {
		d.Msg = strings.TrimPrefix(strings.TrimPrefix(d.Msg, d.Path+": "), d.Path+" ")
	}
	d.Msg = strings.ReplaceAll(d.Msg, "must be a array", "must be an array")
	d.Msg = strings.ReplaceAll(d.Msg, "must be a object", "must be an object")
	if d.Msg == "false schema" && d.Path != "" {
		d.Msg = "unknown key " + d.Path[strings.LastIndexByte(d.Path, '.')+1:]
		d.Code = "unknown-key"
	}
	if strings.Contains(d.Msg, "interpolat") && d.Code == "compose-load" {
		d.Code = "interpolation"
	}
	return d
}

var reFailedToParse = regexp.MustCompile(`failed to parse [^:]*: `)

func loadError1(err error, m *srcmap.Map, names map[string]string) diag.Diagnostic {
	msg := reFailedToParse.ReplaceAllString(err.Error(), "")
	for abs, display := range names {
		if abs != display && abs != "-" {
			msg = strings.ReplaceAll(msg, abs, display)
		}
	}
	d := diag.Diagnostic{Severity: diag.Error, Code: "compose-load", Msg: msg}
	if len(m.Files) > 0 {
		d.Pos = ast.Pos{File: m.Files[0].File}
	}
	// Which file: compose-go names the file it was reading.
	file := ""
	for _, f := range m.Files {
		if strings.Contains(msg, f.File) {
			file = f.File
			d.Pos = ast.Pos{File: f.File}
		}
	}
	switch {
	case reInterpolate.MatchString(msg):
		sm := reInterpolate.FindStringSubmatch(msg)
		d.Code = "interpolation"
		d.Path = sm[1]
		d.Msg = sm[2]
		d.Pos = m.Lookup(d.Path)
		if rv := reRequiredVar.FindStringSubmatch(msg); rv != nil {
			d.Code = "required-variable"
			d.Notes = append(d.Notes, "set "+rv[1]+" in the environment, in .env or with --env-file")
		}
		return d
	case reDuplicate.MatchString(msg):
		sm := reDuplicate.FindStringSubmatch(msg)
		d.Code = "yaml-duplicate-key"
		d.Pos.Line, _ = strconv.Atoi(sm[1])
		d.Msg = "mapping key " + strconv.Quote(sm[2]) + " already defined at line " + sm[3]
		if f := m.File(d.Pos.File); f != nil {
			d.Pos.Col = f.Column(d.Pos.Line, sm[2])
		}
		return d
	case reYAMLLine.MatchString(msg) || reYAMLLine2.MatchString(msg):
		sm := reYAMLLine.FindStringSubmatch(msg)
		if sm == nil {
			sm = reYAMLLine2.FindStringSubmatch(msg)
		}
		d.Code = "yaml-syntax"
		line, _ := strconv.Atoi(sm[1])
		d.Pos.Line = line
		if len(sm) > 2 && sm[2] != "" {
			d.Pos.Col, _ = strconv.Atoi(sm[2])
		} else if f := m.File(d.Pos.File); f != nil {
			d.Pos.Col = f.Column(line, "")
		}
		if file != "" {
			d.Msg = strings.TrimSpace(strings.ReplaceAll(msg, file, ""))
			d.Msg = strings.TrimLeft(d.Msg, ": ")
		}
		return d
	}
	if sm := reValidating.FindStringSubmatch(msg); sm != nil {
		d.Code = "compose-schema"
		d.Msg = sm[2]
		msg = sm[2]
	}
	if kp := reKeyPath.FindString(msg); kp != "" {
		path := strings.TrimRight(kp, ".")
		if add := reAdditional.FindStringSubmatch(msg); add != nil {
			path += "." + add[1]
		}
		d.Path = path
		d.Pos = m.Lookup(path)
		return d
	}
	if sm := reQuotedSvc.FindStringSubmatch(msg); sm != nil {
		d.Pos = m.Lookup("services." + sm[1])
	}
	return d
}
