package executor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// refs are what a shop refers to without holding it: a Secret from an
// unset variable, one from a file and a ConfigMap from an unset variable.
var refs = []kubernetes.Reference{
	{Kind: kubernetes.KindSecret, Name: "db-password", Key: "db_password", Path: "secrets.db_password",
		Source: ast.Source{Variable: "DB_PASSWORD"}, Provided: ast.ProvidedUnset},
	{Kind: kubernetes.KindSecret, Name: "tls", Key: "tls", Path: "secrets.tls",
		Source: ast.Source{File: "./tls.pem"}, Provided: ast.ProvidedOnRequest},
	{Kind: kubernetes.KindConfigMap, Name: "greeting", Key: "greeting", Path: "configs.greeting",
		Source: ast.Source{Variable: "GREETING"}, Provided: ast.ProvidedUnset},
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func userSecret(ns, name string, labels map[string]string, keys ...string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Data: map[string][]byte{}}
	for _, k := range keys {
		s.Data[k] = []byte("v")
	}
	return s
}

func TestCheckReferences(t *testing.T) {
	t.Parallel()
	const ns = "team"
	present := []runtime.Object{
		namespace(ns),
		userSecret(ns, "db-password", nil, "db_password"),
		userSecret(ns, "tls", nil, "tls", "other"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "greeting", Namespace: ns}, BinaryData: map[string][]byte{"greeting": []byte("hi")}},
	}
	without := func(name string) []runtime.Object {
		var out []runtime.Object
		for _, o := range present {
			if o.(metav1.Object).GetName() != name {
				out = append(out, o)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		objects   []runtime.Object
		forbidden string // resource whose reads are forbidden
		refs      []kubernetes.Reference
		namespace string // "" is the system's own, shop-01234567
		want      []string
		wantNoNS  bool
	}{
		{name: "none needed", refs: nil},
		{name: "all present", objects: present, refs: refs, namespace: ns},
		{name: "secret missing", objects: without("db-password"), refs: refs, namespace: ns,
			want: []string{`Secret db-password: not found: kubectl create secret generic db-password --from-literal=db_password="$DB_PASSWORD" -n team`}},
		{name: "config missing", objects: without("greeting"), refs: refs, namespace: ns,
			want: []string{`ConfigMap greeting: not found: kubectl create configmap greeting --from-literal=greeting="$GREETING" -n team`}},
		{name: "key missing", objects: append(without("tls"), userSecret(ns, "tls", nil, "tls.pem")), refs: refs, namespace: ns,
			want: []string{`Secret tls: it has no key "tls": kubectl edit secret tls -n team  # add the key tls`}},
		{name: "the system's own", objects: append(without("db-password"), userSecret(ns, "db-password", labels(guid1, ""), "db_password")), refs: refs, namespace: ns,
			want: []string{"Secret db-password: it is the system's own, made by an earlier up from its value, and this up would prune it: kubectl label secret db-password -n team tycho-guid- executor-"}},
		{name: "another system's", objects: append(without("db-password"), userSecret(ns, "db-password", labels(guid2, ""), "db_password")), refs: refs, namespace: ns},
		{name: "forbidden", objects: []runtime.Object{namespace(ns)}, forbidden: "secrets", refs: refs, namespace: ns,
			want: []string{`ConfigMap greeting: not found: kubectl create configmap greeting --from-literal=greeting="$GREETING" -n team`}},
		{name: "new namespace", refs: refs[:2], wantNoNS: true, want: []string{
			`Secret db-password: not found: kubectl create secret generic db-password --from-literal=db_password="$DB_PASSWORD" -n shop-01234567`,
			`Secret tls: not found: kubectl create secret generic tls --from-file=tls=./tls.pem -n shop-01234567`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(tt.objects)
			if tt.forbidden != "" {
				f.Typed.PrependReactor("get", tt.forbidden, func(a clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: tt.forbidden}, "x", errors.New("no"))
				})
			}
			opts := upOptions(tt.namespace, guid1)
			opts.Namespace = tt.namespace
			opts.References = tt.refs
			err := executor.CheckReferences(context.Background(), f.Client, opts)
			var got []string
			var me *executor.MissingError
			if errors.As(err, &me) {
				for _, m := range me.Missing {
					got = append(got, m.Ref.String()+": "+m.Why+": "+m.Fix)
				}
				if me.NamespaceMissing != tt.wantNoNS {
					t.Errorf("NamespaceMissing %v, want %v", me.NamespaceMissing, tt.wantNoNS)
				}
			} else if err != nil {
				t.Fatalf("CheckReferences: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUpMissingReference: Up with a missing Secret creates nothing, not
// even the namespace or the record, and says how to create what is
// missing, in the order to run it.
func TestUpMissingReference(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil)
	opts := upOptions("", guid1)
	opts.References = refs[:1]
	_, err := executor.Up(context.Background(), f.Client, opts)
	var me *executor.MissingError
	if !errors.As(err, &me) {
		t.Fatalf("Up: %v, want a *MissingError", err)
	}
	if len(f.Applied) != 0 || len(f.DryRuns) != 0 {
		t.Errorf("applied %q, dry runs %q: want nothing", f.Applied, f.DryRuns)
	}
	want := `namespace shop-01234567 does not hold 1 object(s) that the system refers to; nothing was created (the namespace does not exist yet):
  Secret db-password (secrets.db_password): not found
create them:
  kubectl create namespace shop-01234567
  kubectl create secret generic db-password --from-literal=db_password="$DB_PASSWORD" -n shop-01234567
then run up again with --guid ` + guid1 + ` (the namespace is named after it); tycho down leaves a namespace you created
or set DB_PASSWORD and run up again: the values then come with the system`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}

	// once they exist, up runs, in the namespace the user made
	ns := namespace("shop-01234567")
	ns.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}
	f = executortest.New([]runtime.Object{ns, userSecret(ns.Name, "db-password", nil, "db_password")}, ns)
	if _, err := executor.Up(context.Background(), f.Client, opts); err != nil {
		t.Fatalf("Up with the Secret: %v", err)
	}
	if !strings.Contains(strings.Join(f.Applied, "\n"), "Deployment shop-01234567/web") {
		t.Errorf("applied %q, want the system", f.Applied)
	}
}
