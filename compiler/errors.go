package compiler

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/tree"
	"go.yaml.in/yaml/v4"

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
	reKeyPath     = regexp.MustCompile(`\b((?:services|volumes|networks|secrets|configs|include|models)(?:\.[A-Za-z0-9_\-]+|\.?\[[^\]\s]*\])*)`)
	reQuotedSvc   = regexp.MustCompile(`service "([^"]+)"`)
	reAdditional  = regexp.MustCompile(`[Aa]dditional propert(?:y|ies) '?([A-Za-z0-9_\-]+)'? (?:(?:is|are) )?not allowed`)
	reRequiredVar = regexp.MustCompile(`required variable (\S+) is missing a value`)
	reDuplicate   = regexp.MustCompile(`line (\d+): mapping key "([^"]*)" already defined at line (\d+)`)
	// mapstructure: 'services[web].ports[0].target' cannot parse ...
	reDecode = regexp.MustCompile(`'([^']+)' (.+)`)
	// go-connections' port parser, as compose-go calls it (capitalised
	// before v0.6.0)
	rePort         = regexp.MustCompile(`(?s)^[Ii]nvalid (containerPort|hostPort|proto|(?i:ip address)):?\s*(.*?)(?: address .*)?$`)
	reMountField   = regexp.MustCompile(`^invalid mount config for type "([a-z]+)": field (\w+) must not be empty$`)
	rePortRange    = regexp.MustCompile(`^[Ii]nvalid ranges specified for container and host Ports: (\S+) and (\S+)$`)
	reVolume       = regexp.MustCompile(`^invalid spec: (.*): (empty section between colons|too many colons)$`)
	reCircular     = regexp.MustCompile(`(?:^|\s)(?:extends )?(\S+) in \S+`)
	reFirstWord    = regexp.MustCompile(`^\s*([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*) (must|additional|is|does)\b`)
	reConstruct    = regexp.MustCompile(`at L(\d+)\.C(\d+): (.*)$`)
	reBadTag       = regexp.MustCompile("cannot construct !!\\w+ `([^`]*)` as an? (!!\\w+)")
	reNonStringKey = regexp.MustCompile(`non-string key (?:in (.+)|at top level): (.*)$`)
	reCast         = regexp.MustCompile(`(?:failed to cast to expected type: )?strconv\.(\w+): parsing ("(?:[^"\\]|\\.)*"): (invalid syntax|value out of range)`)
	reInvalidType  = regexp.MustCompile(`invalid type (\S+(?: \{\})?) for (\w+)`)
	reTypeName     = regexp.MustCompile(`unexpected (?:value )?type (\S+(?: \{\})?)`)
)

// loadErrors turns a compose-go error into diagnostics: one per error it
// joins (several unset required variables, say), so that which one is
// reported does not depend on compose-go's map order.
func loadErrors(err error, m *srcmap.Map, names map[string]string) diag.List {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		errs = j.Unwrap()
	}
	var out diag.List
	for _, e := range errs {
		// interpolation errors may come joined in one message
		if msg := e.Error(); strings.Contains(msg, "\nerror while interpolating") {
			for _, line := range strings.Split(msg, "\n") {
				out = append(out, loadError(errors.New(line), m, names))
			}
			continue
		}
		out = append(out, loadError(e, m, names))
	}
	return allUnknownServiceKeys(out, m)
}

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
	if sm := reCast.FindStringSubmatch(d.Msg); sm != nil {
		want := map[string]string{"ParseFloat": "a number", "Atoi": "an integer", "ParseInt": "an integer", "ParseUint": "a non-negative integer", "ParseBool": "true or false"}[sm[1]]
		if want == "" {
			want = "a value of the right type"
		}
		// sm[2] is quoted already
		if sm[3] == "value out of range" {
			d.Msg = sm[2] + " is out of range"
		} else {
			d.Msg = sm[2] + " is not " + want
		}
		d.Code = "wrong-type"
	}
	if sm := reInvalidType.FindStringSubmatch(d.Msg); sm != nil {
		d.Msg = strings.Replace(d.Msg, sm[0], "a "+sm[2]+" cannot be "+typeWord(sm[1]), 1)
		d.Code = "wrong-type"
	}
	if sm := reTypeName.FindStringSubmatch(d.Msg); sm != nil {
		d.Msg = strings.Replace(d.Msg, sm[0], "must be text, not "+typeWord(sm[1]), 1)
		if d.Code == "compose-load" {
			d.Code = "wrong-type"
		}
	}
	if d.Pos.Line == 0 {
		// a file-level finding still points at the file's first byte
		d.Pos.Line, d.Pos.Col = 1, 1
	}
	return d
}

// typeWord names a Go type of a decoded YAML value as the user wrote it.
func typeWord(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "int", "int64", "uint64", "uint32":
		return "a number"
	case "float64":
		return "a decimal number"
	case "bool":
		return "true or false"
	case "string":
		return "text"
	case "time.Time":
		return "a date"
	case "<nil>":
		return "an empty value"
	}
	switch {
	case strings.HasPrefix(t, "map"):
		return "a mapping"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a value of the wrong type"
}

// normPath turns compose-go's spellings of a key path (services[web],
// dns.[0], ports[0]) into Tycho's (services.web.dns.0).
func normPath(p string) string {
	p = strings.NewReplacer("[", ".", "]", "", `"`, "", "'", "").Replace(p)
	for strings.Contains(p, "..") {
		p = strings.ReplaceAll(p, "..", ".")
	}
	return strings.Trim(p, ".")
}

// plainDecode says a mapstructure decoding failure in the user's words.
func plainDecode(msg string) string {
	switch {
	case strings.Contains(msg, "overflows"):
		v := strings.TrimSpace(msg[strings.LastIndex(msg, ":")+1:])
		v = strings.Fields(v)[0]
		return v + " is out of range"
	case strings.HasPrefix(msg, "cannot parse value as"):
		return "not a valid " + strings.Trim(strings.Fields(msg)[4], "':") + " value"
	case strings.Contains(msg, "expected type"):
		if sm := regexp.MustCompile(`expected type '([^']+)', got unconvertible type '([^']+)'`).FindStringSubmatch(msg); sm != nil {
			return "must be " + typeWord(sm[1]) + ", not " + typeWord(sm[2])
		}
	}
	return msg
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
	msg = strings.TrimSpace(msg)
	switch {
	case msg == "empty compose file":
		d.Code = "empty-file"
		d.Msg = "the file is empty: a compose file declares at least services"
		d.Pos.Line, d.Pos.Col = 1, 1
		return d
	case msg == "top-level object must be a mapping":
		d.Code = "not-a-mapping"
		d.Msg = "the file must be a mapping of keys (services:, networks:, …)"
		d.Pos = rootPos(m, d.Pos)
		return d
	case strings.Contains(msg, "control characters are not allowed") || strings.Contains(msg, "UTF-8") || strings.Contains(msg, "invalid Unicode character"):
		d.Code = "invalid-character"
		d.Pos, d.Msg = badByte(m, d.Pos)
		return d
	case strings.HasPrefix(msg, "Circular reference:"):
		var chain []string
		for _, sm := range reCircular.FindAllStringSubmatch(strings.TrimPrefix(msg, "Circular reference:"), -1) {
			chain = append(chain, sm[1])
		}
		d.Code = "extends-cycle"
		// compose-go starts from a service of its map order: start from
		// the first name, so that the same file gives the same error
		if n := len(chain); n > 1 && chain[0] == chain[n-1] {
			ring := chain[:n-1]
			i := slices.Index(ring, slices.Min(ring))
			chain = append(append(append([]string{}, ring[i:]...), ring[:i]...), ring[i])
		}
		if len(chain) > 0 {
			d.Path = "services." + chain[0] + ".extends"
			d.Pos = m.Lookup(d.Path)
			d.Msg = "extends cycle: " + strings.Join(chain, " extends ")
		}
		return d
	case strings.Contains(msg, "decoding failed due to") && reDecode.MatchString(msg):
		sm := reDecode.FindStringSubmatch(msg)
		d.Code = "wrong-type"
		d.Path = normPath(sm[1])
		d.Pos = m.Lookup(d.Path)
		d.Msg = plainDecode(strings.TrimSpace(strings.SplitN(sm[2], "\n", 2)[0]))
		return d
	case rePort.MatchString(msg):
		sm := rePort.FindStringSubmatch(msg)
		what := map[string]string{"containerPort": "container port", "hostPort": "published port", "proto": "protocol", "ip address": "host IP address"}[strings.Replace(sm[1], "IP", "ip", 1)]
		d.Code = "port-spec"
		d.Msg = "invalid " + what + " " + strconv.Quote(sm[2])
		d.Path, d.Pos = findValue(m, portsPath, func(v string) bool {
			if sm[2] == "" { // an empty part: "80:", ":80", "80/"
				return strings.HasPrefix(v, ":") || strings.HasSuffix(v, ":") || strings.HasSuffix(v, "/") || strings.Contains(v, "::")
			}
			return strings.Contains(v, sm[2])
		}, d.Pos)
		return d
	case strings.HasPrefix(msg, "No port specified: ") || strings.HasPrefix(msg, "no port specified: "):
		v := msg[len("no port specified: "):]
		d.Code = "port-spec"
		d.Msg = "no container port given"
		d.Path, d.Pos = findValue(m, portsPath, func(s string) bool {
			return v == "<empty>" && strings.Trim(s, ": ") == "" || v != "<empty>" && strings.Contains(s, v)
		}, d.Pos)
		return d
	case rePortRange.MatchString(msg):
		sm := rePortRange.FindStringSubmatch(msg)
		d.Code = "port-spec"
		d.Msg = "the published range " + sm[2] + " and the container range " + sm[1] + " differ in length"
		d.Path, d.Pos = findValue(m, portsPath, func(v string) bool { return strings.Contains(v, sm[1]) && strings.Contains(v, sm[2]) }, d.Pos)
		return d
	case msg == "invalid empty volume spec":
		d.Code = "volume-spec"
		d.Msg = "empty volume: write source:target or a target path"
		d.Path, d.Pos = findValue(m, volumesPath, func(v string) bool { return strings.TrimSpace(v) == "" }, d.Pos)
		return d
	case reMountField.MatchString(msg):
		// a long-syntax volume without a field its type needs
		sm := reMountField.FindStringSubmatch(msg)
		d.Code = "volume-spec"
		d.Msg = fmt.Sprintf("a %s mount needs a %s", sm[1], strings.ToLower(sm[2]))
		d.Path, d.Pos = findValue(m, append(volumesPath, "type"), func(v string) bool { return v == sm[1] }, d.Pos)
		return d
	case reVolume.MatchString(msg):
		sm := reVolume.FindStringSubmatch(msg)
		d.Code = "volume-spec"
		d.Msg = "invalid volume " + strconv.Quote(sm[1]) + ": " + sm[2]
		d.Path, d.Pos = findValue(m, volumesPath, func(v string) bool { return v == sm[1] }, d.Pos)
		return d
	case reConstruct.MatchString(msg):
		// go-yaml's constructor names the node: L3.C9
		sm := reConstruct.FindStringSubmatch(msg)
		d.Code = "yaml-syntax"
		d.Pos.Line, _ = strconv.Atoi(sm[1])
		d.Pos.Col, _ = strconv.Atoi(sm[2])
		d.Msg = sm[3]
		if strings.Contains(d.Msg, "as a map key") {
			d.Code = "wrong-type"
			d.Msg = "a key must be text, not a list or a mapping"
		}
		return d
	case reBadTag.MatchString(msg):
		sm := reBadTag.FindStringSubmatch(msg)
		d.Code = "yaml-tag"
		d.Msg = "the value " + strconv.Quote(sm[1]) + " cannot be read as " + sm[2]
		d.Path, d.Pos = findValue(m, nil, func(v string) bool { return v == sm[1] }, d.Pos)
		return d
	case reNonStringKey.MatchString(msg):
		sm := reNonStringKey.FindStringSubmatch(msg)
		d.Code = "wrong-type"
		parent := normPath(sm[1])
		d.Msg = "a key must be text, not " + sm[2]
		d.Pos = m.Lookup(parent)
		if parent == "" {
			d.Pos = rootPos(m, d.Pos)
		}
		for _, k := range []string{sm[2], "~", "null", ""} {
			if p := join(parent, k); m.Has(p) {
				d.Path, d.Pos = p, m.Lookup(p)
				break
			}
		}
		if d.Path == "" {
			d.Path = parent
		}
		if sm[2] == "<nil>" {
			d.Msg = "a key must be text, not empty (null)"
		}
		return d
	case reInterpolate.MatchString(msg):
		sm := reInterpolate.FindStringSubmatch(msg)
		d.Code = "interpolation"
		// compose-go names list items "[]": the list is what is known
		d.Path, _, _ = strings.Cut(sm[1], ".[]")
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
		if d.Pos.Col == 0 {
			d.Pos.Col = 1 // an empty line: the end of the file
		}
		if file != "" {
			d.Msg = strings.TrimSpace(strings.ReplaceAll(msg, file, ""))
			d.Msg = strings.TrimLeft(d.Msg, ": ")
		}
		// the position says the line
		if i := strings.Index(d.Msg, sm[0]); i >= 0 {
			d.Msg = d.Msg[i+len(sm[0]):]
		}
		d.Msg = strings.TrimPrefix(strings.TrimSpace(d.Msg), "yaml: ")
		return d
	}
	if sm := reValidating.FindStringSubmatch(msg); sm != nil {
		d.Code = "compose-schema"
		d.Msg = sm[2]
		msg = sm[2]
	}
	if kp := reKeyPath.FindString(msg); kp != "" {
		path := normPath(kp)
		d.Path = path
		// the message names the path in compose-go's spelling
		d.Msg = strings.TrimLeft(strings.TrimPrefix(strings.TrimSpace(d.Msg), kp), ": ")
		if add := reAdditional.FindStringSubmatch(msg); add != nil {
			d.Path = path + "." + add[1]
			d.Code = "unknown-key"
			d.Msg = "unknown key " + add[1]
		}
		d.Pos = m.Lookup(d.Path)
		return d
	}
	if add := reAdditional.FindStringSubmatch(msg); add != nil {
		// a top-level key
		d.Code = "unknown-key"
		d.Path = add[1]
		d.Pos = m.Lookup(d.Path)
		d.Msg = "unknown key " + add[1]
		return d
	}
	if sm := reFirstWord.FindStringSubmatch(msg); sm != nil && m.Has(sm[1]) {
		d.Path = sm[1]
		d.Pos = m.Lookup(d.Path)
		d.Msg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(msg), sm[1]))
		return d
	}
	if sm := reQuotedSvc.FindStringSubmatch(msg); sm != nil {
		d.Pos = m.Lookup("services." + sm[1])
	}
	return d
}

// Where compose-go's value errors are: the list items of ports and volumes.
var (
	portsPath   = []string{"services", tree.PathMatchAll, "ports", tree.PathMatchList}
	volumesPath = []string{"services", tree.PathMatchAll, "volumes", tree.PathMatchList}
)

// findValue returns the path and position of the first scalar, in the last
// file that has one, whose path matches pattern and whose value matches;
// else "" and def.
func findValue(m *srcmap.Map, pattern []string, match func(string) bool, def ast.Pos) (string, ast.Pos) {
	for i := len(m.Files) - 1; i >= 0; i-- {
		f := m.Files[i]
		budget := checkerBudget
		var found string
		var pos ast.Pos
		var walk func(n *yaml.Node, path string, depth int)
		walk = func(n *yaml.Node, path string, depth int) {
			if n == nil || found != "" || depth > checkerDepth || budget <= 0 {
				return
			}
			budget--
			switch n.Kind {
			case yaml.DocumentNode:
				for _, c := range n.Content {
					walk(c, path, depth+1)
				}
			case yaml.AliasNode:
				walk(n.Alias, path, depth+1)
			case yaml.SequenceNode:
				for j, c := range n.Content {
					walk(c, join(path, strconv.Itoa(j)), depth+1)
				}
			case yaml.MappingNode:
				for j := 0; j+1 < len(n.Content); j += 2 {
					k := n.Content[j]
					p := path
					if !(k.Value == "<<" && k.ShortTag() == "!!merge") {
						p = join(path, k.Value)
					}
					walk(n.Content[j+1], p, depth+1)
				}
			case yaml.ScalarNode:
				if pathMatches(path, pattern) && match(n.Value) {
					found, pos = path, ast.Pos{File: f.File, Line: n.Line, Col: n.Column}
				}
			}
		}
		for _, d := range f.Docs() {
			walk(d, "", 0)
		}
		if found != "" {
			return found, pos
		}
	}
	return "", def
}

// rootPos is where the first document of the file of def starts.
func rootPos(m *srcmap.Map, def ast.Pos) ast.Pos {
	if f := m.File(def.File); f != nil {
		for _, d := range f.Docs() {
			if n := deref(d); n != nil && n.Line > 0 {
				return ast.Pos{File: def.File, Line: n.Line, Col: n.Column}
			}
		}
	}
	return ast.Pos{File: def.File, Line: 1, Col: 1}
}

// badByte finds the first byte of the file of def that YAML refuses: a
// control character or a byte that is not UTF-8.
func badByte(m *srcmap.Map, def ast.Pos) (ast.Pos, string) {
	f := m.File(def.File)
	if f == nil {
		return def, "the file holds a control character or a byte that is not UTF-8"
	}
	b := f.Content()
	line, col := 1, 1
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		pos := ast.Pos{File: def.File, Line: line, Col: col}
		switch {
		case r == utf8.RuneError && size <= 1:
			return pos, fmt.Sprintf("byte 0x%02x is not UTF-8", b[i])
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0x7f, r >= 0x80 && r < 0xa0 && r != 0x85, r == 0xfeff && i > 0, r == 0xfffe || r == 0xffff:
			return pos, fmt.Sprintf("control character %U is not allowed in YAML", r)
		case r == '\n' || (r == '\r' && (i+1 >= len(b) || b[i+1] != '\n')):
			line, col = line+1, 1
		case r == '\r':
		default:
			col++
		}
		i += size
	}
	return ast.Pos{File: def.File, Line: 1, Col: 1}, "the file holds a character that YAML does not allow"
}
