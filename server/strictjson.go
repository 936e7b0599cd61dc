package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"mime"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// isJSON tells whether a request's Content-Type is JSON; an absent one
// counts, since the body is read as JSON.
func isJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// checkCharset refuses a JSON body declared in another charset than
// UTF-8 (RFC 8259: JSON exchanged between systems is UTF-8); the body
// would be read as UTF-8 all the same. It returns "" when contentType is
// fine.
func checkCharset(contentType string) string {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Sprintf("the request body must be JSON in UTF-8, not charset=%s", cs)
	}
	return ""
}

// checkJSON checks that body is one JSON document, strictly: valid UTF-8
// (also in \u escapes), no data after the document and no key twice in
// an object, at any depth. encoding/json, and so the OpenAPI validation
// and the handlers, would accept each of these, taking the first document
// or the last of two keys: what a proxy or a log saw would differ from
// what Tycho ran. It returns the field at fault ("" for the body) and a
// message, both "" for a good body. Linear in the body (an object's keys
// are compared one by one while few, then by hash); it allocates little
// more than a slice of keys and one of open objects.
func checkJSON(body []byte) (field, msg string) {
	if !utf8.Valid(body) {
		return "", fmt.Sprintf("the request body is not valid UTF-8 (at byte %d)", invalidUTF8(body))
	}
	if !json.Valid(body) {
		dec := json.NewDecoder(bytes.NewReader(body))
		var first json.RawMessage
		if err := dec.Decode(&first); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				return "", fmt.Sprintf("the request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
			}
			return "", "the request body is not valid JSON: " + err.Error()
		}
		off := int(dec.InputOffset())
		for off < len(body) && isSpace(body[off]) {
			off++
		}
		return "", fmt.Sprintf("the request body has data after its JSON document (at byte %d): send one JSON document", off)
	}
	sc := newScanner(body)
	return sc.scan()
}

func newScanner(body []byte) *scanner {
	return &scanner{body: body, seed: maphash.MakeSeed(), frames: make([]frame, 0, 16), keys: make([]key, 0, 64)}
}

// invalidUTF8 is the offset of the first byte of b that is not UTF-8.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// manyKeys is the number of keys from which an object's keys are looked
// up in a map rather than compared one by one.
const manyKeys = 16

// scanner walks a body that json.Valid accepted.
type scanner struct {
	body   []byte
	frames []frame
	// keys are the keys of the open objects, each object's from its
	// frame's first
	keys []key
	seed maphash.Seed
	// compares counts the key comparisons, for the test of linearity
	compares int
}

// frame is an open object or array.
type frame struct {
	object bool
	// first is the index in keys of the object's first key
	first int
	// index is the array's current element
	index int
	// hashes are those of the object's keys once it has manyKeys of
	// them
	hashes map[uint64]struct{}
}

// key is an object key: a span of the body, or its text when it has
// escapes.
type key struct {
	start, end int
	text       string
	escaped    bool
}

func (s *scanner) text(k key) string {
	if k.escaped {
		return k.text
	}
	return string(s.body[k.start:k.end])
}

func (s *scanner) equal(a, b key) bool {
	if !a.escaped && !b.escaped {
		return bytes.Equal(s.body[a.start:a.end], s.body[b.start:b.end])
	}
	return s.text(a) == s.text(b)
}

func (s *scanner) scan() (field, msg string) {
	b := s.body
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{':
			s.frames = append(s.frames, frame{object: true, first: len(s.keys)})
			expectKey = true
		case '[':
			s.frames = append(s.frames, frame{})
			expectKey = false
		case '}', ']':
			f := &s.frames[len(s.frames)-1]
			if f.object {
				s.keys = s.keys[:f.first]
			}
			s.frames = s.frames[:len(s.frames)-1]
			expectKey = false
		case ',':
			f := &s.frames[len(s.frames)-1]
			if f.object {
				expectKey = true
			} else {
				f.index++
			}
		case '"':
			end, escaped, bad := s.str(i)
			if bad >= 0 {
				p := s.path(len(s.frames))
				return p, fmt.Sprintf("%sthe request body is not valid UTF-8: a \\u escape of half a UTF-16 surrogate pair (at byte %d)", prefix(p), bad)
			}
			if expectKey {
				k := key{start: i + 1, end: end, escaped: escaped}
				if escaped {
					k.text = unquote(b[i : end+1])
				}
				if s.add(k) {
					p := s.path(len(s.frames) - 1)
					if p != "" {
						p += "."
					}
					p += s.text(k)
					return p, fmt.Sprintf("%s: the key %s appears twice in an object of the request body (at byte %d)", p, strconv.Quote(s.text(k)), i)
				}
				expectKey = false
			}
			i = end
		}
	}
	return "", ""
}

// str scans the string that starts at the quote at i: the offset of its
// closing quote, whether it has escapes, and the offset of an escaped
// lone surrogate (-1 for none).
func (s *scanner) str(i int) (end int, escaped bool, bad int) {
	b := s.body
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j, escaped, -1
		case '\\':
			escaped = true
			if b[j+1] != 'u' {
				j++
				continue
			}
			r := hex4(b[j+2 : j+6])
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00 && j+11 < len(b) && b[j+6] == '\\' && b[j+7] == 'u' &&
				utf16.DecodeRune(r, hex4(b[j+8:j+12])) != utf8.RuneError:
				j += 11
			case utf16.IsSurrogate(r):
				return 0, escaped, j
			default:
				j += 5
			}
		}
	}
	return len(b), escaped, -1
}

// unquote is the text of a JSON string with escapes (rare in keys: a
// function of its own, so that the key of the caller stays on the stack).
func unquote(quoted []byte) string {
	var t string
	_ = json.Unmarshal(quoted, &t) // valid JSON: a string
	return t
}

func hex4(b []byte) rune {
	v, _ := strconv.ParseUint(string(b), 16, 32) // valid JSON: 4 hex digits
	return rune(v)
}

// add adds k to the innermost object's keys, and tells whether it was
// there already.
func (s *scanner) add(k key) bool {
	f := &s.frames[len(s.frames)-1]
	keys := s.keys[f.first:]
	dup := false
	switch {
	case len(keys) < manyKeys:
		dup = s.has(keys, k)
	default:
		if f.hashes == nil {
			f.hashes = make(map[uint64]struct{}, 2*len(keys))
			for _, o := range keys {
				f.hashes[s.hash(o)] = struct{}{}
			}
		}
		h := s.hash(k)
		if _, ok := f.hashes[h]; ok {
			// a duplicate, or two keys of one hash
			dup = s.has(keys, k)
		}
		f.hashes[h] = struct{}{}
	}
	if !dup {
		s.keys = append(s.keys, k)
	}
	return dup
}

// has tells whether k is one of keys.
func (s *scanner) has(keys []key, k key) bool {
	s.compares += len(keys)
	for _, o := range keys {
		if s.equal(o, k) {
			return true
		}
	}
	return false
}

func (s *scanner) hash(k key) uint64 {
	if k.escaped {
		return maphash.String(s.seed, k.text)
	}
	return maphash.Bytes(s.seed, s.body[k.start:k.end])
}

// path is the dotted path of the current value of the first n frames, as
// the OpenAPI validation names fields (services.web.port): the current
// key of each object, the index of each array.
func (s *scanner) path(n int) string {
	var sb strings.Builder
	for _, f := range s.frames[:n] {
		var el string
		switch {
		case f.object && len(s.keys) > f.first:
			// the object's current key is its last one
			el = s.text(s.lastKey(f))
		case f.object:
			continue
		default:
			el = strconv.Itoa(f.index)
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(el)
	}
	return sb.String()
}

// lastKey is the last key of the object of frame f.
func (s *scanner) lastKey(f frame) key {
	// the keys of f end where those of the next open object begin
	end := len(s.keys)
	for _, g := range s.frames {
		if g.object && g.first > f.first {
			end = g.first
			break
		}
	}
	return s.keys[end-1]
}

func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}
