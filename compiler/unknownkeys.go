package compiler

import (
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// serviceKeyNames are the keys a service may have: the yaml names of
// compose-go's ServiceConfig, which follows the compose schema.
var serviceKeyNames = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for _, f := range yamlFields(t) {
			if f.inline {
				if ft := t.Field(f.index).Type; ft.Kind() == reflect.Struct || ft.Kind() == reflect.Pointer {
					add(ft)
				}
				continue
			}
			out[f.key] = true
		}
	}
	add(reflect.TypeFor[types.ServiceConfig]())
	return out
})

var reServiceKey = regexp.MustCompile(`^services\.([^.]+)\.[^.]+$`)

// allUnknownServiceKeys replaces an unknown-key error on a service with
// one per unknown key of that service, sorted: compose-go's schema check
// names one of them, picked in map order, so that the same file gave
// another error each run.
func allUnknownServiceKeys(out diag.List, m *srcmap.Map) diag.List {
	done := map[string]bool{}
	var res diag.List
	for _, d := range out {
		sm := reServiceKey.FindStringSubmatch(d.Path)
		if d.Code != "unknown-key" || sm == nil || m == nil {
			res = append(res, d)
			continue
		}
		svc := "services." + sm[1]
		if done[svc] {
			continue
		}
		done[svc] = true
		known := serviceKeyNames()
		keys := map[string]bool{}
		for _, f := range m.Files {
			for p := range f.Paths() {
				k, ok := strings.CutPrefix(p, svc+".")
				if ok && !strings.Contains(k, ".") && !known[k] && !strings.HasPrefix(k, "x-") {
					keys[k] = true
				}
			}
		}
		if len(keys) == 0 {
			res = append(res, d)
			continue
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			n := d
			n.Notes = append([]string(nil), d.Notes...)
			n.Path = svc + "." + k
			n.Pos = m.Lookup(n.Path)
			n.Msg = "unknown key " + k
			res = append(res, n)
		}
	}
	return res
}
