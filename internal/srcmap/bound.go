package srcmap

import (
	"fmt"

	"go.yaml.in/yaml/v4"

	"github.com/tychoctl/tycho/ast"
)

// A YAML document can cost far more to read than its size: an alias (*a)
// stands for a copy of its anchor, a merge key (<<: *a) copies the
// anchor's keys, and both nest. compose-go decodes the expanded document
// into maps and walks them several times, and at every node it builds the
// node's key path ("services.web.labels.x") and splits it once per rule it
// matches against: its time is the sum, over the expanded nodes, of their
// key path lengths and levels. Deep nesting or long keys above many nodes make that
// sum grow with the square of the input, aliases and merge keys
// exponentially. So Tycho measures that sum for each file before anyone
// expands it, in time linear in its source (each anchor is measured once),
// and refuses the file when it crosses a bound proportional to the file's
// size.

// NodeWork is the work of one node apart from its key path: what building
// it costs, in the same unit as a byte of key path.
const NodeWork = 16

// WorkRatio and WorkFloor bound the work of a file (the sum over its
// expanded nodes of NodeWork plus the work of their key path, see
// keyOffset): at most max(WorkFloor, WorkRatio × its size in bytes).
//
// Real files stay far below. The public corpus, the goldens and the
// examples need at most 17 times their size (a small file that merges one
// anchor into each service), and files of more than a few kilobytes about
// 10 (the example voting app 8.7, the synthetic 5000-service systems of
// the benchmarks 7.7 and 9.4). WorkRatio leaves a file room to merge an
// anchor several times its own size into every service. The floor lets
// small files reuse anchors freely: 1 000 000 is about 10 000 nodes at
// the depth of a service's keys, as much as a 70 KB file. A file at the
// floor loads in 0.1-0.4 s of CPU (measured on the busy 2-core build
// machine); past the floor, the cost grows in proportion to what the
// client sent, never faster.
const (
	WorkRatio = 64
	WorkFloor = 1_000_000
)

// MaxDepth bounds how deeply collections (lists and mappings) nest in a
// document once its aliases are expanded. Real compose files nest fewer
// than 15 levels (services.web.deploy.resources.limits.cpus is 6); deeper
// nesting only serves to make every node below cost more.
const MaxDepth = 100

// Codes of the LimitError kinds, stable for diagnostics.
const (
	// CodeExpansion: aliases and merge keys expand the file past its
	// bound.
	CodeExpansion = "yaml-expansion"
	// CodeCycle: an alias inside its own anchor.
	CodeCycle = "yaml-alias-cycle"
	// CodeDepth: lists and mappings nest past MaxDepth.
	CodeDepth = "yaml-depth"
	// CodeKeyPaths: without aliases, the key paths of the file add up
	// past its bound (keys of kilobytes above many nodes).
	CodeKeyPaths = "yaml-key-paths"
)

// LimitError is a file that crosses a bound: it is refused before any
// reader expands it. Pos is the alias, merge key or node that crosses it.
type LimitError struct {
	Pos  ast.Pos
	Code string
	Msg  string
}

// Error returns "file:line:col: message".
func (e *LimitError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Pos.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// shape is what a node costs once expanded, measured from the node itself
// (its own key path counts as empty).
type shape struct {
	// nodes as the reader builds them: an alias is its own node and a
	// copy of its anchor.
	nodes int
	// work is the sum over the nodes of NodeWork plus their key path
	// below the node; a copy placed under a key path of p bytes costs
	// work + p × nodes.
	work int
	// height is the levels of collections, the node's own included.
	height int
}

// bounder measures the documents of one file. Its counters are the work
// done, so tests can bound them.
type bounder struct {
	file   string
	budget int
	// work is the work of the documents measured so far, in document
	// order: the alias that makes it cross budget is reported.
	work int
	// doc and aliased count the nodes of the current document and those
	// of them copied by aliases (see excessiveAliasing).
	doc, aliased int
	// memo holds the shape of each anchor measured; active the anchors
	// being measured, an alias to which is a cycle.
	memo   map[*yaml.Node]shape
	active map[*yaml.Node]bool
	// visits counts the nodes looked at: a few times the source nodes.
	visits int
	err    *LimitError
}

// check walks doc as written, depth first, counting each node once and
// each alias as its anchor's shape, and records the first bound crossed.
func (b *bounder) check(doc *yaml.Node) {
	b.memo = map[*yaml.Node]shape{}
	b.active = map[*yaml.Node]bool{}
	b.doc, b.aliased = 0, 0
	b.walk(doc, 0, 0)
	b.memo, b.active = nil, nil
}

func (b *bounder) fail(n *yaml.Node, code, format string, args ...any) {
	if b.err == nil {
		b.err = &LimitError{Pos: ast.Pos{File: b.file, Line: n.Line, Col: n.Column}, Code: code, Msg: fmt.Sprintf(format, args...)}
	}
}

// LevelWork is the work of one level of a key path apart from its key's
// bytes: compose-go splits the path into a slice of its parts, one string
// header (16 bytes) each.
const LevelWork = 16

// keyOffset is the work a key path gains below a mapping key k (".k") or
// a list item (".[]", as compose-go writes it).
func keyOffset(k *yaml.Node) int {
	if k == nil {
		return LevelWork + 3
	}
	return LevelWork + 1 + len(k.Value)
}

// walk visits n, at depth (the collections around it) under a key path of
// plen bytes.
func (b *bounder) walk(n *yaml.Node, depth, plen int) {
	if n == nil || b.err != nil {
		return
	}
	b.visits++
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			b.walk(c, depth, plen)
		}
		return
	case yaml.AliasNode:
		b.expand(n, n, depth, plen)
		return
	case yaml.SequenceNode, yaml.MappingNode:
		depth++
		if depth > MaxDepth {
			b.fail(n, CodeDepth, "lists and mappings nest more than %d levels deep here", MaxDepth)
			return
		}
	}
	b.doc++
	b.work = satAdd(b.work, NodeWork+plen)
	if b.work > b.budget {
		b.fail(n, CodeKeyPaths, "the keys above here are too long to load: with a key path of %d bytes at each node below them, loading the file would cost more than %d times its size", plen, WorkRatio)
		return
	}
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			b.walk(c, depth, plen+keyOffset(nil))
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := plen + keyOffset(k)
		b.walk(k, depth, p)
		if !isMerge(k) {
			b.walk(v, depth, p)
			continue
		}
		// A merge key puts its anchor's keys beside it: one level up
		// from where an alias value would be, under the mapping's
		// own key path. <<: [*a, *b] merges each. Each is reported at
		// its merge key.
		merged := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			b.visits++
			b.doc++
			merged = v.Content
		}
		for _, c := range merged {
			if c.Kind == yaml.AliasNode {
				b.expand(c, k, depth-1, plen)
			} else {
				b.walk(c, depth, p)
			}
		}
	}
}

// satAdd adds without overflowing: a measure past any budget stays past it.
func satAdd(a, b int) int {
	const limit = 1 << 60
	return min(a+b, limit)
}

// satMul is a × b, saturated as satAdd.
func satMul(a, b int) int {
	const limit = 1 << 60
	if a != 0 && b > limit/a {
		return limit
	}
	return min(a*b, limit)
}

// expand adds the copy that alias makes, at depth under a key path of plen
// bytes, and reports it at at (the alias, or the merge key that uses it)
// when that crosses a bound.
func (b *bounder) expand(alias, at *yaml.Node, depth, plen int) {
	s := b.measure(alias, 0)
	if b.err != nil {
		return
	}
	what := "alias *" + alias.Value
	if at != alias {
		what = "merge key <<: *" + alias.Value
	}
	if depth+s.height > MaxDepth {
		b.fail(at, CodeDepth, "%s nests lists and mappings more than %d levels deep", what, MaxDepth)
		return
	}
	b.work = satAdd(b.work, satAdd(s.work, satMul(plen, s.nodes)))
	if b.work > b.budget {
		b.fail(at, CodeExpansion, "%s repeats its anchor too often: the expanded file would be more than %d times the size of the file", what, WorkRatio)
		return
	}
	b.doc = satAdd(b.doc, s.nodes)
	if at != alias {
		// the reader does not count merged keys as aliased
		return
	}
	// the alias node itself is not a copy
	b.aliased = satAdd(b.aliased, s.nodes-1)
	if excessiveAliasing(b.aliased, b.doc) {
		b.fail(at, CodeExpansion, "%s makes the document almost only copies of its anchors (%d of %d nodes): write the repeated parts out, or use fewer aliases", what, b.aliased, b.doc)
	}
}

// excessiveAliasing is the rule by which compose-go's YAML reader
// (go.yaml.in/yaml/v4, DefaultAliasCheck) refuses a document whose nodes
// are almost all copies made by aliases: a billion laughs below the work
// bound. Tycho applies it first so that the error names the alias. The
// reader checks it at every node; the share of copies peaks at the end of
// each expansion, where Tycho checks it.
func excessiveAliasing(aliased, total int) bool {
	const low, high = 400_000, 4_000_000
	if aliased <= 100 || total <= 1000 {
		return false
	}
	allowed := 0.99
	switch {
	case total >= high:
		allowed = 0.10
	case total > low:
		allowed = 0.99 - 0.89*float64(total-low)/float64(high-low)
	}
	return float64(aliased)/float64(total) > allowed
}

// measure returns the shape of n once expanded, n being depth levels
// below the alias being measured. Anchors are measured once (memo), so
// measuring is linear in the source; an alias to an anchor being measured
// is a cycle.
func (b *bounder) measure(n *yaml.Node, depth int) shape {
	if n == nil || b.err != nil {
		return shape{}
	}
	b.visits++
	if n.Kind == yaml.AliasNode {
		t := n.Alias
		if t == nil {
			return shape{}
		}
		if b.active[t] {
			b.fail(n, CodeCycle, "alias *%s is inside its own anchor: its value would contain itself forever", n.Value)
			return shape{}
		}
		// the reader builds the alias node, then a copy of its anchor
		s, ok := b.memo[t]
		if !ok {
			s = b.measure(t, depth)
		}
		s.nodes = satAdd(s.nodes, 1)
		s.work = satAdd(s.work, NodeWork)
		return s
	}
	if n.Anchor != "" {
		if s, ok := b.memo[n]; ok {
			return s
		}
		b.active[n] = true
		defer delete(b.active, n)
	}
	s := shape{nodes: 1, work: NodeWork}
	if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
		s.height = 1
		if depth >= MaxDepth {
			// deeper than any bound: the caller reports it
			s.height = MaxDepth + 1
			return s
		}
	}
	for i, c := range n.Content {
		cs := b.measure(c, depth+1)
		off, h := keyOffset(nil), cs.height+1
		if n.Kind == yaml.MappingNode {
			k := n.Content[i&^1]
			off = keyOffset(k)
			if i%2 == 1 && isMerge(k) {
				// merged keys stand beside the merge key
				off, h = 0, cs.height
				if c.Kind == yaml.SequenceNode {
					h--
				}
			}
		}
		s.nodes = satAdd(s.nodes, cs.nodes)
		s.work = satAdd(s.work, satAdd(cs.work, satMul(off, cs.nodes)))
		s.height = max(s.height, min(h, MaxDepth+1))
	}
	if n.Anchor != "" && b.err == nil {
		b.memo[n] = s
	}
	return s
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge"
}
