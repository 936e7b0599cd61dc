package compiler

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"

	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// maxPortRange is the most ports one range may hold, in `expose`
// ("8000-8099") and in `ports` ("8000-8099:8000-8099"). Each port of a
// range becomes a port of the container and of the Service: a range of
// all 65535 ports made compose-go spend 10-14 s expanding it and Tycho
// write 16 MB of manifests. Real ranges (RTP media, FTP passive ports)
// are tens of ports.
const maxPortRange = 100

// portRangeMsg is the one message of both rules, so that they read alike.
func portRangeMsg(what, spec string, n uint64) string {
	return fmt.Sprintf("%s range %q has %d ports: at most %d are supported", what, spec, n, maxPortRange)
}

// containerRange returns the number of container ports of a short port
// syntax ("[ip:][host[-host]:]container[-container][/proto]"), which
// compose-go expands into one entry per port; ok is false when the spec
// has no container range Tycho can read (compose-go reports bad specs).
func containerRange(spec string) (n uint64, ok bool) {
	spec, _, _ = strings.Cut(spec, "/")
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		spec = spec[i+1:]
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	if !isRange {
		return 1, true
	}
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil || b < a {
		return 0, false
	}
	return b - a + 1, true
}

// portRangeError is a `ports` entry whose container range is larger than
// maxPortRange, found by portRangeCast.
type portRangeError struct {
	spec string
	n    uint64
}

// Error is the diagnostic's message.
func (e *portRangeError) Error() string { return portRangeMsg("port", e.spec, e.n) }

// portsPatterns are where compose-go's interpolation passes every string
// of a `ports` list, after substituting variables and before expanding
// ranges: services and jobs (which Tycho ignores, but compose-go expands).
var portsPatterns = []tree.Path{
	tree.NewPath("services", tree.PathMatchAll, "ports", tree.PathMatchList),
	tree.NewPath("jobs", tree.PathMatchAll, "ports", tree.PathMatchList),
}

// limitPortRanges makes compose-go refuse a `ports` entry whose container
// range is larger than maxPortRange before it expands it: compose-go
// expands short-syntax ranges while loading, so lowering would be too
// late. The check rides on the interpolation casts, the one hook compose-
// go runs on each `ports` string after variables are substituted (a
// range may come from the environment) and before ranges are expanded,
// in included and extended files too. The cast returns the string
// unchanged.
func limitPortRanges(o *loader.Options) {
	if o.Interpolate == nil {
		return
	}
	limited := *o.Interpolate
	// a copy: the mapping may be compose-go's own default one
	casts := make(map[tree.Path]interp.Cast, len(limited.TypeCastMapping)+len(portsPatterns))
	for p, c := range limited.TypeCastMapping {
		casts[p] = c
	}
	for _, p := range portsPatterns {
		casts[p] = limitPortRange
	}
	limited.TypeCastMapping = casts
	o.Interpolate = &limited
}

// limitPortRange is the cast of a ports string: the string unchanged, or
// a portRangeError.
func limitPortRange(value string) (any, error) {
	if n, ok := containerRange(value); ok && n > maxPortRange {
		return value, &portRangeError{spec: value, n: n}
	}
	return value, nil
}

var rePortsPath = regexp.MustCompile(`error while interpolating ((?:services|jobs)\.\S+\.ports)\.\[\]`)

// portRangeDiagnostic turns a portRangeError out of compose-go into a
// port-range error at the entry, if err holds one.
func portRangeDiagnostic(err error, m *srcmap.Map) (diag.Diagnostic, bool) {
	var pre *portRangeError
	if !errors.As(err, &pre) {
		return diag.Diagnostic{}, false
	}
	d := diag.Diagnostic{Severity: diag.Error, Code: "port-range", Msg: pre.Error()}
	if sm := rePortsPath.FindStringSubmatch(err.Error()); sm != nil {
		d.Path = sm[1]
		// a list of scalars is indexed by value too: the entry as
		// written, unless a variable made it
		d.Pos = m.Lookup(d.Path)
		if entry := d.Path + "." + pre.spec; m.Has(entry) {
			d.Pos = m.Lookup(entry)
			for i := 0; m.Has(d.Path + "." + strconv.Itoa(i)); i++ {
				if m.Lookup(d.Path+"."+strconv.Itoa(i)) == d.Pos {
					d.Path += "." + strconv.Itoa(i)
					break
				}
			}
		}
	} else if len(m.Files) > 0 {
		d.Pos.File = m.Files[0].File
	}
	return d, true
}
