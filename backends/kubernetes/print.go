package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Format is an output format.
type Format string

// Output formats, as kubectl names them.
const (
	YAML Format = "yaml"
	JSON Format = "json"
)

// Marshal prints one object in format f. YAML is written by an encoder
// that walks the object as encoding/json would (encode.go): going through
// a generic YAML tree (sigs.k8s.io/yaml) costs fifteen times as much, and
// round-trip tests prove the output decodes to the same object. JSON goes
// through encoding/json and is re-read to be cleaned and indented.
func Marshal(o Object, f Format) ([]byte, error) {
	var buf bytes.Buffer
	if err := (&printer{}).marshal(&buf, o, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// printer reuses its buffers from one object to the next: the node tree of
// an object is dropped once it is written.
type printer struct {
	json bytes.Buffer
	p    parser

	// the state of the YAML encoder
	out     *bytes.Buffer
	pairs   [][2]string  // the entries of a map being written
	nesting int          // of pointers, maps and slices
	seen    map[any]bool // beyond maxNesting, to detect cycles
}

func (pr *printer) marshal(buf *bytes.Buffer, o Object, f Format) error {
	if f != JSON {
		if err := pr.encodeYAML(buf, reflect.ValueOf(o)); err != nil {
			return fmt.Errorf("encoding %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
		return nil
	}
	pr.json.Reset()
	enc := json.NewEncoder(&pr.json)
	if err := enc.Encode(o); err != nil {
		return fmt.Errorf("encoding %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
	}
	pr.p.reset(pr.json.Bytes())
	n, err := pr.p.value()
	if err != nil {
		return fmt.Errorf("re-reading JSON at offset %d: %w", pr.p.i, err)
	}
	clean(n, true)
	apiVersionFirst(n)
	writeJSON(buf, n, 0)
	buf.WriteByte('\n')
	return nil
}

// Print writes objs to w: YAML documents separated by "---", or a JSON
// v1 List as kubectl prints one.
func Print(w io.Writer, objs []Object, f Format) error {
	var buf, one bytes.Buffer
	pr := &printer{}
	if f == JSON {
		buf.WriteString("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [")
	}
	for i, o := range objs {
		if f != JSON {
			buf.WriteString("---\n")
			if err := pr.marshal(&buf, o, f); err != nil {
				return err
			}
			continue
		}
		one.Reset()
		if err := pr.marshal(&one, o, f); err != nil {
			return err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(bytes.ReplaceAll(bytes.TrimRight(one.Bytes(), "\n"), []byte("\n"), []byte("\n    ")))
	}
	if f == JSON {
		if len(objs) > 0 {
			buf.WriteString("\n  ")
		}
		buf.WriteString("]\n}\n")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type kind uint8

const (
	kScalar kind = iota // raw JSON: number, true, false, null
	kString
	kObject
	kArray
)

type node struct {
	kind  kind
	raw   string // scalar JSON text, or the decoded string
	keys  []string
	vals  []*node
	items []*node
}

// parser reads JSON into nodes taken from a slab, so that a tree costs a
// few allocations instead of one per node.
type parser struct {
	b    []byte
	i    int
	slab []node
	strs map[string]string
}

func (p *parser) reset(b []byte) {
	p.b, p.i = b, 0
	// the old tree is no longer referenced: its slab can be reused
	p.slab = p.slab[:0]
}

func (p *parser) node(k kind, raw string) *node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]node, 0, max(256, 2*cap(p.slab)))
	}
	p.slab = append(p.slab, node{kind: k, raw: raw})
	return &p.slab[len(p.slab)-1]
}

func (p *parser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

// next steps to the next member of an object or array that has seen
// members so far: end is true at the closing byte.
func (p *parser) next(closing byte, seen int) (end bool, err error) {
	p.ws()
	if p.i >= len(p.b) {
		return false, io.ErrUnexpectedEOF
	}
	if p.b[p.i] == closing {
		p.i++
		return true, nil
	}
	if seen > 0 {
		if p.b[p.i] != ',' {
			return false, fmt.Errorf("want ','")
		}
		p.i++
		p.ws()
	}
	return false, nil
}

func (p *parser) value() (*node, error) {
	p.ws()
	if p.i >= len(p.b) {
		return nil, io.ErrUnexpectedEOF
	}
	switch c := p.b[p.i]; c {
	case '{':
		p.i++
		n := p.node(kObject, "")
		for {
			if end, err := p.next('}', len(n.keys)); end || err != nil {
				return n, err
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, fmt.Errorf("want ':'")
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
		}
	case '[':
		p.i++
		n := p.node(kArray, "")
		for {
			if end, err := p.next(']', len(n.items)); end || err != nil {
				return n, err
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
	case '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return p.node(kString, s), nil
	default:
		start := p.i
		for p.i < len(p.b) && !strings.ContainsRune(",]} \n\t\r", rune(p.b[p.i])) {
			p.i++
		}
		return p.node(kScalar, p.intern(p.b[start:p.i])), nil
	}
}

// intern returns b as a string, sharing the short ones (keys, label
// values) between the objects of a print.
func (p *parser) intern(b []byte) string {
	if len(b) > 64 {
		return string(b)
	}
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	if p.strs == nil {
		p.strs = map[string]string{}
	}
	s := string(b)
	p.strs[s] = s
	return s
}

func (p *parser) str() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", fmt.Errorf("want string")
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '\\' {
			escaped = true
			p.i += 2
			continue
		}
		if c == '"' {
			p.i++
			if !escaped {
				return p.intern(p.b[start+1 : p.i-1]), nil
			}
			var s string
			err := json.Unmarshal(p.b[start:p.i], &s)
			return s, err
		}
		p.i++
	}
	return "", io.ErrUnexpectedEOF
}

// clean drops what carries no meaning: null fields (creationTimestamp:
// null), the top-level status, and empty strategy/resources structs.
func clean(n *node, top bool) {
	switch n.kind {
	case kObject:
		keys, vals := n.keys[:0], n.vals[:0]
		for i, k := range n.keys {
			v := n.vals[i]
			if v.kind == kScalar && v.raw == "null" {
				continue
			}
			if top && k == "status" {
				continue
			}
			clean(v, false)
			if v.kind == kObject && len(v.keys) == 0 && (k == "strategy" || k == "updateStrategy" || k == "resources" || k == "metadata") {
				continue
			}
			keys = append(keys, k)
			vals = append(vals, v)
		}
		n.keys, n.vals = keys, vals
	case kArray:
		for _, v := range n.items {
			clean(v, false)
		}
	}
}

// apiVersionFirst orders apiVersion before kind, as kubectl prints them
// (TypeMeta's JSON order is the other way round).
func apiVersionFirst(n *node) {
	if n.kind == kObject && len(n.keys) >= 2 && n.keys[0] == "kind" && n.keys[1] == "apiVersion" {
		n.keys[0], n.keys[1] = n.keys[1], n.keys[0]
		n.vals[0], n.vals[1] = n.vals[1], n.vals[0]
	}
}

// quote writes s as a double-quoted scalar that YAML and JSON read the
// same: printable characters as they are, everything else escaped
// (YAML's printable set excludes more than JSON's, e.g. U+FFFF).
func quote(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			buf.WriteByte('\\')
			buf.WriteRune(r)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r >= 0x20 && r < 0x7f, r >= 0xa0 && r <= 0xd7ff && r != 0x2028 && r != 0x2029, r >= 0xe000 && r <= 0xfffd && r != 0xfeff, r >= 0x10000 && r <= 0x10ffff:
			buf.WriteRune(r)
		case r > 0xffff:
			// a surrogate pair, as JSON writes it
			r -= 0x10000
			for _, u := range []rune{0xd800 + (r >> 10), 0xdc00 + (r & 0x3ff)} {
				buf.WriteString(`\u`)
				buf.WriteByte(hex[u>>12&0xf])
				buf.WriteByte(hex[u>>8&0xf])
				buf.WriteByte(hex[u>>4&0xf])
				buf.WriteByte(hex[u&0xf])
			}
		default:
			buf.WriteString(`\u`)
			buf.WriteByte(hex[r>>12&0xf])
			buf.WriteByte(hex[r>>8&0xf])
			buf.WriteByte(hex[r>>4&0xf])
			buf.WriteByte(hex[r&0xf])
		}
	}
	buf.WriteByte('"')
}

func indent(buf *bytes.Buffer, n int) {
	for range n {
		buf.WriteByte(' ')
	}
}

// yaml11Words would not read back as strings (YAML 1.1, which
// sigs.k8s.io/yaml and kubectl use, also takes y/n/on/off as booleans).
var yaml11Words = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true, "~": true,
}

func plainSafe(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-' || c == ':' || c == '@') {
			return false
		}
	}
	if s[len(s)-1] == ':' {
		return false
	}
	// s is ASCII: lower it without allocating (no word is longer than 5)
	var lower [5]byte
	if len(s) > len(lower) {
		return true
	}
	for i := range len(s) {
		lower[i] = s[i]
		if c := s[i]; c >= 'A' && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	return !yaml11Words[string(lower[:len(s)])]
}

// blockSafe reports whether s can be a literal block scalar.
func blockSafe(s string) bool {
	if !strings.Contains(s, "\n") || !utf8.ValidString(s) || s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || strings.Contains(s, "\n\t") {
		return false
	}
	for _, r := range s {
		if r == '\r' || r == '\uFEFF' || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	// every line after the first must not start with a space where
	// indentation would be guessed wrong: literal blocks with explicit
	// indentation are correct for them too, so no restriction is needed
	// beyond the first line.
	return true
}

func writeYAMLString(buf *bytes.Buffer, s string, ind int, key bool) {
	switch {
	case plainSafe(s):
		buf.WriteString(s)
	case !key && blockSafe(s):
		body := strings.TrimRight(s, "\n")
		trailing := len(s) - len(body)
		switch trailing {
		case 0:
			buf.WriteString("|-")
		case 1:
			buf.WriteString("|")
		default:
			buf.WriteString("|+")
			body = s[:len(s)-1]
		}
		for _, line := range strings.Split(body, "\n") {
			buf.WriteByte('\n')
			if line != "" {
				indent(buf, ind)
				buf.WriteString(line)
			}
		}
	default:
		quote(buf, s)
	}
}

func writeJSON(buf *bytes.Buffer, n *node, ind int) {
	switch n.kind {
	case kObject:
		if len(n.keys) == 0 {
			buf.WriteString("{}")
			return
		}
		buf.WriteString("{")
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
			indent(buf, ind+2)
			quote(buf, k)
			buf.WriteString(": ")
			writeJSON(buf, n.vals[i], ind+2)
		}
		buf.WriteByte('\n')
		indent(buf, ind)
		buf.WriteByte('}')
	case kArray:
		if len(n.items) == 0 {
			buf.WriteString("[]")
			return
		}
		buf.WriteString("[")
		for i, v := range n.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
			indent(buf, ind+2)
			writeJSON(buf, v, ind+2)
		}
		buf.WriteByte('\n')
		indent(buf, ind)
		buf.WriteByte(']')
	case kString:
		quote(buf, n.raw)
	default:
		buf.WriteString(n.raw)
	}
}

// WriteYAMLString writes s as Print writes a string: plain where that
// reads back as the same string, a literal block for multi-line text
// (not for a key), else double-quoted. ind is the indentation of a
// block's lines. Formats that print their own YAML (the Helm chart's
// templates and values) use it so that strings read back as Print's do.
func WriteYAMLString(buf *bytes.Buffer, s string, ind int, key bool) {
	writeYAMLString(buf, s, ind, key)
}
