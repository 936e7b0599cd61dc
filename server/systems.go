package server

import (
	"context"
	"time"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
)

// Systems is the cluster side of the API: it starts, reports, deletes and
// modifies compiled systems. NewCluster implements it over the executor.
// Every method touches only objects that Tycho started (labelled
// executor=tycho and tycho-guid).
type Systems interface {
	// Start applies a compiled system in a namespace of its own.
	Start(ctx context.Context, spec StartSpec) (*executor.System, error)
	// Status reports the system of guid, or all systems when guid is "".
	// An unknown GUID is an empty list, not an error.
	Status(ctx context.Context, guid string) ([]executor.System, error)
	// Delete removes a system; an unknown GUID is api.ErrNotFound. It returns
	// once the system is gone or, when opts.Wait is false or opts.Timeout
	// passed first, once its deletion is under way (Pending): the system
	// is then marked deleting, Status shows it so, and the deletion goes
	// on without the caller. A second Delete of the same GUID finishes
	// (or joins) the first.
	Delete(ctx context.Context, guid string, opts DeleteOptions) (Deletion, error)
	// Modify patches the workloads of a running system; an unknown GUID
	// is api.ErrNotFound.
	Modify(ctx context.Context, guid string, m Modification) ([]Patch, error)
	// Services reports the state of each service of a running system;
	// an unknown GUID is api.ErrNotFound.
	Services(ctx context.Context, guid string) ([]executor.ServiceStatus, error)
	// Restart restarts the Deployments and DaemonSets of a running
	// system (of the services named) as kubectl rollout restart does, and
	// returns them as "Kind/name"; an unknown GUID is api.ErrNotFound, a
	// service the system does not have or a Job an *InvalidError.
	Restart(ctx context.Context, guid string, r RestartSpec) ([]string, error)
	// Ready reports whether the cluster answers.
	Ready(ctx context.Context) error
}

// StartSpec is a compiled system to start.
type StartSpec struct {
	// System is the system's name, GUID its GUID.
	System string
	GUID   string
	// Namespace is the system's own namespace, which Start creates.
	Namespace string
	// SecurityLevel is the Pod Security level that the namespace enforces.
	SecurityLevel string
	// Objects are the compiled objects, in apply order.
	Objects []kubernetes.Object
	// Wait waits until every workload is ready, at most Timeout; a system
	// that is not ready then is rolled back.
	Wait    bool
	Timeout time.Duration
}

// DeleteOptions say how Delete removes a system.
type DeleteOptions struct {
	// Volumes deletes the system's PersistentVolumeClaims too.
	Volumes bool
	// Wait waits until everything is gone, at most Timeout; without it,
	// Delete returns once the system is marked and its bulk deletes sent.
	Wait    bool
	Timeout time.Duration
}

// Deletion is the outcome of Delete.
type Deletion struct {
	// Deleted counts the objects deleted, or being deleted when Pending.
	Deleted int
	// Pending is true when the system is not gone yet: its deletion goes
	// on, and Status shows it deleting until it is gone.
	Pending bool
}

// RestartSpec says what Restart restarts.
type RestartSpec struct {
	// Services are the services to restart; none means all.
	Services []string
	// Wait waits until they are rolled out, at most Timeout.
	Wait    bool
	Timeout time.Duration
}

// Modification is what Modify changes; empty fields change nothing.
type Modification struct {
	// Labels are added to the pod template of every workload.
	Labels map[string]string
	// CPU and Memory become the limits and requests of every container.
	CPU    string
	Memory string
}

// Patch is a patch that Modify applied to one workload.
type Patch struct {
	Kind      string
	Namespace string
	Name      string
	// Patch is the strategic merge patch, in JSON.
	Patch []byte
}

// InvalidError is an error of a Systems that the request caused (e.g. a
// patch the API server rejects as invalid): the API answers it 400.
type InvalidError struct{ Err error }

// Error returns the underlying error's message.
func (e *InvalidError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InvalidError) Unwrap() error { return e.Err }
