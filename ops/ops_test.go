package ops_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
	"github.com/tychoctl/tycho/ops"
)

const (
	guid1 = "0123456789abcdef0123456789abcdef"
	guid2 = "fedcba9876543210fedcba9876543210"
	guid3 = "cccccccccccccccccccccccccccccccc"
)

var t0 = time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)

func record(ns, guid, name string, created time.Time) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: executor.RecordName(guid), Namespace: ns, Labels: map[string]string{
		"executor": "tycho", "tycho-guid": guid, "app.kubernetes.io/component": executor.RecordComponent}},
		Data: map[string]string{"system": name, "namespace": ns, "own-namespace": "true", "created": created.Format(time.RFC3339)}}
}

// systems: two named shop (the later one first in the list), one cart.
func systems() []runtime.Object {
	return []runtime.Object{
		record("shop-fedcba98", guid2, "shop", t0), record("shop-01234567", guid1, "shop", t0.Add(-time.Hour)),
		record("cart-cccccccc", guid3, "cart", t0),
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ref, ns string
		want    string
		wantErr string
		wantAmb []string // GUIDs of the candidates, oldest first
		usage   bool
	}{
		{name: "GUID", ref: guid1, want: guid1},
		{name: "UnknownGUIDTakenAsIs", ref: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", want: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{name: "Name", ref: "cart", want: guid3},
		{name: "NameAnyCase", ref: "Cart", want: guid3},
		{name: "AmbiguousName", ref: "shop", wantAmb: []string{guid1, guid2},
			wantErr: `2 systems are named "shop" (` + guid1 + ", " + guid2 + "): name one by its GUID"},
		{name: "NameInNamespace", ref: "shop", ns: "shop-fedcba98", want: guid2},
		{name: "UnknownName", ref: "web", wantErr: `no running system is named "web": system not found`},
		{name: "NeitherGUIDNorName", ref: "shop/web", usage: true,
			wantErr: `"shop/web" is neither a GUID (32 lowercase hex characters) nor a system name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(systems())
			got, err := ops.Resolve(context.Background(), ops.NewLocal(f.Client), tt.ref, tt.ns)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Fatalf("Resolve: error %v, want %q", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Resolve = %q, want %q", got, tt.want)
			}
			var ae *ops.AmbiguousError
			if errors.As(err, &ae) {
				var guids []string
				for _, c := range ae.Candidates {
					guids = append(guids, c.GUID)
				}
				if diff := cmp.Diff(tt.wantAmb, guids); diff != "" {
					t.Errorf("candidates (-want +got):\n%s", diff)
				}
			} else if tt.wantAmb != nil {
				t.Errorf("error %v is not ambiguous", err)
			}
			var ue *ops.UsageError
			if errors.As(err, &ue) != tt.usage {
				t.Errorf("error %v: usage error %v, want %v", err, !tt.usage, tt.usage)
			}
			if tt.wantErr == "" || tt.wantAmb != nil || tt.usage {
				return
			}
			if !errors.Is(err, executor.ErrNotFound) {
				t.Errorf("error %v is not api.ErrNotFound", err)
			}
		})
	}
}

// TestResolveServices: the first argument names the system, unless no
// running system has that name and the working directory's project runs.
func TestResolveServices(t *testing.T) {
	t.Parallel()
	here := func(name string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			if name == "" {
				return "", errors.New("no compose file here")
			}
			return name, nil
		}
	}
	tests := []struct {
		name     string
		args     []string
		here     string
		want     string
		services []string
		wantErr  string
	}{
		{name: "SystemAndServices", args: []string{"cart", "web", "db"}, here: "shop", want: guid3, services: []string{"web", "db"}},
		{name: "SystemOnly", args: []string{guid1}, want: guid1, services: []string{}},
		{name: "ServicesOfHere", args: []string{"web", "db"}, here: "cart", want: guid3, services: []string{"web", "db"}},
		{name: "NothingHere", args: []string{"web"}, wantErr: `no running system is named "web": system not found`},
		{name: "HereNotRunning", args: []string{"web"}, here: "blog", wantErr: `no running system is named "web": system not found`},
		// an ambiguous name is not taken for a service
		{name: "Ambiguous", args: []string{"shop", "web"}, here: "cart", wantErr: `2 systems are named "shop"`},
		{name: "None", wantErr: "no system named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(systems())
			guid, services, err := ops.ResolveServices(context.Background(), ops.NewLocal(f.Client), tt.args, "", here(tt.here))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveServices: error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveServices: %v", err)
			}
			if guid != tt.want {
				t.Errorf("system %q, want %q", guid, tt.want)
			}
			if diff := cmp.Diff(tt.services, services); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDownRefs(t *testing.T) {
	t.Parallel()
	var dyn []runtime.Object
	for _, o := range systems() {
		cm := o.(*corev1.ConfigMap)
		cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		dyn = append(dyn, cm)
	}
	f := executortest.New(systems(), dyn...)
	results, err := ops.DownRefs(context.Background(), ops.NewLocal(f.Client), []string{"cart", "web", guid3, "shop"},
		executor.DownOptions{Wait: false})
	if err != nil {
		t.Fatalf("DownRefs: %v", err)
	}
	var got []string
	for _, r := range results {
		s := r.GUID
		if r.Err != nil {
			s += ": " + r.Err.Error()
		}
		got = append(got, s)
	}
	// cart once (by name and GUID); web unknown; shop ambiguous; each in
	// the order given
	want := []string{
		guid3,
		`web: no running system is named "web": system not found`,
		`shop: 2 systems are named "shop" (` + guid1 + ", " + guid2 + "): name one by its GUID",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

func TestRemoteNeedsCluster(t *testing.T) {
	t.Parallel()
	r := &ops.Remote{}
	for _, op := range []string{"diff", "logs", "events"} {
		if err := ops.Available(r, op); !errors.Is(err, ops.ErrNeedsCluster) {
			t.Errorf("Available(%s) = %v, want ErrNeedsCluster", op, err)
		}
	}
	for _, op := range []string{"up", "list", "down", "ps", "restart"} {
		if err := ops.Available(r, op); err != nil {
			t.Errorf("Available(%s) = %v", op, err)
		}
	}
	if err := ops.Available(&ops.Local{}, "logs"); err != nil {
		t.Errorf("Local: Available(logs) = %v", err)
	}
}
