package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/executor"
)

// handler handles one operation of the OpenAPI document.
type handler struct {
	handle func(*call)
	// timeout bounds the operation (0: none).
	timeout time.Duration
}

// handlers maps the operationIds of the OpenAPI document to handlers;
// New refuses a document with an operation missing here, and the reverse.
func (s *Server) handlers() map[string]handler {
	const quick = time.Minute
	// a start may wait, then roll back; a delete waits
	start := s.opts.StartTimeout + 2*time.Minute
	del := s.opts.DeleteTimeout + time.Minute
	return map[string]handler{
		"startSystem":        {func(c *call) { s.start(c, http.StatusOK) }, start},
		"createSystem":       {func(c *call) { s.start(c, http.StatusCreated) }, start},
		"statusSystems":      {s.statusLegacy, quick},
		"listSystems":        {func(c *call) { s.status(c, "", false) }, quick},
		"getSystem":          {func(c *call) { s.status(c, c.r.PathValue("guid"), true) }, quick},
		"deleteSystemLegacy": {s.deleteLegacy, del},
		"deleteSystem":       {s.deleteResource, del},
		"modifySystemLegacy": {s.modifyLegacy, quick},
		"patchSystem":        {s.patchResource, quick},
		"listServices":       {s.services, quick},
		"restartSystem":      {s.restart, start},
		"healthz":            {s.healthz, 0},
		"readyz":             {s.readyz, 0},
		"metrics":            {s.serveMetrics, 0},
		"openapiJSON":        {s.openapiJSON, 0},
		"openapiYAML":        {s.openapiYAML, 0},
		"apidocs":            {s.apidocs, 0},
	}
}

// start compiles and starts a system.
func (s *Server) start(c *call, status int) {
	var req api.StartRequest
	if !c.decode(&req) {
		return
	}
	guid, err := s.opts.NewGUID()
	if err != nil {
		c.internal(err)
		return
	}
	comp, err := run(c.ctx(), s.compiles, func(ctx context.Context) (*compiled, error) {
		return s.compileStart(ctx, &req, guid)
	})
	var fe *fieldError
	switch {
	case errors.Is(err, errCompileBusy):
		s.metrics.limited.Add(1)
		c.w.Header().Set("Retry-After", "5")
		c.fail(http.StatusServiceUnavailable, "", fmt.Sprintf("%v: no compile slot freed up, or the compile did not end, within %s; nothing was started", err, s.opts.Limits.CompileTimeout), nil)
		return
	case errors.As(err, &fe):
		c.fail(http.StatusBadRequest, fe.field, fe.Error(), nil)
		return
	case err != nil:
		c.internal(err)
		return
	case comp.diags.HasErrors():
		s.metrics.startFailed.Add(1)
		var first string
		for _, d := range comp.diags {
			if d.Severity == diag.Error {
				first = d.String()
				break
			}
		}
		n := comp.diags.Count(diag.Error)
		c.fail(http.StatusUnprocessableEntity, "system",
			fmt.Sprintf("the system does not compile (%d error(s)): %s", n, first), apiDiagnostics(comp.diags))
		return
	}
	sys, err := s.opts.Systems.Start(c.ctx(), StartSpec{
		System:        comp.name,
		GUID:          guid,
		Namespace:     comp.namespace,
		SecurityLevel: comp.security,
		Objects:       comp.objects,
		Wait:          req.Wait,
		Timeout:       s.opts.StartTimeout,
	})
	if err != nil {
		s.metrics.startFailed.Add(1)
		c.systemsError(err)
		return
	}
	s.metrics.started.Add(1)
	res := api.StartResult{
		Name:        sys.Name + "-" + sys.GUID,
		SID:         sys.GUID,
		System:      sys.Name,
		Namespace:   sys.Namespace,
		Containers:  map[string]api.Container{},
		Endpoints:   apiEndpoints(sys.Endpoints),
		Ready:       sys.Ready == sys.Total,
		Diagnostics: apiDiagnostics(comp.diags),
	}
	for _, e := range sys.Endpoints {
		if _, ok := res.Containers[e.Service]; !ok {
			res.Containers[e.Service] = api.Container{IPAddress: e.IP, Port: e.Port}
		}
	}
	if status == http.StatusCreated {
		c.w.Header().Set("Location", "/v1/systems/"+sys.GUID)
	}
	c.ok(status, res, "Started system "+res.Name)
}

func apiEndpoints(eps []executor.Endpoint) []api.Endpoint {
	out := make([]api.Endpoint, len(eps))
	for i, e := range eps {
		out[i] = api.Endpoint{Service: e.Service, IPAddress: e.IP, Port: e.Port, Protocol: e.Protocol, URL: e.URL}
	}
	return out
}

// statusLegacy is POST /system/status.
func (s *Server) statusLegacy(c *call) {
	var req api.StatusRequest
	if !c.decode(&req) {
		return
	}
	guid := ""
	if req.Name != nil {
		guid = *req.Name
	}
	s.status(c, guid, false)
}

// status reports the systems, or the one of guid; one alone answers a
// single object rather than a list.
func (s *Server) status(c *call, guid string, one bool) {
	systems, err := s.flight.do(c.ctx(), guid, func(ctx context.Context) ([]executor.System, error) {
		return s.opts.Systems.Status(ctx, guid)
	})
	if err != nil {
		c.systemsError(err)
		return
	}
	if guid != "" && len(systems) == 0 {
		c.fail(http.StatusNotFound, "", fmt.Sprintf("system %s: %v", guid, api.ErrNotFound), nil)
		return
	}
	rows := make([]api.SystemStatus, len(systems))
	for i, sys := range systems {
		rows[i] = statusRow(sys)
	}
	what := guid
	if what == "" {
		what = "None"
	}
	if one {
		c.ok(http.StatusOK, rows[0], "Get status for system "+what)
		return
	}
	c.ok(http.StatusOK, rows, "Get status for system "+what)
}

// statusRow is the original Tycho's status row of a system, with the
// state of its workloads and all its endpoints.
func statusRow(sys executor.System) api.SystemStatus {
	row := api.SystemStatus{
		Name:      sys.Name + "-" + sys.GUID,
		SID:       sys.GUID,
		System:    sys.Name,
		Namespace: sys.Namespace,
		State:     apiState(sys.State),
		IsReady:   sys.Ready == sys.Total,
		Ready:     sys.Ready,
		Total:     sys.Total,
		Services:  make([]api.ServiceState, len(sys.Services)),
		Endpoints: apiEndpoints(sys.Endpoints),
	}
	if !sys.Created.IsZero() {
		t := sys.Created.UTC()
		row.CreationTime = t.Format("01-02-2006 15:04:05")
		row.Created = t.Format(time.RFC3339)
	}
	for i, svc := range sys.Services {
		row.Services[i] = api.ServiceState{Name: svc.Name, Kind: svc.Kind, Ready: svc.Ready, State: svc.State}
	}
	if len(sys.Endpoints) > 0 {
		row.IPAddress = sys.Endpoints[0].IP
		row.Port = strconv.Itoa(int(sys.Endpoints[0].Port))
	}
	return row
}

// apiState is the API's state of a system: running unless Status says
// it is being deleted.
func apiState(state string) string {
	if state == executor.StateDeleting {
		return api.StateDeleting
	}
	return api.StateRunning
}

// deleteLegacy is POST /system/delete.
func (s *Server) deleteLegacy(c *call) {
	var req api.DeleteRequest
	if !c.decode(&req) {
		return
	}
	s.delete(c, req.Name, req.Volumes == nil || *req.Volumes, req.Wait == nil || *req.Wait)
}

// deleteResource is DELETE /v1/systems/{guid}.
func (s *Server) deleteResource(c *call) {
	q := c.r.URL.Query()
	flag := func(name string) bool {
		v, err := strconv.ParseBool(q.Get(name))
		return err != nil || v // validated: absent means true
	}
	s.delete(c, c.r.PathValue("guid"), flag("volumes"), flag("wait"))
}

// delete answers 200 once the system is gone, or 202 once its deletion
// is under way (wait=false, or the cluster is slower than the delete
// timeout), with the status resource to poll until it answers 404.
func (s *Server) delete(c *call, guid string, volumes, wait bool) {
	d, err := s.opts.Systems.Delete(c.ctx(), guid, DeleteOptions{Volumes: volumes, Wait: wait, Timeout: s.opts.DeleteTimeout})
	if err != nil {
		c.systemsError(err)
		return
	}
	s.metrics.deleted.Add(1)
	if d.Pending {
		status := "/v1/systems/" + guid
		c.w.Header().Set("Location", status)
		c.ok(http.StatusAccepted, api.DeleteResult{SID: guid, Deleted: d.Deleted, State: api.StateDeleting, StatusURL: status},
			"Deleting system "+guid+": GET "+status+" shows it deleting until it answers 404")
		return
	}
	c.ok(http.StatusOK, api.DeleteResult{SID: guid, Deleted: d.Deleted, State: api.StateDeleted}, "Deleted system "+guid)
}

// modifyLegacy is POST /system/modify.
func (s *Server) modifyLegacy(c *call) {
	var req api.ModifyRequest
	if !c.decode(&req) {
		return
	}
	s.modify(c, req.GUID, req.SystemPatch)
}

// patchResource is PATCH /v1/systems/{guid}.
func (s *Server) patchResource(c *call) {
	var p api.SystemPatch
	if !c.decode(&p) {
		return
	}
	s.modify(c, c.r.PathValue("guid"), p)
}

// reservedLabel says who owns a label key that a modify must not set
// ("" when none does): the one list of kubernetes.ReservedLabel, which
// the compiler checks in x-tycho.labels too.
func reservedLabel(k string) string { return kubernetes.ReservedLabel(k) }

func (s *Server) modify(c *call, guid string, p api.SystemPatch) {
	if len(p.Labels) == 0 && p.CPU == "" && p.Memory == "" {
		c.fail(http.StatusBadRequest, "", "nothing to modify: give labels, cpu or memory", nil)
		return
	}
	keys := make([]string, 0, len(p.Labels))
	for k := range p.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := "labels." + k
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			c.fail(http.StatusBadRequest, field, fmt.Sprintf("%s: invalid label key: %s", field, strings.Join(errs, "; ")), nil)
			return
		}
		if owner := reservedLabel(k); owner != "" {
			c.fail(http.StatusBadRequest, field, fmt.Sprintf("%s: label %s belongs to %s and cannot be changed", field, k, owner), nil)
			return
		}
		if errs := validation.IsValidLabelValue(p.Labels[k]); len(errs) > 0 {
			c.fail(http.StatusBadRequest, field, fmt.Sprintf("%s: invalid label value: %s", field, strings.Join(errs, "; ")), nil)
			return
		}
	}
	for _, q := range []struct{ field, value string }{{"cpu", p.CPU}, {"memory", p.Memory}} {
		if q.value == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.value)
		if err != nil || v.Sign() <= 0 {
			c.fail(http.StatusBadRequest, q.field, fmt.Sprintf("%s: %q is not a positive quantity (e.g. 500m, 2, 512Mi)", q.field, q.value), nil)
			return
		}
		over := s.opts.Resources.overMemory(v.Value())
		if q.field == "cpu" {
			over = s.opts.Resources.overCPU(v.MilliValue())
		}
		if over != "" {
			c.fail(http.StatusUnprocessableEntity, q.field, fmt.Sprintf("%s: %s", q.field, over), nil)
			return
		}
	}
	patches, err := s.opts.Systems.Modify(c.ctx(), guid, Modification{Labels: p.Labels, CPU: p.CPU, Memory: p.Memory})
	if err != nil {
		c.systemsError(err)
		return
	}
	res := api.ModifyResult{Patches: make([]api.Patch, len(patches))}
	for i, p := range patches {
		res.Patches[i] = api.Patch{Kind: p.Kind, Namespace: p.Namespace, Name: p.Name, Patch: p.Patch}
	}
	c.ok(http.StatusOK, res, "Modified system "+guid)
}

// services is GET /v1/systems/{guid}/services.
func (s *Server) services(c *call) {
	guid := c.r.PathValue("guid")
	rows, err := s.opts.Systems.Services(c.ctx(), guid)
	if err != nil {
		c.systemsError(err)
		return
	}
	out := make([]api.ServiceStatus, len(rows))
	for i, r := range rows {
		out[i] = api.ServiceStatus{Service: r.Service, Kind: r.Kind, Ready: r.Ready, Desired: r.Desired, Restarts: r.Restarts,
			State: r.State, Ports: r.Ports, Endpoints: r.Endpoints}
	}
	c.ok(http.StatusOK, out, "Get services of system "+guid)
}

// restart is POST /v1/systems/{guid}/restart.
func (s *Server) restart(c *call) {
	var req api.RestartRequest
	if !c.decode(&req) {
		return
	}
	guid := c.r.PathValue("guid")
	done, err := s.opts.Systems.Restart(c.ctx(), guid, RestartSpec{Services: req.Services, Wait: req.Wait, Timeout: s.opts.StartTimeout})
	if err != nil {
		c.systemsError(err)
		return
	}
	if done == nil {
		done = []string{}
	}
	c.ok(http.StatusOK, api.RestartResult{Restarted: done}, "Restarted system "+guid)
}

func (s *Server) healthz(c *call) { c.text(http.StatusOK, "text/plain; charset=utf-8", []byte("ok\n")) }

func (s *Server) readyz(c *call) {
	if s.stopping.Load() {
		c.text(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte("shutting down\n"))
		return
	}
	if err := s.opts.Systems.Ready(c.ctx()); err != nil {
		c.text(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte(err.Error()+"\n"))
		return
	}
	c.text(http.StatusOK, "text/plain; charset=utf-8", []byte("ok\n"))
}

func (s *Server) serveMetrics(c *call) {
	c.text(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", s.metrics.render())
}

func (s *Server) openapiJSON(c *call) { c.text(http.StatusOK, "application/json", s.docJSON) }

func (s *Server) openapiYAML(c *call) { c.text(http.StatusOK, "application/yaml", api.OpenAPIYAML) }

func (s *Server) apidocs(c *call) {
	c.w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	c.text(http.StatusOK, "text/html; charset=utf-8", s.docHTML)
}

// text writes a response that is not an envelope.
func (c *call) text(status int, contentType string, b []byte) {
	c.w.Header().Set("Content-Type", contentType)
	c.w.Header().Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}
