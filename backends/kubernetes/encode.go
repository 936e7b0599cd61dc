package kubernetes

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The YAML encoder walks a typed object by reflection and writes block
// YAML directly. It prints what encoding/json would write for the object,
// cleaned (see clean) and laid out as kubectl prints YAML: its rules for
// field names and order, omitempty and omitzero, Marshalers, map keys and
// numbers are those of encoding/json, which the tests check it against.

// place is where a value stands: what was written just before it.
type place uint8

const (
	afterKey  place = iota // "key:"
	afterDash              // "-", an item of a list
	atTop                  // the start of the document
)

// shape tells the caller of an encoder what the value turned out to be:
// only shapeWritten values are written, the others are the caller's to
// write or drop.
type shape uint8

const (
	shapeWritten shape = iota
	shapeNull
	shapeEmptyObject
	shapeEmptyArray
)

// encFunc writes v, whose key or dash stands at indentation ind.
type encFunc func(pr *printer, v reflect.Value, ind int, at place) (shape, error)

// encodeYAML writes v as a YAML document.
func (pr *printer) encodeYAML(buf *bytes.Buffer, v reflect.Value) error {
	pr.out, pr.nesting = buf, 0
	clear(pr.seen)
	s := shapeNull
	if v.IsValid() {
		var err error
		if s, err = encoderFor(v.Type())(pr, v, 0, atTop); err != nil {
			return err
		}
	}
	switch s {
	case shapeNull:
		buf.WriteString(" null\n")
	case shapeEmptyObject:
		buf.WriteString("{}\n")
	case shapeEmptyArray:
		buf.WriteString("[]\n")
	}
	return nil
}

// lead writes what separates the first member or item of a collection
// from what stands before it, and indents the others.
func (pr *printer) lead(n, ind int, at place) {
	if n > 0 {
		indent(pr.out, ind)
		return
	}
	switch at {
	case afterKey:
		pr.out.WriteByte('\n')
		indent(pr.out, ind)
	case afterDash:
		pr.out.WriteByte(' ')
	}
}

// mapping writes the members of an object, dropping those clean drops.
type mapping struct {
	ind  int // of the keys
	at   place
	n    int // members written
	mark int // output length before the current member
	kind int // at the top, where the first member starts if it is kind, or -1
}

func (pr *printer) mapping(ind int, at place) mapping {
	if at != atTop {
		ind += 2
	}
	return mapping{ind: ind, at: at, kind: -1}
}

// key starts member k, unless it is one that is never printed. text is
// k as a YAML key, or "" to have it written here.
func (m *mapping) key(pr *printer, k, text string) bool {
	if m.at == atTop && k == "status" {
		return false
	}
	m.mark = pr.out.Len()
	pr.lead(m.n, m.ind, m.at)
	if text != "" {
		pr.out.WriteString(text)
	} else {
		writeYAMLString(pr.out, k, m.ind, true)
	}
	pr.out.WriteByte(':')
	return true
}

// end ends member k whose value had shape s.
func (m *mapping) end(pr *printer, k string, s shape) {
	switch {
	case s == shapeNull, s == shapeEmptyObject && (k == "strategy" || k == "updateStrategy" || k == "resources" || k == "metadata"):
		pr.out.Truncate(m.mark)
		return
	}
	pr.empty(s)
	if m.at == atTop {
		// apiVersion goes before kind, as kubectl prints them
		// (TypeMeta's JSON order is the other way round)
		switch {
		case m.n == 0 && k == "kind":
			m.kind = m.mark
		case m.n == 1 && m.kind >= 0 && k == "apiVersion":
			// swap the two members: reverse each, then both
			b := pr.out.Bytes()[m.kind:]
			n := m.mark - m.kind
			slices.Reverse(b[:n])
			slices.Reverse(b[n:])
			slices.Reverse(b)
		}
	}
	m.n++
}

func (m *mapping) shape() shape {
	if m.n == 0 {
		return shapeEmptyObject
	}
	return shapeWritten
}

// empty writes a value that its encoder left to the caller.
func (pr *printer) empty(s shape) {
	switch s {
	case shapeNull:
		pr.out.WriteString(" null\n")
	case shapeEmptyObject:
		pr.out.WriteString(" {}\n")
	case shapeEmptyArray:
		pr.out.WriteString(" []\n")
	}
}

// item starts item i of a list after at, whose key or dash stands at ind,
// and returns the indentation of the items: lists after "key:" stand at
// the key's indentation, as kubectl prints them.
func (pr *printer) item(i, ind int, at place) int {
	if at == afterDash {
		ind += 2
	}
	pr.lead(i, ind, at)
	pr.out.WriteByte('-')
	return ind
}

func (pr *printer) scalar(raw string) {
	pr.out.WriteByte(' ')
	pr.out.WriteString(raw)
	pr.out.WriteByte('\n')
}

func (pr *printer) string(s string, ind int) {
	pr.out.WriteByte(' ')
	writeYAMLString(pr.out, s, ind+2, false)
	pr.out.WriteByte('\n')
}

// jsonString is s as it reads back from the JSON encoding/json writes:
// every invalid byte becomes U+FFFD.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// node writes the JSON that a Marshaler returned, as clean would keep it.
func (pr *printer) node(n *node, ind int, at place) shape {
	switch n.kind {
	case kObject:
		m := pr.mapping(ind, at)
		for i, k := range n.keys {
			if m.key(pr, k, "") {
				m.end(pr, k, pr.node(n.vals[i], m.ind, afterKey))
			}
		}
		return m.shape()
	case kArray:
		if len(n.items) == 0 {
			return shapeEmptyArray
		}
		for i, v := range n.items {
			pr.empty(pr.node(v, pr.item(i, ind, at), afterDash))
		}
	case kString:
		pr.string(n.raw, ind)
	default:
		if n.raw == "null" {
			return shapeNull
		}
		pr.scalar(n.raw)
	}
	return shapeWritten
}

// marshaled writes the output of a MarshalJSON method.
func (pr *printer) marshaled(t reflect.Type, b []byte, err error, ind int, at place) (shape, error) {
	if err == nil && !json.Valid(b) {
		err = fmt.Errorf("invalid JSON %q", b)
	}
	if err != nil {
		return 0, fmt.Errorf("calling MarshalJSON for type %s: %w", t, err)
	}
	// encoding/json compacted b, escaping HTML characters: a string
	// with invalid UTF-8 may read back here without the U+FFFD that
	// escaping would have brought in, but quote prints U+FFFD for it
	// all the same
	pr.p.reset(b)
	n, err := pr.p.value()
	if err != nil {
		return 0, fmt.Errorf("re-reading JSON from type %s: %w", t, err)
	}
	return pr.node(n, ind, at), nil
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	isZeroerType      = reflect.TypeFor[interface{ IsZero() bool }]()
	numberType        = reflect.TypeFor[json.Number]()
)

var encCache sync.Map // reflect.Type → encFunc

// encoderFor returns the encoder of type t, built once.
func encoderFor(t reflect.Type) encFunc {
	if f, ok := encCache.Load(t); ok {
		return f.(encFunc)
	}
	// a recursive type finds this indirection while its encoder is
	// being built
	build := sync.OnceValue(func() encFunc { return newEncoder(t, true, false) })
	f, loaded := encCache.LoadOrStore(t, encFunc(func(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
		return build()(pr, v, ind, at)
	}))
	if loaded {
		return f.(encFunc)
	}
	enc := build()
	encCache.Store(t, enc)
	return enc
}

// newEncoder builds the encoder of t as encoding/json chooses it. An
// addressable value whose pointer is a Marshaler is marshaled through its
// pointer if allowAddr; quoted is the ",string" option.
func newEncoder(t reflect.Type, allowAddr, quoted bool) encFunc {
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		return condAddr(addrMarshalerEncoder, newEncoder(t, false, quoted))
	}
	if t.Implements(marshalerType) {
		return marshalerEncoder
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(textMarshalerType) {
		return condAddr(addrTextMarshalerEncoder, newEncoder(t, false, quoted))
	}
	if t.Implements(textMarshalerType) {
		return textMarshalerEncoder
	}
	switch t.Kind() {
	case reflect.Bool:
		return scalarEncoder(quoted, func(v reflect.Value) (string, error) { return strconv.FormatBool(v.Bool()), nil })
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalarEncoder(quoted, func(v reflect.Value) (string, error) { return strconv.FormatInt(v.Int(), 10), nil })
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return scalarEncoder(quoted, func(v reflect.Value) (string, error) { return strconv.FormatUint(v.Uint(), 10), nil })
	case reflect.Float32, reflect.Float64:
		return scalarEncoder(quoted, func(v reflect.Value) (string, error) { return formatFloat(v.Float(), t.Bits()) })
	case reflect.String:
		if t == numberType {
			return scalarEncoder(quoted, formatNumber)
		}
		if quoted {
			return func(pr *printer, v reflect.Value, ind int, _ place) (shape, error) {
				b, err := json.Marshal(v.String()) // the JSON text is the value
				pr.string(string(b), ind)
				return shapeWritten, err
			}
		}
		return stringEncoder
	case reflect.Interface:
		return interfaceEncoder
	case reflect.Struct:
		return newStructEncoder(t)
	case reflect.Map:
		return newMapEncoder(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p := reflect.PointerTo(t.Elem())
			if !p.Implements(marshalerType) && !p.Implements(textMarshalerType) {
				return bytesEncoder
			}
		}
		return newListEncoder(t)
	case reflect.Array:
		return newListEncoder(t)
	case reflect.Pointer:
		var elem encFunc
		if quoted {
			elem = newEncoder(t.Elem(), true, true)
		} else {
			elem = encoderFor(t.Elem())
		}
		return func(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
			if v.IsNil() {
				return shapeNull, nil
			}
			if err := pr.enter(v); err != nil {
				return 0, err
			}
			s, err := elem(pr, v.Elem(), ind, at)
			pr.leave(v)
			return s, err
		}
	}
	return unsupported(t)
}

func unsupported(t reflect.Type) encFunc {
	return func(*printer, reflect.Value, int, place) (shape, error) {
		return 0, fmt.Errorf("unsupported type %s", t)
	}
}

func condAddr(addr, other encFunc) encFunc {
	return func(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
		if v.CanAddr() {
			return addr(pr, v, ind, at)
		}
		return other(pr, v, ind, at)
	}
}

func marshalerEncoder(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return shapeNull, nil
	}
	if !v.CanInterface() {
		return 0, errUnexported(v)
	}
	m, ok := reflect.TypeAssert[json.Marshaler](v)
	if !ok {
		return shapeNull, nil
	}
	b, err := m.MarshalJSON()
	return pr.marshaled(v.Type(), b, err, ind, at)
}

func addrMarshalerEncoder(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
	if !v.CanInterface() {
		return 0, errUnexported(v)
	}
	m, _ := reflect.TypeAssert[json.Marshaler](v.Addr())
	b, err := m.MarshalJSON()
	return pr.marshaled(v.Type(), b, err, ind, at)
}

func textMarshalerEncoder(pr *printer, v reflect.Value, ind int, _ place) (shape, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return shapeNull, nil
	}
	if !v.CanInterface() {
		return 0, errUnexported(v)
	}
	m, ok := reflect.TypeAssert[encoding.TextMarshaler](v)
	if !ok {
		return shapeNull, nil
	}
	return pr.marshaledText(v.Type(), m, ind)
}

func addrTextMarshalerEncoder(pr *printer, v reflect.Value, ind int, _ place) (shape, error) {
	if !v.CanInterface() {
		return 0, errUnexported(v)
	}
	m, _ := reflect.TypeAssert[encoding.TextMarshaler](v.Addr())
	return pr.marshaledText(v.Type(), m, ind)
}

// errUnexported: a value of an unexported embedded struct with a JSON
// name cannot have its methods called (encoding/json panics).
func errUnexported(v reflect.Value) error {
	return fmt.Errorf("cannot marshal %s: unexported", v.Type())
}

func (pr *printer) marshaledText(t reflect.Type, m encoding.TextMarshaler, ind int) (shape, error) {
	b, err := m.MarshalText()
	if err != nil {
		return 0, fmt.Errorf("calling MarshalText for type %s: %w", t, err)
	}
	pr.string(jsonString(string(b)), ind)
	return shapeWritten, nil
}

// scalarEncoder writes the JSON number or boolean that format returns,
// as a string if quoted.
func scalarEncoder(quoted bool, format func(reflect.Value) (string, error)) encFunc {
	return func(pr *printer, v reflect.Value, ind int, _ place) (shape, error) {
		s, err := format(v)
		if err != nil {
			return 0, err
		}
		if quoted {
			pr.string(s, ind)
		} else {
			pr.scalar(s)
		}
		return shapeWritten, nil
	}
}

// formatFloat formats f as encoding/json does (like ES6).
func formatFloat(f float64, bits int) (string, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("unsupported value %s", strconv.FormatFloat(f, 'g', -1, bits))
	}
	format, abs := byte('f'), math.Abs(f)
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b := strconv.AppendFloat(nil, f, format, -1, bits)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b = append(b[:n-2], b[n-1]) // e-09 to e-9
	}
	return string(b), nil
}

// formatNumber checks and formats a json.Number as encoding/json does.
func formatNumber(v reflect.Value) (string, error) {
	b, err := json.Marshal(json.Number(v.String()))
	return string(b), err
}

func stringEncoder(pr *printer, v reflect.Value, ind int, _ place) (shape, error) {
	pr.string(jsonString(v.String()), ind)
	return shapeWritten, nil
}

func bytesEncoder(pr *printer, v reflect.Value, ind int, _ place) (shape, error) {
	if v.IsNil() {
		return shapeNull, nil
	}
	pr.string(base64.StdEncoding.EncodeToString(v.Bytes()), ind)
	return shapeWritten, nil
}

func interfaceEncoder(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
	if v.IsNil() {
		return shapeNull, nil
	}
	return encoderFor(v.Elem().Type())(pr, v.Elem(), ind, at)
}

func newListEncoder(t reflect.Type) encFunc {
	elem := encoderFor(t.Elem())
	return func(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
		if v.Kind() == reflect.Slice {
			if v.IsNil() {
				return shapeNull, nil
			}
			if err := pr.enter(v); err != nil {
				return 0, err
			}
			defer pr.leave(v)
		}
		if v.Len() == 0 {
			return shapeEmptyArray, nil
		}
		for i := range v.Len() {
			s, err := elem(pr, v.Index(i), pr.item(i, ind, at), afterDash)
			if err != nil {
				return 0, atPath("["+strconv.Itoa(i)+"]", err)
			}
			pr.empty(s)
		}
		return shapeWritten, nil
	}
}

func newMapEncoder(t reflect.Type) encFunc {
	key := t.Key()
	switch key.Kind() {
	case reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
	default:
		if !key.Implements(textMarshalerType) {
			return unsupported(t)
		}
	}
	elem := encoderFor(t.Elem())
	return func(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
		if v.IsNil() {
			return shapeNull, nil
		}
		if err := pr.enter(v); err != nil {
			return 0, err
		}
		defer pr.leave(v)
		m := pr.mapping(ind, at)
		if sm, ok := reflect.TypeAssert[map[string]string](v); ok {
			// labels and data take the fast way, without a
			// reflect.Value for each key and value
			pairs := pr.pairs[:0]
			for k, e := range sm {
				pairs = append(pairs, [2]string{k, e})
			}
			pr.pairs = pairs
			slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
			for _, kv := range pairs {
				k := jsonString(kv[0])
				if m.key(pr, k, "") {
					pr.string(jsonString(kv[1]), m.ind)
					m.end(pr, k, shapeWritten)
				}
			}
			return m.shape(), nil
		}
		type entry struct {
			k string
			v reflect.Value
		}
		entries := make([]entry, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			k, err := keyString(it.Key())
			if err != nil {
				return 0, fmt.Errorf("map key of type %s: %w", v.Type(), err)
			}
			entries = append(entries, entry{k, it.Value()})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.k, b.k) })
		for _, kv := range entries {
			k := jsonString(kv.k)
			if !m.key(pr, k, "") {
				continue
			}
			s, err := elem(pr, kv.v, m.ind, afterKey)
			if err != nil {
				return 0, atPath("["+strconv.Quote(k)+"]", err)
			}
			m.end(pr, k, s)
		}
		return m.shape(), nil
	}
}

// keyString is the JSON name of a map key.
func keyString(k reflect.Value) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	if tm, ok := reflect.TypeAssert[encoding.TextMarshaler](k); ok {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", nil
		}
		b, err := tm.MarshalText()
		return string(b), err
	}
	if k.CanInt() {
		return strconv.FormatInt(k.Int(), 10), nil
	}
	return strconv.FormatUint(k.Uint(), 10), nil
}

// encField is a field of a struct as encoding/json sees it.
type encField struct {
	name      string
	key       string // name as a YAML key
	index     []int  // through embedded structs
	tagged    bool
	omitEmpty bool
	omitZero  bool
	isZero    func(reflect.Value) bool // if the type has an IsZero method
	quoted    bool
	enc       encFunc
}

func newStructEncoder(t reflect.Type) encFunc {
	fields := structFields(t)
	return func(pr *printer, v reflect.Value, ind int, at place) (shape, error) {
		m := pr.mapping(ind, at)
	fields:
		for i := range fields {
			f := &fields[i]
			fv := v
			for _, i := range f.index {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue fields // in a nil embedded struct
					}
					fv = fv.Elem()
				}
				fv = fv.Field(i)
			}
			if f.omitEmpty && isEmptyValue(fv) || f.omitZero && (f.isZero == nil && fv.IsZero() || f.isZero != nil && f.isZero(fv)) {
				continue
			}
			if !m.key(pr, f.name, f.key) {
				continue
			}
			s, err := f.enc(pr, fv, m.ind, afterKey)
			if err != nil {
				return 0, atPath("."+f.name, err)
			}
			m.end(pr, f.name, s)
		}
		return m.shape(), nil
	}
}

// isEmptyValue is omitempty's test.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// structFields lists the fields of t that encoding/json encodes, in its
// order: embedded structs without a JSON name are flattened, and of the
// fields with the same name the shallowest (then the tagged) wins, or
// none if that leaves a tie.
func structFields(t reflect.Type) []encField {
	type embedded struct {
		t     reflect.Type
		index []int
	}
	var fields []encField
	next := []embedded{{t: t}}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count := map[reflect.Type]int{} // of current, to find duplicates
		for _, c := range current {
			count[c.t]++
		}
		for _, c := range current {
			if visited[c.t] {
				continue
			}
			visited[c.t] = true
			for i := range c.t.NumField() {
				sf := c.t.Field(i)
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				index := append(slices.Clip(c.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, embedded{ft, index})
					continue
				}
				f := encField{name: name, index: index, tagged: name != "", omitEmpty: hasOpt(opts, "omitempty"), omitZero: hasOpt(opts, "omitzero")}
				if f.name == "" {
					f.name = sf.Name
				}
				if hasOpt(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64,
						reflect.String:
						f.quoted = true
					}
				}
				if f.omitZero {
					f.isZero = isZeroFunc(sf.Type)
				}
				fields = append(fields, f)
				if count[c.t] > 1 {
					// the struct is embedded twice at this depth: its
					// fields annihilate each other
					fields = append(fields, f)
				}
			}
		}
	}
	slices.SortStableFunc(fields, func(a, b encField) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		if j-i == 1 || len(fields[i].index) != len(fields[i+1].index) || fields[i].tagged != fields[i+1].tagged {
			out = append(out, fields[i])
		}
		i = j
	}
	slices.SortFunc(out, func(a, b encField) int { return slices.Compare(a.index, b.index) })
	for i := range out {
		f := &out[i]
		ft := t
		for _, i := range f.index {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			ft = ft.Field(i).Type
		}
		var key bytes.Buffer
		writeYAMLString(&key, f.name, 0, true)
		f.key = key.String()
		if f.quoted {
			f.enc = newEncoder(ft, true, true)
		} else {
			f.enc = encoderFor(ft)
		}
	}
	return out
}

func hasOpt(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// validTag reports whether encoding/json takes s as a field name.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// isZeroFunc is omitzero's test for a type with an IsZero method, or nil.
func isZeroFunc(t reflect.Type) func(reflect.Value) bool {
	isZero := func(v reflect.Value) bool {
		if !v.CanInterface() {
			return v.IsZero() // unexported: encoding/json panics
		}
		z, _ := reflect.TypeAssert[interface{ IsZero() bool }](v)
		return z.IsZero()
	}
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil() || isZero(v)
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.IsNil() || isZero(v) }
	case t.Implements(isZeroerType):
		return isZero
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if !v.CanAddr() {
				v2 := reflect.New(v.Type()).Elem()
				v2.Set(v)
				v = v2
			}
			return isZero(v.Addr())
		}
	}
	return nil
}

// maxNesting is the depth of pointers, maps and slices beyond which
// the encoder looks for cycles, as encoding/json does.
const maxNesting = 1000

func (pr *printer) enter(v reflect.Value) error {
	if pr.nesting++; pr.nesting <= maxNesting {
		return nil
	}
	if pr.seen[cycleKey(v)] {
		return fmt.Errorf("encountered a cycle via %s", v.Type())
	}
	if pr.seen == nil {
		pr.seen = map[any]bool{}
	}
	pr.seen[cycleKey(v)] = true
	return nil
}

func (pr *printer) leave(v reflect.Value) {
	if pr.nesting--; pr.nesting >= maxNesting {
		delete(pr.seen, cycleKey(v))
	}
}

// cycleKey is what v points to, as encoding/json tells it.
func cycleKey(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		return [2]any{v.Type(), v.UnsafePointer()}
	case reflect.Slice:
		return [2]any{v.UnsafePointer(), v.Len()}
	}
	return v.UnsafePointer()
}

// pathError is an encoding error and where in the object it happened.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string {
	path := strings.TrimPrefix(e.path, ".")
	if len(path) > 200 {
		path = path[:200] + "..." // a cycle
	}
	return path + ": " + e.err.Error()
}
func (e *pathError) Unwrap() error { return e.err }

// atPath prefixes the path of err with seg, as the error unwinds.
func atPath(seg string, err error) error {
	if pe, ok := err.(*pathError); ok {
		pe.path = seg + pe.path
		return pe
	}
	return &pathError{seg, err}
}
