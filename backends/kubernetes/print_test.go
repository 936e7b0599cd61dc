package kubernetes_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// trickyStrings are values a YAML emitter easily gets wrong: YAML 1.1
// words and numbers that would not read back as strings, indicators,
// whitespace at the edges, line breaks of every kind, document markers.
var trickyStrings = []string{
	"", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r",
	"y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
	"true", "True", "false", "FALSE", "null", "Null", "NULL", "~", "=", "<<",
	"0", "0123", "1e3", "1E3", "-1", "+1", "0x1F", "0o17", "0b101", "1_000", "1:20", "190:20:30", "1.5", ".5", "5.",
	".inf", "-.inf", "+.inf", ".Inf", ".NaN", ".nan", "NaN", "Infinity",
	"2001-12-14", "2001-12-14t21:59:43.10-05:00", "12:30",
	"a: b", "a:b", "a:", ":a", "key: value: more", "a #b", "a#b", "#a", " #a",
	" lead", "trail ", " both ", "\tlead-tab", "trail-tab\t", "a\tb",
	"- x", "-x", "-", "--", "---", "--- x", "...", "... x", "?", "? x", "[a]", "{a}", "{a: b}", "a, b", ",",
	"*a", "&a", "!tag", "!!str", "%", "%YAML 1.2", "@", "@a", "`", "`a`", "|", ">", "|-", ">+",
	"'", "''", "\"", "\"\"", "'a'", "\"a\"", "it's", "say \"hi\"", "\\", "\\n", "C:\\path\\to", "a\\",
	"line1\nline2", "line1\nline2\n", "line1\nline2\n\n", "line1\nline2\n\n\n",
	"line1\n\nline3", "\nleading-newline", "\n\nx", "x\n \n", "x\n  ", "x\n\t", "x\n\ty", "\tx\ny",
	"---\nkey: value\n", "a\n---\nb\n", "a\n...\nb", "a\n--- x\n", "...\n",
	"# comment\nx", "x\n# not a comment\n", "x\r\ny\r\n", "x\ry",
	"  indented\nfirst", "first\n  indented\n", "first\n    deeper\n  less\n",
	"héllo", "日本語", "emoji 🎉", "Ünïcödé\nzweite Zeile\n", "\u00a0nbsp", "zero\u200bwidth", "bom\ufeff", "\ufeffbom",
	"rtl \u202e text", "nel\u0085x", " \u0085", "ls\u2028x", "ps\u2029x", " \u2028", "a \u2029b", "\u2029 ", "del\x7f", "c1\u0080x", "c1\u009fx", "bell\a", "esc\x1b[0m", "nul\x00x",
	"\ufffe", "\uffff", "\U0001F600",
	"<html>&amp;</html>", "a & b", "50%", "!important", "http://example.com/a?b=c#d", "user@example.com",
	"{{ .Values.x }}", "${VAR}", "$$", "key=value", "[1, 2, 3]",
	strings.Repeat("long ", 60), strings.Repeat("x", 250), strings.Repeat("line\n", 50),
}

func configMap(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "cm", Labels: map[string]string{"app.kubernetes.io/name": "x"}},
		Data:       data,
	}
}

// unmarshal reads b as kubectl does: YAML with sigs.k8s.io/yaml (YAML 1.1
// rules), JSON with a JSON decoder (kubectl's YAMLOrJSONDecoder sniffs it).
func unmarshal(b []byte, into any, f kubernetes.Format) error {
	if f == kubernetes.JSON {
		return json.Unmarshal(b, into)
	}
	return yaml.Unmarshal(b, into)
}

// roundTrip prints cm in format f and reads it back with sigs.k8s.io/yaml,
// as kubectl would.
func roundTrip(t *testing.T, cm *corev1.ConfigMap, f kubernetes.Format) (*corev1.ConfigMap, []byte) {
	t.Helper()
	b, err := kubernetes.Marshal(cm, f)
	if err != nil {
		t.Fatalf("Marshal(%s): %v", f, err)
	}
	got := &corev1.ConfigMap{}
	if err := unmarshal(b, got, f); err != nil {
		t.Fatalf("printed %s does not decode: %v\n%s", f, err, b)
	}
	return got, b
}

// TestMarshalTrickyStrings: every tricky string round-trips exactly as a
// value, as an annotation and (where it is a valid ConfigMap key) as a key.
func TestMarshalTrickyStrings(t *testing.T) {
	t.Parallel()
	for _, s := range trickyStrings {
		t.Run(strings.ToValidUTF8(s, "?"), func(t *testing.T) {
			t.Parallel()
			for _, f := range []kubernetes.Format{kubernetes.YAML, kubernetes.JSON} {
				cm := configMap(map[string]string{"value": s, "prefixed": "x" + s, "suffixed": s + "x"})
				cm.Annotations = map[string]string{"a": s}
				if validKey(s) {
					cm.Data[s] = "as a key"
				}
				got, b := roundTrip(t, cm, f)
				if diff := cmp.Diff(cm.Data, got.Data); diff != "" {
					t.Errorf("%s: data (-want +got):\n%s\nprinted:\n%s", f, diff, b)
				}
				if diff := cmp.Diff(cm.Annotations, got.Annotations); diff != "" {
					t.Errorf("%s: annotations (-want +got):\n%s\nprinted:\n%s", f, diff, b)
				}
				if f == kubernetes.JSON && !json.Valid(b) {
					t.Errorf("JSON output is not valid JSON:\n%s", b)
				}
			}
		})
	}
}

// TestMarshalTrailingNewlines: 0 to 3 trailing newlines, after text and
// after empty lines, keep their number (block chomping).
func TestMarshalTrailingNewlines(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"x", "a\nb", "a\n\nb", "  a\nb", "a\n  b", "a\tb\nc"} {
		for n := range 4 {
			s := body + strings.Repeat("\n", n)
			got, b := roundTrip(t, configMap(map[string]string{"k": s}), kubernetes.YAML)
			if got.Data["k"] != s {
				t.Errorf("%q read back as %q; printed:\n%s", s, got.Data["k"], b)
			}
		}
	}
}

// TestPrintStream: several documents with tricky values still split into
// the same objects (no value ends or starts a document).
func TestPrintStream(t *testing.T) {
	t.Parallel()
	var objs []kubernetes.Object
	for i, s := range []string{"---\n", "...\n", "a\n---\nb", "x\n...\n", "---"} {
		cm := configMap(map[string]string{"k": s})
		cm.Name = "cm" + string(rune('a'+i))
		objs = append(objs, cm)
	}
	var buf bytes.Buffer
	if err := kubernetes.Print(&buf, objs, kubernetes.YAML); err != nil {
		t.Fatal(err)
	}
	// split as kubectl does (k8s.io/apimachinery's YAML document reader)
	r := utilyaml.NewYAMLReader(bufio.NewReader(&buf))
	var docs [][]byte
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	if len(docs) != len(objs) {
		t.Fatalf("%d objects printed as %d documents", len(objs), len(docs))
	}
	for i, d := range docs {
		got := &corev1.ConfigMap{}
		if err := yaml.Unmarshal(d, got); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		want := objs[i].(*corev1.ConfigMap)
		if diff := cmp.Diff(want.Data, got.Data); diff != "" {
			t.Errorf("document %d (-want +got):\n%s", i, diff)
		}
	}
}

// validKey reports whether s may be a ConfigMap key ([-._a-zA-Z0-9]+).
func validKey(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// FuzzMarshalConfigMap: any UTF-8 string, as a value and (when valid) as a
// key, reads back unchanged from the YAML Tycho prints.
func FuzzMarshalConfigMap(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, "k")
		if validKey(s) {
			f.Add("v", s)
		}
	}
	f.Fuzz(func(t *testing.T, value, key string) {
		// ConfigMap data is UTF-8 (JSON would replace invalid bytes);
		// binary goes to binaryData
		if !utf8.ValidString(value) || !utf8.ValidString(key) {
			t.Skip()
		}
		if !validKey(key) {
			key = "k"
		}
		cm := configMap(map[string]string{key: value, "other": "x"})
		cm.Annotations = map[string]string{"a": value}
		for _, format := range []kubernetes.Format{kubernetes.YAML, kubernetes.JSON} {
			b, err := kubernetes.Marshal(cm, format)
			if err != nil {
				t.Fatalf("Marshal(%s): %v", format, err)
			}
			got := &corev1.ConfigMap{}
			if err := unmarshal(b, got, format); err != nil {
				t.Fatalf("%s: printed value %q does not decode: %v\n%s", format, value, err, b)
			}
			if diff := cmp.Diff(cm.Data, got.Data); diff != "" {
				t.Fatalf("%s: data (-want +got):\n%s\nprinted:\n%s", format, diff, b)
			}
			if diff := cmp.Diff(cm.Annotations, got.Annotations); diff != "" {
				t.Fatalf("%s: annotations (-want +got):\n%s\nprinted:\n%s", format, diff, b)
			}
		}
	})
}
