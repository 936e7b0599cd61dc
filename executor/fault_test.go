package executor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// failDeletes makes every delete of f fail with err.
func failDeletes(f *executortest.Fake, err error) {
	f.Dyn.PrependReactor("delete", "*", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, err })
}

// A server out of reach stops the roll-back at its first delete: the
// error names one object, not all.
func TestUpRollbackUnreachable(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil)
	f.Reject("deployments", "web", apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", nil))
	refused := errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	failDeletes(f, refused)
	_, err := executor.Up(context.Background(), f.Client, upOptions("", guid1))
	var ue *executor.UpError
	if !errors.As(err, &ue) || !errors.Is(ue.RollbackErr, refused) {
		t.Fatalf("Up: error %v, want an *UpError whose roll-back was refused", err)
	}
	if n := strings.Count(ue.RollbackErr.Error(), "deleting "); n != 1 {
		t.Errorf("roll-back error names %d deletes, want 1:\n%v", n, ue.RollbackErr)
	}
	if !strings.Contains(err.Error(), "remove the rest with: tycho down "+guid1) {
		t.Errorf("Up: error does not say how to remove the rest:\n%v", err)
	}
}

// A prune that fails fails Up, and says which object it could not delete.
func TestUpPruneFails(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil)
	ctx := context.Background()
	if _, err := executor.Up(ctx, f.Client, upOptions("", guid1)); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	failDeletes(f, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no")))
	opts := upOptions("", guid1)
	opts.Objects = without(opts.Objects, "Deployment/web")
	_, err := executor.Up(ctx, f.Client, opts)
	want := "pruning system " + guid1 + ": deleting Deployment shop-01234567/web: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Up: error %v, want one starting %q", err, want)
	}
}
