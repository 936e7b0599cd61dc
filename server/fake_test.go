package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/executor"
)

// fakeSystems is a Systems in memory.
type fakeSystems struct {
	mu       sync.Mutex
	systems  map[string]executor.System
	specs    []StartSpec
	deletes  []DeleteOptions
	modifies []Modification
	restarts []RestartSpec
	startErr error
	readyErr error
}

func newFake() *fakeSystems { return &fakeSystems{systems: map[string]executor.System{}} }

func (f *fakeSystems) Start(_ context.Context, spec StartSpec) (*executor.System, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.specs = append(f.specs, spec)
	sys := executor.System{Name: spec.System, GUID: spec.GUID, Namespace: spec.Namespace, OwnNamespace: true,
		Created: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), Ready: 1, Total: 1,
		Services:  []executor.Service{{Name: "web", Kind: "Deployment", Ready: true, State: "1/1 available"}},
		Endpoints: []executor.Endpoint{{Service: "web", IP: "198.51.100.7", Port: 31333, Protocol: "TCP"}}}
	f.systems[spec.GUID] = sys
	return &sys, nil
}

func (f *fakeSystems) Status(_ context.Context, guid string) ([]executor.System, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []executor.System
	for g, s := range f.systems {
		if guid == "" || g == guid {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GUID < out[j].GUID })
	return out, nil
}

// Delete deletes at once with Wait; without, it leaves the system
// deleting, as a cluster would for a while.
func (f *fakeSystems) Delete(_ context.Context, guid string, opts DeleteOptions) (Deletion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.systems[guid]
	if !ok {
		return Deletion{}, fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
	}
	f.deletes = append(f.deletes, opts)
	if !opts.Wait {
		s.State = executor.StateDeleting
		f.systems[guid] = s
		return Deletion{Deleted: 7, Pending: true}, nil
	}
	delete(f.systems, guid)
	return Deletion{Deleted: 7}, nil
}

func (f *fakeSystems) Modify(_ context.Context, guid string, m Modification) ([]Patch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.systems[guid]; !ok {
		return nil, fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
	}
	f.modifies = append(f.modifies, m)
	p, err := podTemplatePatch(m, []string{"web"})
	if err != nil {
		return nil, err
	}
	return []Patch{{Kind: "Deployment", Namespace: "ns", Name: "web", Patch: p}}, nil
}

func (f *fakeSystems) Ready(context.Context) error { return f.readyErr }

func (f *fakeSystems) Services(_ context.Context, guid string) ([]executor.ServiceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.systems[guid]; !ok {
		return nil, fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
	}
	return []executor.ServiceStatus{{Service: "web", Kind: "Deployment", Ready: 0, Desired: 1, Restarts: 3, State: "CrashLoopBackOff",
		Ports: []string{"80/tcp"}, Endpoints: []string{"198.51.100.7:31333"}}}, nil
}

func (f *fakeSystems) Restart(_ context.Context, guid string, r RestartSpec) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.systems[guid]; !ok {
		return nil, fmt.Errorf("system %s: %w", guid, api.ErrNotFound)
	}
	f.restarts = append(f.restarts, r)
	for _, s := range r.Services {
		if s != "web" {
			return nil, &InvalidError{Err: fmt.Errorf("system %s has no service %s (its services: web)", guid, s)}
		}
	}
	return []string{"Deployment/web"}, nil
}

// created counts the systems started and the deletes and modifies done.
func (f *fakeSystems) created() (starts, deletes, modifies int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.specs), len(f.deletes), len(f.modifies)
}

// add puts a running system into the fake.
func (f *fakeSystems) add(guid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.systems[guid] = executor.System{Name: "demo", GUID: guid, Namespace: "demo-" + guid[:8], Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Ready: 0, Total: 1, Services: []executor.Service{{Name: "web", Kind: "Deployment", State: "0/1 available"}}, Endpoints: []executor.Endpoint{}}
}

const (
	testToken = "s3cret-token-0123456789"
	guidA     = "0123456789abcdef0123456789abcdef"
	guidB     = "fedcba9876543210fedcba9876543210"
	guidNone  = "00000000000000000000000000000000"
)

// newTestServer makes a Server over a fake, with GUIDs 1, 2, … in hex.
func newTestServer(t *testing.T, f *fakeSystems, mod func(*Options)) *Server {
	t.Helper()
	var mu sync.Mutex
	n := 0
	opts := Options{Systems: f, Tokens: []string{testToken}, MaxBodyBytes: 64 << 10,
		NewGUID: func() (string, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("%032x", n), nil
		}}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// request is one test request.
type request struct {
	method, path string
	body         string
	// header overrides; "Authorization" defaults to the test token and
	// "Content-Type" to application/json when there is a body.
	header map[string]string
}

// do serves req and validates the response against the OpenAPI
// document.
func do(t *testing.T, s *Server, req request) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r := httptest.NewRequest(req.method, req.path, body)
	r.Header.Set("Authorization", "Bearer "+testToken)
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	validateResponse(t, s, r, w)
	return w
}

// validateResponse checks a response against the OpenAPI document: its
// status must be declared, and its body match the schema. A request that
// no operation routes must get the JSON error envelope.
func validateResponse(t *testing.T, s *Server, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	validateStatus(t, s, r, w.Code, w.Header(), w.Body.Bytes())
}

// validateStatus is validateResponse of a status, header and body.
func validateStatus(t *testing.T, s *Server, r *http.Request, code int, header http.Header, body []byte) {
	t.Helper()
	_, pattern := s.mux.Handler(r)
	var rt *route
	for _, x := range s.routes {
		if x.pattern() == pattern {
			rt = x
		}
	}
	if rt == nil {
		var env api.Envelope
		if err := json.Unmarshal(body, &env); err != nil || env.Status != api.StatusError {
			t.Errorf("%s %s: unrouted response is not an error envelope: %s", r.Method, r.URL.Path, body)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, Route: rt.rr, Options: &openapi3filter.Options{}},
		Status:                 code,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: response %d does not match the OpenAPI document: %v\nbody: %s", r.Method, r.URL.Path, code, err, body)
	}
}

// validating wraps s so that every response it serves is validated
// against the OpenAPI document, for tests that go through a real HTTP
// server.
func validating(t *testing.T, s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		validateResponse(t, s, r, rec)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// envelope decodes a response's envelope and its result into result
// (when not nil).
func envelope(t *testing.T, w *httptest.ResponseRecorder, result any) api.Envelope {
	t.Helper()
	var env api.Envelope
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("decoding the envelope: %v\n%s", err, w.Body)
	}
	if result != nil {
		if err := json.Unmarshal(env.Result, result); err != nil {
			t.Fatalf("decoding the result: %v\n%s", err, env.Result)
		}
	}
	return env
}

var errBoom = errors.New("boom")
