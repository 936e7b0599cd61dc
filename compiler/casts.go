package compiler

import (
	"strings"

	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"

	"github.com/tychoctl/tycho/internal/srcmap"
)

// narrowCasts narrows compose-go's interpolation casts to the key paths
// the files of m write.
//
// compose-go casts an interpolated string to a number or boolean where the
// schema wants one (`privileged: ${P}`). To find the cast of a value it
// matches the value's path against each of its ~90 patterns, splitting
// both strings every time: a third of the load time of a large file.
// Only patterns that match a path of the files can ever be chosen, so
// handing compose-go just those gives the same project. Where Tycho cannot
// see every path compose-go will interpolate (an include, an extends from
// another file, a file the source map does not fully read) it keeps them all.
func narrowCasts(o *loader.Options, m *srcmap.Map) {
	if o.Interpolate == nil {
		return
	}
	narrowed := *o.Interpolate
	narrowed.TypeCastMapping = usedCasts(narrowed.TypeCastMapping, m)
	o.Interpolate = &narrowed
}

func usedCasts(all map[tree.Path]interp.Cast, m *srcmap.Map) map[tree.Path]interp.Cast {
	type pattern struct {
		path  tree.Path
		parts []string
	}
	// patterns by their last part; "" holds those that end in a wildcard
	byLast := map[string][]pattern{}
	for p := range all {
		parts := p.Parts()
		last := parts[len(parts)-1]
		if last == tree.PathMatchAll || last == tree.PathMatchList {
			last = ""
		}
		byLast[last] = append(byLast[last], pattern{p, parts})
	}
	used := map[tree.Path]interp.Cast{}
	for _, f := range m.Files {
		if !f.Complete() {
			return all
		}
		for path := range f.Paths() {
			if path == "include" || strings.HasPrefix(path, "include.") {
				return all
			}
			last := path[strings.LastIndexByte(path, '.')+1:]
			for _, key := range [2]string{last, ""} {
				for _, p := range byLast[key] {
					if _, ok := used[p.path]; !ok && pathMatches(path, p.parts) {
						used[p.path] = all[p.path]
					}
				}
			}
			if last == "file" && pathMatches(path, extendsFile) {
				return all
			}
		}
	}
	return used
}

// extendsFile is where a service extends one of another file, which
// compose-go loads and interpolates with the same casts.
var extendsFile = []string{"services", tree.PathMatchAll, "extends", "file"}

// pathMatches is tree.Path.Matches without allocating: a srcmap path
// (list items by position) against the parts of a compose-go pattern
// ("*" any key, "[]" any list item).
func pathMatches(path string, pattern []string) bool {
	for i, want := range pattern {
		part, rest, found := strings.Cut(path, ".")
		if found == (i == len(pattern)-1) {
			return false
		}
		switch want {
		case tree.PathMatchAll, part:
		case tree.PathMatchList:
			if !isIndex(part) {
				return false
			}
		default:
			return false
		}
		path = rest
	}
	return true
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
