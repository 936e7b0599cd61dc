package kubernetes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fillTypes are the kinds of object random objects are made of.
var fillTypes = []func() Object{
	func() Object { return &appsv1.Deployment{} },
	func() Object { return &appsv1.DaemonSet{} },
	func() Object { return &appsv1.StatefulSet{} },
	func() Object { return &batchv1.Job{} },
	func() Object { return &batchv1.CronJob{} },
	func() Object { return &corev1.Service{} },
	func() Object { return &corev1.ConfigMap{} },
	func() Object { return &corev1.Secret{} },
	func() Object { return &corev1.PersistentVolumeClaim{} },
	func() Object { return &corev1.Pod{} },
	func() Object { return &networkingv1.NetworkPolicy{} },
	func() Object { return &networkingv1.Ingress{} },
	func() Object { return &rbacv1.Role{} },
	func() Object { return &rbacv1.RoleBinding{} },
	func() Object { return &corev1.ServiceAccount{} },
	func() Object { return &corev1.Namespace{} },
}

// fillStrings are the strings random objects hold: printable and not,
// YAML words, multi-line, empty, the names clean treats specially.
var fillStrings = []string{
	"", "x", "app", "web-1", "apps/v1", "v1", "Deployment", "status", "kind", "apiVersion",
	"strategy", "resources", "metadata", "true", "no", "~", "0", "1.5", "-1", "a: b", "#c",
	" lead", "trail ", "line1\nline2\n", "a\n\nb", "x\r\ny", "tab\tx", "\n", "héllo", "<&>",
	"\u2028", "\ufeff", "bad\xffutf8", "\x00", "\U0001F600", "k.io/name", "@a", "--- x",
}

// fill sets the exported fields of v, an addressable value, at random:
// nil, empty and full collections and pointers, down to a depth.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	if depth > 7 {
		return
	}
	switch p := v.Addr().Interface().(type) {
	case *resource.Quantity:
		*p = resource.MustParse([]string{"0", "100m", "1Gi", "0.5", "1e3", "123456789012345"}[r.IntN(6)])
		return
	case *intstr.IntOrString:
		if r.IntN(2) == 0 {
			*p = intstr.FromInt32(r.Int32N(70000))
		} else {
			*p = intstr.FromString(fillStrings[r.IntN(len(fillStrings))])
		}
		return
	case *metav1.Time:
		if r.IntN(2) == 0 {
			*p = metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
		}
		return
	case *metav1.MicroTime, *metav1.FieldsV1:
		return // their content is not for the printer to vary
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(r.IntN(5)) - 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(r.IntN(300)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat([]float64{0, 1.5, -2, 1e21, 1e-7, 123456789}[r.IntN(6)])
	case reflect.String:
		v.SetString(fillStrings[r.IntN(len(fillStrings))])
	case reflect.Pointer:
		if r.IntN(3) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(r, v.Elem(), depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			switch r.IntN(3) {
			case 1:
				v.SetBytes([]byte{})
			case 2:
				v.SetBytes([]byte("\x00\xffbinary"))
			}
			return
		}
		switch n := r.IntN(4); n {
		case 0:
		default:
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				fill(r, v.Index(i), depth+1)
			}
		}
	case reflect.Map:
		if n := r.IntN(4); n > 0 {
			v.Set(reflect.MakeMap(v.Type()))
			for range n - 1 {
				k := reflect.New(v.Type().Key()).Elem()
				fill(r, k, depth+1)
				e := reflect.New(v.Type().Elem()).Elem()
				fill(r, e, depth+1)
				v.SetMapIndex(k, e)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() && r.IntN(3) > 0 {
				fill(r, f, depth+1)
			}
		}
	}
}

// randomObject is a random object of kind fillTypes[i], with seed.
func randomObject(seed uint64, i int) Object {
	o := fillTypes[i%len(fillTypes)]()
	fill(rand.New(rand.NewPCG(seed, uint64(i))), reflect.ValueOf(o).Elem(), 0)
	return o
}

// oldYAML is the printer that the encoder replaced: encoding/json, read
// back into a tree, cleaned and written out. The encoder must print the
// same bytes.
func oldYAML(v any) ([]byte, error) {
	var j bytes.Buffer
	if err := json.NewEncoder(&j).Encode(v); err != nil {
		return nil, err
	}
	var p parser
	p.reset(j.Bytes())
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	clean(n, true)
	apiVersionFirst(n)
	var buf bytes.Buffer
	treeYAML(&buf, n, 0)
	return buf.Bytes(), nil
}

func treeYAML(buf *bytes.Buffer, n *node, ind int) {
	switch n.kind {
	case kObject:
		if len(n.keys) == 0 {
			buf.WriteString("{}\n")
			return
		}
		for i, k := range n.keys {
			if i > 0 {
				indent(buf, ind)
			}
			writeYAMLString(buf, k, ind, true)
			buf.WriteByte(':')
			treeYAMLValue(buf, n.vals[i], ind, false)
		}
	case kArray:
		if len(n.items) == 0 {
			buf.WriteString("[]\n")
			return
		}
		for i, v := range n.items {
			if i > 0 {
				indent(buf, ind)
			}
			buf.WriteString("-")
			treeYAMLValue(buf, v, ind, true)
		}
	default:
		treeYAMLValue(buf, n, ind, false)
	}
}

func treeYAMLValue(buf *bytes.Buffer, v *node, ind int, inList bool) {
	switch v.kind {
	case kObject:
		if len(v.keys) == 0 {
			buf.WriteString(" {}\n")
			return
		}
		if inList {
			buf.WriteByte(' ')
			treeYAML(buf, v, ind+2)
			return
		}
		buf.WriteByte('\n')
		indent(buf, ind+2)
		treeYAML(buf, v, ind+2)
	case kArray:
		if len(v.items) == 0 {
			buf.WriteString(" []\n")
			return
		}
		if inList {
			buf.WriteByte(' ')
			treeYAML(buf, v, ind+2)
			return
		}
		buf.WriteByte('\n')
		indent(buf, ind)
		treeYAML(buf, v, ind)
	case kString:
		buf.WriteByte(' ')
		writeYAMLString(buf, v.raw, ind+2, false)
		buf.WriteByte('\n')
	default:
		buf.WriteByte(' ')
		buf.WriteString(v.raw)
		buf.WriteByte('\n')
	}
}

func newYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	err := (&printer{}).encodeYAML(&buf, reflect.ValueOf(v))
	return buf.Bytes(), err
}

// checkSame fails unless v prints as the old printer printed it.
func checkSame(t *testing.T, name string, v any) {
	t.Helper()
	want, err := oldYAML(v)
	if err != nil {
		t.Fatalf("%s: old printer: %v", name, err)
	}
	got, err := newYAML(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: printed differently\n--- old:\n%s\n--- new:\n%s", name, want, got)
	}
}

// TestEncodeRandomObjects: random objects of every kind Tycho generates
// and more print exactly as the old printer printed them.
func TestEncodeRandomObjects(t *testing.T) {
	t.Parallel()
	for seed := range uint64(100) {
		for i := range fillTypes {
			o := randomObject(seed, i)
			checkSame(t, fmt.Sprintf("seed %d, %T", seed, o), o)
		}
	}
}

func FuzzEncodeYAML(f *testing.F) {
	for i := range fillTypes {
		f.Add(uint64(i), uint8(i))
	}
	f.Fuzz(func(t *testing.T, seed uint64, kind uint8) {
		checkSame(t, fmt.Sprintf("seed %d, kind %d", seed, kind), randomObject(seed, int(kind)))
	})
}

// TestEncodeObjects: objects as Tycho generates them.
func TestEncodeObjects(t *testing.T) {
	t.Parallel()
	meta := metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"app.kubernetes.io/name": "web", "on": "yes"}}
	pod := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: meta.Labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "nginx:1.27", Command: []string{"sh", "-c", "echo hi\nexit 0\n"},
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
			Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi"), corev1.ResourceCPU: resource.MustParse("500m")}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}},
			Env:            []corev1.EnvVar{{Name: "EMPTY"}, {Name: "TRICKY", Value: "a: b # c"}},
		}}},
	}
	objs := []Object{
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: meta.Labels}, Template: pod}},
		&appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Template: pod}},
		&batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: meta, Spec: batchv1.JobSpec{Template: pod}},
		&corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta,
			Spec: corev1.ServiceSpec{Selector: meta.Labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta,
			Data: map[string]string{"a.conf": "x = 1\n\n  y\n", "yes": "no", "e": "", "bad": "\xff\xfe", "nul": "\x00"}},
		&corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: meta,
			Data: map[string][]byte{"bin": {0, 0xff, '\n'}, "empty": {}, "nil": nil}, StringData: map[string]string{"s": "v"}},
		&corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}, ObjectMeta: meta,
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
		&networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}, ObjectMeta: meta,
			Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: new(intstr.FromInt32(80))}, {Port: new(intstr.FromString("http"))}},
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}},
			}}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}},
		&rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta,
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}},
		&rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta,
			RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "web"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "web"}}},
		&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta, AutomountServiceAccountToken: new(false)},
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "ns", CreationTimestamp: metav1.Now()}},
		&corev1.Namespace{}, // nothing to print but {}
		(*corev1.Namespace)(nil),
	}
	for _, o := range objs {
		checkSame(t, fmt.Sprintf("%T", o), o)
	}
}

// Types with what encoding/json treats specially.
type (
	ptrMarshaler struct{ S string }
	valMarshaler struct{ N int }
	textKey      struct{ A, B string }
	ptrText      struct{ S string }
	zeroer       struct{ N int }
	ptrZeroer    struct{ N int }
	myString     string
	inner        struct {
		X        string `json:"x"`
		Y        int    `json:"y,omitempty"`
		Shadowed string `json:"shadowed"`
	}
	inner2 struct {
		Z   string
		Dup string `json:"dup"`
	}
	inner3 struct {
		Dup string `json:"dup"`
	}
	unexported struct{ Visible string }
	// twice embedded at the same depth: its fields annihilate
	twice  struct{ Gone string }
	twiceA struct{ twice }
	twiceB struct{ twice }
	// a tagged field wins over an untagged one of the same name
	untagged struct{ Winner string }
	tagged   struct {
		W string `json:"Winner"`
	}
)

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) { return json.Marshal("ptr:" + p.S) }
func (p *ptrText) MarshalText() ([]byte, error)      { return []byte("text:" + p.S), nil }
func (k textKey) MarshalText() ([]byte, error)       { return []byte(k.B + "/" + k.A), nil }
func (z zeroer) IsZero() bool                        { return z.N == 42 }
func (z *ptrZeroer) IsZero() bool                    { return z.N == 42 }

// MarshalJSON returns JSON that clean and the layout must handle.
func (v valMarshaler) MarshalJSON() ([]byte, error) {
	return []byte([]string{
		`null`, `{"a":null,"strategy":{},"metadata":{"x":null},"b":[1,{},null,[]],"c":"x\u003cy","status":1}`,
		` [ ] `, "\"bad\xff<\"", "\"bad\xff\"", `{}`, `"multi\nline\n"`, `1e+21`, `{"kind":"K","apiVersion":"v"}`,
	}[v.N]), nil
}

type kitchen struct {
	Kind       string `json:"kind,omitempty"`
	Status     string `json:"status"`
	APIVersion string `json:"apiVersion,omitempty"`
	inner
	*inner2
	inner3
	unexported
	twiceA
	twiceB
	untagged
	tagged
	Named    inner  `json:",inline"`
	Shadowed string `json:"shadowed"`
	hidden   string //nolint:unused // encoding/json skips it
	Dash     string `json:"-"`
	//lint:ignore SA5008 a malformed tag on purpose: the printer must read it as encoding/json does
	DashName string `json:"-,"`
	//lint:ignore SA5008 a malformed tag on purpose: the printer must read it as encoding/json does
	BadTag     string  `json:"a\"b"`
	Str        int     `json:",string"`
	StrP       *bool   `json:",string"`
	StrS       string  `json:",string"`
	StrF       float64 `json:",string,omitempty"`
	Num        json.Number
	NumE       json.Number `json:",omitempty"`
	F32        float32
	F64        []float64
	U          uint8
	Up         uintptr
	B, BN      []byte
	BE         []byte `json:",omitempty"`
	Arr        [3]byte
	Arr0       [0]int
	I, IN      any
	IL         []any
	PM         ptrMarshaler
	PMs        map[string]ptrMarshaler
	PMl        []ptrMarshaler
	PMp        *ptrMarshaler
	VM         []valMarshaler
	TK         map[textKey]int
	PT         ptrText
	PTs        map[string]ptrText
	IK         map[int]string
	UK         map[uint16]string
	Z, Z42     zeroer          `json:",omitzero"`
	PZ, PZ42   ptrZeroer       `json:",omitzero"`
	PZp, PZp42 *ptrZeroer      `json:",omitzero"`
	ZS         struct{ A int } `json:",omitzero"`
	ZI         any             `json:",omitzero"`
	OE         struct{}        `json:",omitempty"`
	Strategy   struct {
		A string `json:",omitempty"`
	} `json:"strategy"`
	Resources map[string]string `json:"resources"`
	Metadata  *struct{}         `json:"metadata"`
	Nested    [][]string
	Strings   map[string]string
	NamedMap  map[myString]myString
	Time      metav1.Time  `json:"time"`
	TimeP     *metav1.Time `json:"timeP"`
}

// TestEncodeJSONRules: what encoding/json does with embedded structs,
// tags, options, Marshalers, map keys and numbers, the encoder does too.
func TestEncodeJSONRules(t *testing.T) {
	t.Parallel()
	full := func() *kitchen {
		return &kitchen{
			Kind: "K", Status: "s", APIVersion: "v",
			inner: inner{X: "x", Shadowed: "hidden"}, inner2: &inner2{Z: "z", Dup: "d2"}, inner3: inner3{Dup: "d3"},
			unexported: unexported{Visible: "v"}, Named: inner{Y: 1},
			twiceA: twiceA{twice{Gone: "a"}}, twiceB: twiceB{twice{Gone: "b"}}, untagged: untagged{Winner: "no"}, tagged: tagged{W: "yes"},
			Shadowed: "shown", hidden: "h", Dash: "d", DashName: "dn", BadTag: "bt",
			Str: 7, StrP: new(true), StrS: "a\"<b>", StrF: 1.5, Num: "1.5e3",
			F32: 3.14, F64: []float64{0, math.Copysign(0, -1), 1e20, 1e21, 1e-6, 1e-7, 123.456, math.MaxFloat64, math.SmallestNonzeroFloat64},
			U: 255, Up: 9, B: []byte("hello\x00"), BN: nil,
			Arr: [3]byte{1, 2, 3},
			I:   map[string]any{"k": []any{1, "two", nil, map[string]any{}}}, IL: []any{nil, struct{}{}, []int{}, "", 1.5, &ptrMarshaler{S: "p"}, ptrMarshaler{S: "v"}},
			PM: ptrMarshaler{S: "a"}, PMs: map[string]ptrMarshaler{"m": {S: "b"}}, PMl: []ptrMarshaler{{S: "c"}},
			VM: []valMarshaler{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}},
			TK: map[textKey]int{{A: "a", B: "b"}: 1, {A: "z", B: "a"}: 2},
			PT: ptrText{S: "\xff\nx\n"}, PTs: map[string]ptrText{"k": {S: "u"}},
			IK: map[int]string{-1: "neg", 10: "ten", 9: "nine"}, UK: map[uint16]string{7: "seven"},
			Z42: zeroer{N: 42}, PZ42: ptrZeroer{N: 42}, PZp: &ptrZeroer{N: 1}, PZp42: &ptrZeroer{N: 42}, ZI: zeroer{N: 42},
			Resources: map[string]string{}, Metadata: &struct{}{},
			Nested:   [][]string{{}, {"a", "b"}, nil},
			Strings:  map[string]string{"\xff": "\xfe", "b\xffc": "line\n\xff\n", "yes": "on", "": ""},
			NamedMap: map[myString]myString{"b": "2", "a": "1"},
			Time:     metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), TimeP: &metav1.Time{},
		}
	}
	values := map[string]any{
		"full":            full(),
		"full by value":   *full(),
		"zero":            &kitchen{},
		"in a map":        map[string]any{"kind": "K", "apiVersion": "v", "status": "s", "x": full()},
		"in a list":       []any{full(), kitchen{}},
		"kind only":       &kitchen{Kind: "K"},
		"apiVersion only": &kitchen{APIVersion: "v"},
		"marshaler":       valMarshaler{N: 8},
		"marshaler null":  valMarshaler{N: 0},
		"marshaler tree":  valMarshaler{N: 1},
		"empty list":      []int{},
		"string":          "multi\nline",
		"number":          42,
		"nil":             nil,
		"nil pointer":     (*kitchen)(nil),
	}
	for name, v := range values {
		checkSame(t, name, v)
	}
}

type loop struct{ Next *loop }

// Two embedded Marshalers: neither method is promoted, and their
// values, in unexported fields, cannot be marshaled.
type (
	hiddenA struct{}
	hiddenB struct{}
)

func (hiddenA) MarshalJSON() ([]byte, error) { return []byte("1"), nil }
func (hiddenB) MarshalJSON() ([]byte, error) { return []byte("2"), nil }

type badMarshaler struct{ invalid bool }

func (b badMarshaler) MarshalJSON() ([]byte, error) {
	if b.invalid {
		return []byte(`{"a":`), nil
	}
	return nil, errors.New("no")
}

// TestEncodeErrors: what encoding/json cannot encode is an error that
// names the type and where it is, not a panic.
func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	cycle := &loop{}
	cycle.Next = cycle
	// rejected reports how the old printer rejected v
	rejected := func(v any) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		_, err = oldYAML(v)
		return err
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{struct{ C chan int }{}, "C: unsupported type chan int"},
		{map[string]any{"k": []any{func() {}}}, `["k"][0]: unsupported type func()`},
		{struct{ C complex128 }{}, "C: unsupported type complex128"},
		{map[[2]int]string{}, "unsupported type map[[2]int]string"},
		{struct{ F []float64 }{F: []float64{math.NaN()}}, "F[0]: unsupported value NaN"},
		{struct{ F float32 }{F: float32(math.Inf(-1))}, "F: unsupported value -Inf"},
		{struct{ M badMarshaler }{}, "M: calling MarshalJSON for type kubernetes.badMarshaler: no"},
		{[]badMarshaler{{invalid: true}}, "[0]: calling MarshalJSON for type kubernetes.badMarshaler: invalid JSON"},
		{struct{ N json.Number }{N: "x"}, `N: json: invalid number literal "x"`},
		{cycle, "encountered a cycle via *kubernetes.loop"},
		{struct {
			hiddenA `json:"a"`
			hiddenB `json:"b"`
		}{}, "a: cannot marshal kubernetes.hiddenA: unexported"}, // encoding/json panics
	} {
		if rejected(c.v) == nil {
			t.Errorf("%T: the old printer took it", c.v)
		}
		_, err := newYAML(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T: error %v, want %q", c.v, err, c.want)
		}
	}
}
