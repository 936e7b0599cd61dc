package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// UpOptions are everything Up takes.
type UpOptions struct {
	// System is the system's (compose project) name.
	System string
	// SecurityLevel is the Pod Security level the system meets; a namespace
	// Tycho creates enforces it.
	SecurityLevel string
	// Objects are the compiled objects, in apply order, labelled with GUID.
	Objects []kubernetes.Object
	// References are the objects that Objects refer to but do not hold;
	// each must exist in Namespace before anything is applied (see
	// CheckReferences).
	References []kubernetes.Reference
	// GUID identifies the system (see NewGUID).
	GUID string
	// Namespace holds the system; "" means NamespaceFor(System, GUID),
	// created by Tycho.
	Namespace string
	// CreateNamespace makes Tycho create Namespace (and Down delete it).
	// It is implied when Namespace is "".
	CreateNamespace bool
	// ModelHash is recorded with the system; "" means ModelHash(Objects).
	ModelHash string
	// Wait waits until every Deployment is available, every DaemonSet
	// ready and every Job complete, at most Timeout (0: 5 minutes).
	Wait    bool
	Timeout time.Duration
	// KeepOnFailure keeps what Up created when it fails, for inspection;
	// by default Up deletes it again.
	KeepOnFailure bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Progress, when not nil, receives each change of a workload's state
	// while Up waits.
	Progress func(Event)
	// Concurrency bounds the parallel applies within a kind (0: 8).
	Concurrency int
	// PollInterval is the period of the readiness checks (0: 1s).
	PollInterval time.Duration
	// PruneVolumes lets Up prune the system's PersistentVolumeClaims that
	// Objects no longer has, as down --volumes deletes them; without it
	// they are kept.
	PruneVolumes bool
	// Pruned, when not nil, receives each object ("Kind namespace/name")
	// that Up deletes because Objects no longer has it.
	Pruned func(object string)
}

// normalize checks opts and fills in the defaults.
func (opts *UpOptions) normalize() error {
	if err := ValidateGUID(opts.GUID); err != nil {
		return err
	}
	if opts.System == "" {
		return errors.New("the system has no name")
	}
	if opts.Namespace == "" {
		opts.Namespace = NamespaceFor(opts.System, opts.GUID)
		opts.CreateNamespace = true
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	return CheckPodSecurity(opts.SecurityLevel, opts.Objects)
}

// UpError is why Up failed.
type UpError struct {
	// GUID is the system's.
	GUID string
	// Object is the object that failed ("Kind namespace/name"), if one did.
	Object string
	// Err is the API server's error, or the timeout.
	Err error
	// Events are the Warning events and waiting reasons of the system's
	// pods and workloads, oldest first.
	Events []string
	// Kept is true when KeepOnFailure kept the objects.
	Kept bool
	// RolledBack counts the objects deleted by the roll-back; RollbackErr
	// is what went wrong while rolling back.
	RolledBack  int
	RollbackErr error
}

// Error says what failed, what the cluster said about it, and what was
// done about what Up had created.
func (e *UpError) Error() string {
	var b strings.Builder
	if e.Object != "" {
		fmt.Fprintf(&b, "%s: ", e.Object)
	}
	b.WriteString(e.Err.Error())
	for _, ev := range e.Events {
		b.WriteString("\n  " + ev)
	}
	switch {
	case e.Kept:
		fmt.Fprintf(&b, "\nsystem %s kept for inspection (--keep-on-failure); remove it with: tycho down %s", e.GUID, e.GUID)
	case e.RollbackErr != nil:
		fmt.Fprintf(&b, "\nrolling back system %s: %v; remove the rest with: tycho down %s", e.GUID, e.RollbackErr, e.GUID)
	default:
		fmt.Fprintf(&b, "\nrolled back: deleted the %d object(s) created for system %s", e.RolledBack, e.GUID)
	}
	return b.String()
}

// Unwrap returns the API server's error or the timeout.
func (e *UpError) Unwrap() error { return e.Err }

// up is the state of one Up.
type up struct {
	c     *Client
	opts  UpOptions
	ns    string
	ownNS bool // Tycho manages the namespace

	mu      sync.Mutex
	created []item // in apply order
	// recorded is set once the record is applied: from then on, a record
	// that is gone means the system is being deleted
	recorded atomic.Bool
}

// Up starts a system: it makes sure the namespace exists, records the
// system, server-side applies every object in order and, with Wait, waits
// for the workloads. Applying the same objects again changes nothing; the
// objects of the system that Objects no longer has are then pruned (see
// prune). On failure it deletes every object it created (unless
// KeepOnFailure) and returns an *UpError naming the failing object with
// the API server's message.
func Up(ctx context.Context, c *Client, opts UpOptions) (*System, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if opts.ModelHash == "" {
		h, err := ModelHash(opts.Objects)
		if err != nil {
			return nil, err
		}
		opts.ModelHash = h
	}
	if err := CheckReferences(ctx, c, opts); err != nil {
		return nil, err
	}
	u := &up{c: c, opts: opts, ns: opts.Namespace}
	items, err := u.items()
	if err != nil {
		return nil, err
	}
	nsItem, nsExists, err := u.namespace(ctx)
	if err != nil {
		return nil, err
	}
	u.ownNS = nsItem != nil
	existing := map[string]bool{}
	var created time.Time
	recExists := false
	if nsExists {
		if existing, err = u.existing(ctx, items); err != nil {
			return nil, err
		}
		if created, recExists, err = u.record(ctx); err != nil {
			return nil, err
		}
	} else if err := u.elsewhere(ctx); err != nil {
		return nil, err
	}
	if created.IsZero() {
		created = opts.Now().UTC().Truncate(time.Second)
	}
	rec, err := u.recordItem(created)
	if err != nil {
		return nil, err
	}
	existing[rec.key()] = recExists
	// the namespace first, then the record, so that Down finds even a
	// system whose Up was killed half way
	var head []item
	if nsItem != nil {
		head = append(head, *nsItem)
	}
	head = append(head, rec)
	done := func(it item) {
		u.mu.Lock()
		defer u.mu.Unlock()
		if it.namespaced() && !existing[it.key()] || !it.namespaced() && !nsExists {
			u.created = append(u.created, it)
		}
	}
	failures := c.applyGroups(ctx, head, 1, done, nil)
	if len(failures) == 0 {
		u.recorded.Store(true)
		// a deletion of the system marks it: stop at the next kind
		failures = c.applyGroups(ctx, items, opts.Concurrency, done, func() error { return u.deleting(ctx) })
	}
	if len(failures) == 0 {
		if err := u.deleting(ctx); err != nil {
			failures = []applyFailure{{object: rec.id(), err: err}}
		}
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool { return failures[i].object < failures[j].object })
		errs := make([]error, 0, len(failures))
		for _, f := range failures[1:] {
			errs = append(errs, fmt.Errorf("%s: %w", f.object, f.err))
		}
		err := failures[0].err
		if len(errs) > 0 {
			err = errors.Join(append([]error{err}, errs...)...)
		}
		return nil, u.fail(ctx, failures[0].object, err)
	}
	if opts.Wait {
		if obj, err := u.wait(ctx, items); err != nil {
			return nil, u.fail(ctx, obj, err)
		}
	}
	if nsExists {
		if err := u.prune(ctx, items); err != nil {
			return nil, err
		}
	}
	systems, err := Status(ctx, c, StatusOptions{GUID: opts.GUID, Namespace: u.ns})
	if err != nil {
		return nil, fmt.Errorf("reading the state of system %s: %w", opts.GUID, err)
	}
	if len(systems) != 1 {
		return nil, fmt.Errorf("system %s: not found after applying it", opts.GUID)
	}
	return &systems[0], nil
}

// items converts the objects, placing each namespaced one in the system's
// namespace.
func (u *up) items() ([]item, error) {
	var items []item
	for _, o := range u.opts.Objects {
		it, err := u.c.toItem(o)
		if err != nil {
			return nil, err
		}
		if !it.namespaced() {
			if it.obj.GetKind() == "Namespace" && it.obj.GetName() == u.ns {
				continue // Up makes the namespace itself
			}
			return nil, fmt.Errorf("%s: Tycho applies only namespaced objects and the system's namespace", it.id())
		}
		switch ns := it.obj.GetNamespace(); ns {
		case "":
			it.obj.SetNamespace(u.ns)
		case u.ns:
		default:
			return nil, fmt.Errorf("%s: not in the system's namespace %s", it.id(), u.ns)
		}
		if got := it.obj.GetLabels()[kubernetes.LabelGUID]; got != u.opts.GUID {
			return nil, fmt.Errorf("%s: labelled %s=%q, want %q (compile with the system's GUID)", it.id(), kubernetes.LabelGUID, got, u.opts.GUID)
		}
		items = append(items, it)
	}
	return items, nil
}

// namespace checks the system's namespace: it returns the Namespace to
// apply when Up owns it, and whether it exists. A namespace that another
// system owns is an error, as is a missing one that Up must not create.
func (u *up) namespace(ctx context.Context) (*item, bool, error) {
	ns, err := u.c.Dynamic.Resource(gvrNamespaces).Get(ctx, u.ns, metav1.GetOptions{})
	exists := err == nil
	switch {
	case isNotFound(err) && !u.opts.CreateNamespace:
		return nil, false, fmt.Errorf("namespace %s not found (leave out -n, or add --create-namespace, to have Tycho create it)", u.ns)
	case err != nil && !isNotFound(err):
		return nil, false, fmt.Errorf("reading namespace %s: %w", u.ns, err)
	}
	if exists {
		owner := ns.GetLabels()[kubernetes.LabelGUID]
		switch {
		case owner != "" && owner != u.opts.GUID:
			return nil, true, fmt.Errorf("namespace %s belongs to system %s", u.ns, owner)
		case owner == "":
			return nil, true, nil // not ours: leave it be
		case ns.GetLabels()[LabelDeleting] != "" || ns.GetDeletionTimestamp() != nil:
			return nil, true, fmt.Errorf("system %s: %w (namespace %s)", u.opts.GUID, ErrDeleting, u.ns)
		}
	} else if !u.opts.CreateNamespace {
		return nil, false, nil
	}
	labels := map[string]string{
		kubernetes.LabelManagedBy: kubernetes.ManagedBy,
		kubernetes.LabelPartOf:    kubernetes.DNSLabel(u.opts.System, 63),
		kubernetes.LabelGUID:      u.opts.GUID,
		kubernetes.LabelExecutor:  "tycho",
	}
	if lvl := u.opts.SecurityLevel; lvl != "" {
		labels["pod-security.kubernetes.io/enforce"] = lvl
		labels["pod-security.kubernetes.io/warn"] = lvl
	}
	it, err := u.c.toItem(&corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: u.ns, Labels: labels},
	})
	if err != nil {
		return nil, exists, err
	}
	return &it, exists, nil
}

// existing lists the objects of the kinds to apply that exist in the
// namespace already: those of this system are updated, any other with the
// name of one of ours is a conflict.
func (u *up) existing(ctx context.Context, items []item) (map[string]bool, error) {
	gvrs := map[schema.GroupVersionResource]bool{}
	for _, it := range items {
		gvrs[it.mapping.Resource] = true
	}
	found := map[string]*unstructured.Unstructured{}
	for gvr := range gvrs {
		list, err := u.c.Dynamic.Resource(gvr).Namespace(u.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", gvr.Resource, u.ns, err)
		}
		for i := range list.Items {
			found[objKey(gvr, list.Items[i].GetName())] = &list.Items[i]
		}
	}
	ours := map[string]bool{}
	var conflicts []string
	for _, it := range items {
		o, ok := found[it.key()]
		if !ok {
			continue
		}
		switch owner := o.GetLabels()[kubernetes.LabelGUID]; owner {
		case u.opts.GUID:
			ours[it.key()] = true
		case "":
			conflicts = append(conflicts, it.id()+" exists and is not part of a Tycho system")
		default:
			conflicts = append(conflicts, it.id()+" belongs to system "+owner)
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return nil, fmt.Errorf("namespace %s: %s", u.ns, strings.Join(conflicts, "; "))
	}
	return ours, nil
}

// record reads the creation time of an existing record of the system, so
// that a second Up keeps it (and changes nothing).
func (u *up) record(ctx context.Context) (time.Time, bool, error) {
	cm, err := u.c.Dynamic.Resource(gvrConfigMaps).Namespace(u.ns).Get(ctx, RecordName(u.opts.GUID), metav1.GetOptions{})
	if isNotFound(err) {
		return time.Time{}, false, u.elsewhere(ctx)
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading the record of system %s: %w", u.opts.GUID, err)
	}
	if cm.GetLabels()[LabelDeleting] != "" {
		return time.Time{}, false, fmt.Errorf("system %s: %w", u.opts.GUID, ErrDeleting)
	}
	created, _, _ := unstructured.NestedString(cm.Object, "data", keyCreated)
	t, _ := time.Parse(time.RFC3339, created)
	return t, true, nil
}

// elsewhere refuses to start a system whose GUID runs in another
// namespace. Without the right to list all namespaces, it cannot tell and
// lets it be.
func (u *up) elsewhere(ctx context.Context) error {
	list, err := u.c.Dynamic.Resource(gvrConfigMaps).List(ctx, metav1.ListOptions{LabelSelector: recordSelector(u.opts.GUID)})
	if apierrors.IsForbidden(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking for system %s: %w", u.opts.GUID, err)
	}
	for _, cm := range list.Items {
		if ns := cm.GetNamespace(); ns != u.ns {
			return fmt.Errorf("system %s runs in namespace %s already (up -n %s to update it)", u.opts.GUID, ns, ns)
		}
	}
	return nil
}

// recordItem is the system's record.
func (u *up) recordItem(created time.Time) (item, error) {
	own := "false"
	if u.ownNS {
		own = "true"
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: RecordName(u.opts.GUID), Namespace: u.ns, Labels: map[string]string{
			kubernetes.LabelManagedBy: kubernetes.ManagedBy,
			kubernetes.LabelPartOf:    kubernetes.DNSLabel(u.opts.System, 63),
			kubernetes.LabelComponent: RecordComponent,
			kubernetes.LabelGUID:      u.opts.GUID,
			kubernetes.LabelExecutor:  "tycho",
		}},
		Data: map[string]string{
			keySystem:       u.opts.System,
			keyGUID:         u.opts.GUID,
			keyNamespace:    u.ns,
			keyOwnNamespace: own,
			keyModelHash:    u.opts.ModelHash,
			keyCreated:      created.UTC().Format(time.RFC3339),
		},
	}
	return u.c.toItem(cm)
}

// fail reports a failed Up and rolls back what it created.
func (u *up) fail(ctx context.Context, object string, err error) error {
	// the roll-back must run even when ctx is what ended the Up
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	e := &UpError{GUID: u.opts.GUID, Object: object, Err: err}
	if errors.Is(err, ErrDeleting) || u.deleting(ctx) != nil {
		// the system is being deleted: whatever failed, stop, and delete
		// what Up made in bulk, as the deletion does
		if !errors.Is(err, ErrDeleting) {
			e.Err = fmt.Errorf("%w, so Up stopped: %w", ErrDeleting, err)
		}
		u.mu.Lock()
		e.RolledBack = len(u.created)
		u.mu.Unlock()
		e.RollbackErr = deleteKindsIn(ctx, u.c, u.opts.GUID, u.ns, nil, false, true)
		return e
	}
	e.Events = diagnose(ctx, u.c, u.ns, u.opts.GUID)
	if u.opts.KeepOnFailure {
		e.Kept = true
		return e
	}
	e.RolledBack, e.RollbackErr = u.rollback(ctx)
	return e
}

// deleting tells whether a deletion of the system started since Up
// applied its record: the record is marked, or gone. A failure to read it
// is no answer (nil): the applies that follow fail alike.
func (u *up) deleting(ctx context.Context) error {
	cm, err := u.c.Dynamic.Resource(gvrConfigMaps).Namespace(u.ns).Get(ctx, RecordName(u.opts.GUID), metav1.GetOptions{})
	switch {
	case isNotFound(err) && u.recorded.Load():
		return fmt.Errorf("system %s: %w (its record is gone)", u.opts.GUID, ErrDeleting)
	case err != nil:
		return nil
	case cm.GetLabels()[LabelDeleting] != "":
		return fmt.Errorf("system %s: %w", u.opts.GUID, ErrDeleting)
	}
	return nil
}

// rollback deletes the created objects in reverse order and waits until
// they are gone, then does the same with a created namespace.
func (u *up) rollback(ctx context.Context) (int, error) {
	u.mu.Lock()
	created := append([]item(nil), u.created...)
	u.mu.Unlock()
	var objects, namespaces []item
	for i := len(created) - 1; i >= 0; i-- {
		if created[i].namespaced() {
			objects = append(objects, created[i])
		} else {
			namespaces = append(namespaces, created[i])
		}
	}
	for _, phase := range [][]item{objects, namespaces} {
		var errs []error
		for _, it := range phase {
			if err := deleteForeground(ctx, u.c.resource(it), it.obj.GetName()); err != nil {
				errs = append(errs, fmt.Errorf("deleting %s: %w", it.id(), err))
				if !isAPIStatus(err) {
					break // the server is out of reach: the others would fail alike
				}
			}
		}
		if len(errs) > 0 {
			return 0, errors.Join(errs...)
		}
		err := poll(ctx, u.opts.PollInterval, func(ctx context.Context) (bool, error) {
			for _, it := range phase {
				_, err := u.c.resource(it).Get(ctx, it.obj.GetName(), metav1.GetOptions{})
				if err == nil {
					return false, nil
				}
				if !isNotFound(err) {
					return false, err
				}
			}
			return true, nil
		})
		if err != nil {
			return 0, fmt.Errorf("waiting for the deletion: %w", err)
		}
	}
	return len(created), nil
}

func isNotFound(err error) bool { return err != nil && apierrors.IsNotFound(err) }

// isAPIStatus tells an answer of the API server from a failure to reach it.
func isAPIStatus(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s)
}

// poll calls cond every interval until it is true, it fails, or ctx ends.
func poll(ctx context.Context, interval time.Duration, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
