package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// The templates are printed from a tree built from each object, not from
// its printed YAML: value references are nodes put at known fields, and
// blocks (if, with) are entries of a mapping. A node is one of
//
//	*mapping              a YAML mapping, in order
//	[]node                a sequence
//	string, json.Number, bool, nil
//	action                template text that renders one YAML value
type node any

// action is template text that renders one flow value in place of a
// scalar, e.g. {{ toJson $svc.replicas }}.
type action string

// mapping is an ordered YAML mapping.
type mapping struct{ entries []entry }

// entry is key: val, or a template block around entries, or a template
// line that renders entries of the mapping (an include).
type entry struct {
	key string
	val node
	// comment is written above the entry (values.yaml), one "# " line per
	// line
	comment string
	// open makes the entry a block: {{- open }} body [{{- else }} alt]
	// {{- end }}
	open      string
	body, alt []entry
	// include is a template that renders entries of this mapping at the
	// entry's indentation (with nindent)
	include string
}

func (m *mapping) index(key string) int {
	for i, e := range m.entries {
		if e.open == "" && e.include == "" && e.key == key {
			return i
		}
	}
	return -1
}

// get is the value of key (nil when absent).
func (m *mapping) get(key string) node {
	if i := m.index(key); i >= 0 {
		return m.entries[i].val
	}
	return nil
}

// getMap is the mapping at key (nil when absent or not a mapping).
func (m *mapping) getMap(key string) *mapping {
	mm, _ := m.get(key).(*mapping)
	return mm
}

// str is the string at key ("" when absent).
func (m *mapping) str(key string) string {
	s, _ := m.get(key).(string)
	return s
}

// set replaces the value of key, or adds key at the end.
func (m *mapping) set(key string, val node) {
	if i := m.index(key); i >= 0 {
		m.entries[i].val = val
		return
	}
	m.entries = append(m.entries, entry{key: key, val: val})
}

// del removes key and says whether it was there.
func (m *mapping) del(key string) bool {
	if i := m.index(key); i >= 0 {
		m.entries = append(m.entries[:i], m.entries[i+1:]...)
		return true
	}
	return false
}

// replace puts e where key was (at the end when key is absent).
func (m *mapping) replace(key string, e entry) {
	if i := m.index(key); i >= 0 {
		m.entries[i] = e
		return
	}
	m.entries = append(m.entries, e)
}

// add appends e.
func (m *mapping) add(e entry) { m.entries = append(m.entries, e) }

// decodeTree reads JSON into a tree, keeping the order of keys (the order
// in which the Kubernetes printer writes them).
func decodeTree(b []byte) (node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := decodeValue(dec)
	if err != nil {
		return nil, fmt.Errorf("reading an object back: %w", err)
	}
	return n, nil
}

func decodeValue(dec *json.Decoder) (node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := &mapping{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				m.entries = append(m.entries, entry{key: k.(string), val: v})
			}
			_, err := dec.Token()
			return m, err
		case '[':
			s := []node{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				s = append(s, v)
			}
			_, err := dec.Token()
			return s, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// printer writes a tree as YAML with template actions, in the layout of
// `tycho compile` (sequences at the indentation of their key).
type printer struct{ buf bytes.Buffer }

func (p *printer) indent(n int) {
	for range n {
		p.buf.WriteByte(' ')
	}
}

// entries writes a mapping's entries at indentation ind. dash starts the
// first line with "- " (a mapping in a sequence, ind being that of its
// keys).
func (p *printer) entries(es []entry, ind int, dash bool) {
	for _, e := range es {
		if dash && (e.open != "" || e.include != "") {
			// a block cannot follow "- " on its line: the item starts on
			// the next one
			p.indent(ind - 2)
			p.buf.WriteString("-\n")
			dash = false
		}
		if dash {
			p.indent(ind - 2)
			p.buf.WriteString("- ")
			dash = false
		} else {
			if e.comment != "" {
				for _, line := range strings.Split(e.comment, "\n") {
					p.indent(ind)
					if line == "" {
						p.buf.WriteString("#\n")
						continue
					}
					p.buf.WriteString("# ")
					p.buf.WriteString(line)
					p.buf.WriteByte('\n')
				}
			}
			p.indent(ind)
		}
		switch {
		case e.open != "":
			p.buf.WriteString("{{- " + e.open + " }}\n")
			p.entries(e.body, ind, false)
			if e.alt != nil {
				p.indent(ind)
				p.buf.WriteString("{{- else }}\n")
				p.entries(e.alt, ind, false)
			}
			p.indent(ind)
			p.buf.WriteString("{{- end }}\n")
		case e.include != "":
			fmt.Fprintf(&p.buf, "{{- include %s $ | nindent %d }}\n", strconv.Quote(e.include), ind)
		default:
			p.key(e.key)
			p.buf.WriteByte(':')
			p.value(e.val, ind)
		}
	}
}

// value writes what follows "key:" (or "-"): a scalar on the line, or
// the nested mapping or sequence on the next lines.
func (p *printer) value(v node, ind int) {
	switch v := v.(type) {
	case *mapping:
		if len(v.entries) == 0 {
			p.buf.WriteString(" {}\n")
			return
		}
		p.buf.WriteByte('\n')
		p.entries(v.entries, ind+2, false)
	case []node:
		if len(v) == 0 {
			p.buf.WriteString(" []\n")
			return
		}
		p.buf.WriteByte('\n')
		p.items(v, ind)
	default:
		p.buf.WriteByte(' ')
		p.scalar(v, ind+2)
		p.buf.WriteByte('\n')
	}
}

// items writes a sequence's items, their dashes at ind.
func (p *printer) items(items []node, ind int) {
	for _, it := range items {
		switch it := it.(type) {
		case *mapping:
			if len(it.entries) == 0 {
				p.indent(ind)
				p.buf.WriteString("- {}\n")
				continue
			}
			p.entries(it.entries, ind+2, true)
		case []node:
			p.indent(ind)
			if len(it) == 0 {
				p.buf.WriteString("- []\n")
				continue
			}
			p.buf.WriteString("-\n")
			p.items(it, ind+2)
		default:
			p.indent(ind)
			p.buf.WriteString("- ")
			p.scalar(it, ind+2)
			p.buf.WriteByte('\n')
		}
	}
}

func (p *printer) key(k string) {
	if strings.Contains(k, "{{") {
		p.literal(k)
		return
	}
	kubernetes.WriteYAMLString(&p.buf, k, 0, true)
}

func (p *printer) scalar(v node, ind int) {
	switch v := v.(type) {
	case nil:
		p.buf.WriteString("null")
	case bool:
		p.buf.WriteString(strconv.FormatBool(v))
	case json.Number:
		p.buf.WriteString(v.String())
	case action:
		p.buf.WriteString(string(v))
	case string:
		switch {
		case strings.Contains(v, "{{"):
			// text that the template engine would read as an action
			p.literal(v)
		case strings.HasSuffix(v, "\n\n"):
			// a block scalar keeping trailing blank lines (|+) would lose
			// them to a following {{- action: write it quoted
			kubernetes.WriteYAMLString(&p.buf, v, ind, true)
		default:
			kubernetes.WriteYAMLString(&p.buf, v, ind, false)
		}
	default:
		panic(fmt.Sprintf("helm: unexpected node %T", v))
	}
}

// literal writes s as an action that prints its quoted form, so that the
// template engine leaves "{{" in it alone.
func (p *printer) literal(s string) {
	var q bytes.Buffer
	kubernetes.WriteYAMLString(&q, s, 0, true)
	p.buf.WriteString("{{ " + strconv.Quote(q.String()) + " }}")
}
