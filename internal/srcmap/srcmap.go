package srcmap

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"maps"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/tychoctl/tycho/ast"
)

// Index maps the key paths of one file to their positions.
type Index struct {
	File    string
	content []byte
	pos     map[string]ast.Pos
	visits  int
	budget  int
	// partial is set when some keys are not indexed: the file is not YAML
	// that the YAML reader reads, the file crosses a bound (Limit), or the
	// depth or visit bound cut the walk.
	partial bool
	// limit is the bound the file crosses, if any (see bound.go).
	limit *LimitError
	// bounds is the work of measuring the expansion, for tests.
	bounds bounder
	// docs are the parsed documents, for checks that need the values
	// (their tags and styles) and not only the positions.
	docs []*yaml.Node
}

// Parse indexes content, the bytes of file: every document of it, later
// documents over earlier ones, as compose-go merges them. A file that is
// not valid YAML yields an index that knows only what came before the
// error (the loader reports it). A file whose expansion crosses a bound
// (see Limit) is measured, not indexed.
func Parse(file string, content []byte) *Index {
	idx := &Index{File: file, content: content, pos: map[string]ast.Pos{}, budget: budget(content)}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		doc := &yaml.Node{}
		if err := dec.Decode(doc); err != nil {
			idx.partial = idx.partial || !errors.Is(err, io.EOF)
			break
		}
		docs = append(docs, doc)
	}
	idx.bounds = bounder{file: file, budget: max(WorkFloor, WorkRatio*len(content))}
	for _, doc := range docs {
		if idx.bounds.check(doc); idx.bounds.err != nil {
			idx.limit = idx.bounds.err
			idx.partial = true
			return idx
		}
	}
	idx.docs = docs
	for _, doc := range docs {
		idx.walk(doc, "", 0)
	}
	return idx
}

// Limit returns the bound on expansion or nesting that the file crosses,
// at the alias, merge key or collection that crosses it; nil when the file
// is within bounds. Such a file must not be given to compose-go, which
// would expand it.
func (x *Index) Limit() *LimitError { return x.limit }

// Docs returns the documents of the file as parsed (go.yaml.in/yaml/v4,
// the parser compose-go uses, so both read the same bytes alike).
func (x *Index) Docs() []*yaml.Node { return x.docs }

// Complete reports whether every key path of the file is indexed.
func (x *Index) Complete() bool { return !x.partial }

// Paths returns the indexed key paths, in no particular order. A list item
// is indexed by its position ("ports.0") and, when it is a scalar, also by
// its value ("networks.front").
func (x *Index) Paths() iter.Seq[string] { return maps.Keys(x.pos) }

// maxDepth and the visit budget bound alias expansion, so a file of nested
// aliases (a "billion laughs") cannot make indexing explode; positions past
// the bound fall back to their longest indexed prefix. A file without
// aliases has fewer nodes than bytes, so the budget never cuts it.
const maxDepth = 64

func budget(content []byte) int { return max(1<<16, 2*len(content)) }

func (x *Index) walk(n *yaml.Node, path string, depth int) {
	if n == nil {
		return
	}
	if depth > maxDepth || x.visits > x.budget {
		x.partial = true
		return
	}
	x.visits++
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			x.walk(c, path, depth+1)
		}
	case yaml.AliasNode:
		x.walk(n.Alias, path, depth+1)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := join(path, strconv.Itoa(i))
			x.set(p, c)
			// A list of names (depends_on: [db], networks: [front]) is
			// also indexed by name, as its map form would be.
			if c.Kind == yaml.ScalarNode && c.Value != "" {
				if _, ok := x.pos[join(path, c.Value)]; !ok {
					x.set(join(path, c.Value), c)
				}
			}
			x.walk(c, p, depth+1)
		}
	case yaml.MappingNode:
		// Merge keys first: explicit keys win over merged ones wherever
		// they stand.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "<<" && n.Content[i].Tag == "!!merge" {
				v := n.Content[i+1]
				if v.Kind == yaml.SequenceNode {
					for _, c := range v.Content {
						x.walk(c, path, depth+1)
					}
				} else {
					x.walk(v, path, depth+1)
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" {
				continue
			}
			p := join(path, k.Value)
			x.set(p, k)
			x.walk(v, p, depth+1)
		}
	}
}

func (x *Index) set(path string, n *yaml.Node) {
	x.pos[path] = ast.Pos{File: x.File, Line: n.Line, Col: n.Column}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Has reports whether path is written in the file.
func (x *Index) Has(path string) bool {
	_, ok := x.pos[path]
	return ok
}

// Map is the index of all files of a system, in the order they were merged.
type Map struct {
	Files []*Index
}

// Lookup returns the position of path: where the last file that writes it
// wrote it, else where the longest written prefix of it is, else the first
// file.
func (m *Map) Lookup(path string) ast.Pos {
	if m == nil || len(m.Files) == 0 {
		return ast.Pos{}
	}
	for p := path; p != ""; p = parent(p) {
		for i := len(m.Files) - 1; i >= 0; i-- {
			if pos, ok := m.Files[i].pos[p]; ok {
				return pos
			}
		}
	}
	return ast.Pos{File: m.Files[0].File}
}

// Has reports whether any file writes path.
func (m *Map) Has(path string) bool {
	if m == nil {
		return false
	}
	for _, f := range m.Files {
		if f.Has(path) {
			return true
		}
	}
	return false
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Content returns the bytes of the file.
func (x *Index) Content() []byte { return x.content }

// lines splits s as YAML counts lines: at \n, \r\n and a lone \r.
func lines(s string) []string {
	return strings.Split(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"), "\n")
}

// Column returns the 1-based column of the first occurrence of word on
// line (1-based) of the file, else of its first non-blank character, else
// 0.
func (x *Index) Column(line int, word string) int {
	lines := lines(string(x.content))
	if line < 1 || line > len(lines) {
		return 0
	}
	l := lines[line-1]
	if word != "" {
		if i := strings.Index(l, word); i >= 0 {
			return i + 1
		}
	}
	if i := strings.IndexFunc(l, func(r rune) bool { return r != ' ' && r != '\t' }); i >= 0 {
		return i + 1
	}
	return 0
}

// File returns the index of the file named name, or nil.
func (m *Map) File(name string) *Index {
	if m == nil {
		return nil
	}
	for _, f := range m.Files {
		if f.File == name {
			return f
		}
	}
	return nil
}

// Find returns the position of the first of words found in the files (the
// last file first, as Lookup), else the first file.
func (m *Map) Find(words ...string) ast.Pos {
	if m == nil || len(m.Files) == 0 {
		return ast.Pos{}
	}
	for _, w := range words {
		for i := len(m.Files) - 1; i >= 0; i-- {
			f := m.Files[i]
			if j := strings.Index(string(f.content), w); j >= 0 {
				ls := lines(string(f.content[:j]))
				line, col := len(ls), len(ls[len(ls)-1])+1
				return ast.Pos{File: f.File, Line: line, Col: col}
			}
		}
	}
	return ast.Pos{File: m.Files[0].File}
}
