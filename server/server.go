package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/executor"
)

// Options configure a Server.
type Options struct {
	// Systems is the cluster side; required.
	Systems Systems
	// Tokens are the accepted bearer tokens. Without any, New fails
	// unless Insecure is set.
	Tokens []string
	// Insecure serves without authentication (for a local test only).
	Insecure bool
	// MaxBodyBytes limits request bodies (0: 1 MiB).
	MaxBodyBytes int64
	// Compile are the compile settings of every start.
	Compile CompileOptions
	// Resources bound the compute and storage a request may ask for
	// (zero fields: the defaults).
	Resources ResourceLimits
	// StartTimeout bounds the wait of a start, DeleteTimeout that of a
	// delete (0: 5 minutes each).
	StartTimeout  time.Duration
	DeleteTimeout time.Duration
	// NewGUID makes the GUID of a new system (nil: executor.NewGUID).
	NewGUID func() (string, error)
	// Log receives the server's log (nil: discarded). Errors are always
	// logged; with Debug, every request too, with its id and duration.
	Log   *slog.Logger
	Debug bool
	// Version is reported by the tycho_api_build_info metric.
	Version string
	// Limits bound the work of clients and requests.
	Limits Limits
}

// DefaultMaxBodyBytes is the default limit of request bodies.
const DefaultMaxBodyBytes = 1 << 20

// Server is Tycho's HTTP API, an http.Handler.
type Server struct {
	opts     Options
	doc      *openapi3.T
	docJSON  []byte
	docHTML  []byte
	mux      *http.ServeMux
	routes   []*route
	metrics  *metrics
	tokens   [][sha256.Size]byte
	stopping atomic.Bool
	filter   *openapi3filter.Options
	flight   statusFlight
	clients  clientLimiter
	compiles *compileSlots
}

// route is one operation of the OpenAPI document and its handler.
type route struct {
	// method and path are the operation's, as the document writes them.
	method string
	path   string
	params []string // path parameter names
	op     *openapi3.Operation
	rr     *routers.Route
	auth   bool
	handle func(*call)
	// timeout bounds the handler (0: none).
	timeout time.Duration
}

// pattern is the route's http.ServeMux pattern.
func (rt *route) pattern() string {
	p := rt.path
	if strings.HasSuffix(p, "/") {
		p += "{$}" // exactly this path, not the subtree
	}
	return rt.method + " " + p
}

var paramRE = regexp.MustCompile(`\{([^}]+)\}`)

// New builds a Server: it loads and validates the OpenAPI document and
// makes a route of each of its operations.
func New(opts Options) (*Server, error) {
	if opts.Systems == nil {
		return nil, errors.New("server: no Systems")
	}
	if len(opts.Tokens) == 0 && !opts.Insecure {
		return nil, errors.New("server: no bearer tokens (serving without authentication must be asked for)")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 5 * time.Minute
	}
	if opts.DeleteTimeout <= 0 {
		opts.DeleteTimeout = 5 * time.Minute
	}
	if opts.NewGUID == nil {
		opts.NewGUID = func() (string, error) { return executor.NewGUID(nil) }
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	c := &opts.Compile
	if c.Expose == "" {
		c.Expose = ast.ExposeLoadBalancer
	}
	if c.Security == "" {
		c.Security = "baseline"
	}
	if c.NetworkPolicy == "" {
		c.NetworkPolicy = "default"
	}
	if c.VolumeSize <= 0 {
		c.VolumeSize = 1 << 30
	}
	opts.Limits.normalize()
	opts.Resources = opts.Resources.withDefaults()
	if err := opts.Resources.checkOptions(*c); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), metrics: newMetrics(opts.Version),
		clients: clientLimiter{max: opts.Limits.PerClient}, compiles: newCompileSlots(opts.Limits)}
	for _, t := range opts.Tokens {
		s.tokens = append(s.tokens, sha256.Sum256([]byte(t)))
	}
	doc, err := LoadDocument()
	if err != nil {
		return nil, err
	}
	s.doc = doc
	if s.docJSON, err = yaml.YAMLToJSON(api.OpenAPIYAML); err != nil {
		return nil, fmt.Errorf("server: converting the OpenAPI document to JSON: %w", err)
	}
	if s.docHTML, err = docsPage(doc); err != nil {
		return nil, err
	}
	s.filter = &openapi3filter.Options{
		// authentication is done before validation, by the server
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
		SkipSettingDefaults: true,
	}
	handlers := s.handlers()
	used := map[string]bool{}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			h, ok := handlers[op.OperationID]
			if !ok {
				return nil, fmt.Errorf("server: operation %s %s (%s) has no handler", method, path, op.OperationID)
			}
			used[op.OperationID] = true
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			rt := &route{method: method, path: path, op: op, auth: len(security) > 0, handle: h.handle, timeout: h.timeout,
				rr: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}}
			for _, m := range paramRE.FindAllStringSubmatch(path, -1) {
				rt.params = append(rt.params, m[1])
			}
			s.routes = append(s.routes, rt)
		}
	}
	for id := range handlers {
		if !used[id] {
			return nil, fmt.Errorf("server: handler %s has no operation in the OpenAPI document", id)
		}
	}
	sort.Slice(s.routes, func(i, j int) bool { return s.routes[i].pattern() < s.routes[j].pattern() })
	for _, rt := range s.routes {
		s.mux.Handle(rt.pattern(), s.serveRoute(rt))
	}
	s.mux.HandleFunc("/", s.unrouted)
	return s, nil
}

// unrouted answers a request that no operation routes: 405 with the
// allowed methods when the path has operations, else 404.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	c := &call{s: s, w: w, r: r, info: infoOf(r.Context())}
	var allow []string
	for _, rt := range s.routes {
		probe := r.Clone(r.Context())
		probe.Method = rt.method
		if _, p := s.mux.Handler(probe); p == rt.pattern() {
			allow = append(allow, rt.method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		c.fail(http.StatusMethodNotAllowed, "", fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")), nil)
		return
	}
	c.fail(http.StatusNotFound, "", fmt.Sprintf("no operation %s %s (see /openapi.json)", r.Method, r.URL.Path), nil)
}

// LoadDocument loads and validates the OpenAPI document of package api.
func LoadDocument() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("server: loading the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("server: the OpenAPI document is invalid: %w", err)
	}
	return doc, nil
}

// SetStopping makes /readyz answer 503, as the server does once it
// shuts down, so that no new traffic comes.
func (s *Server) SetStopping() { s.stopping.Store(true) }

// MaxTimeout is the longest time an operation may take; an http.Server's
// WriteTimeout must be longer.
func (s *Server) MaxTimeout() time.Duration {
	var max time.Duration
	for _, rt := range s.routes {
		if rt.timeout > max {
			max = rt.timeout
		}
	}
	return max
}

// reqInfo is what the outer middleware learns of a request.
type reqInfo struct {
	id    string
	route string
}

type infoKey struct{}

func infoOf(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ServeHTTP serves a request: it gives it an id (X-Request-Id, kept from
// the request when well-formed), counts and times it, logs it with
// Debug, and turns a panic into a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !requestIDRE.MatchString(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	info := &reqInfo{id: id, route: "other"}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	rec.Header().Set("X-Request-Id", id)
	s.metrics.inFlight.Add(1)
	defer func() {
		s.metrics.inFlight.Add(-1)
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.opts.Log.Error("panic", "id", id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rec.wrote {
				c := &call{s: s, w: rec, r: r, info: info}
				c.fail(http.StatusInternalServerError, "", "internal error", nil)
			}
		}
		d := time.Since(start)
		s.metrics.observe(info.route, r.Method, rec.status, d)
		if s.opts.Debug {
			s.opts.Log.Info("request", "id", id, "method", r.Method, "path", r.URL.Path, "route", info.route,
				"status", rec.status, "bytes", rec.bytes, "duration", d.Round(time.Microsecond).String(), "remote", r.RemoteAddr)
		}
	}()
	s.mux.ServeHTTP(rec, r)
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

// WriteHeader records the status.
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write counts the bytes written.
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// serveRoute authenticates, reads and validates a request of rt before
// its handler runs.
func (s *Server) serveRoute(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoOf(r.Context())
		info.route = rt.path
		c := &call{s: s, w: w, r: r, rt: rt, info: info}
		if rt.auth && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tycho"`)
			c.fail(http.StatusUnauthorized, "", "missing or wrong bearer token (Authorization: Bearer <token>)", nil)
			return
		}
		if rt.auth {
			release, ok := s.clients.acquire(r)
			if !ok {
				s.metrics.limited.Add(1)
				w.Header().Set("Retry-After", "1")
				c.fail(http.StatusTooManyRequests, "", fmt.Sprintf("too many requests in flight: this client may have %d at once", s.opts.Limits.PerClient), nil)
				return
			}
			defer release()
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				c.fail(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body larger than %d bytes", mbe.Limit), nil)
				return
			}
			c.fail(http.StatusBadRequest, "", "reading the request body: "+err.Error(), nil)
			return
		}
		c.body = body
		if ct := r.Header.Get("Content-Type"); rt.op.RequestBody != nil && len(body) > 0 && isJSON(ct) {
			// once, before the OpenAPI validation decodes the body (a body
			// of another type is answered 415 by the validation)
			if msg := checkCharset(ct); msg != "" {
				c.fail(http.StatusUnsupportedMediaType, "", msg, nil)
				return
			}
			if field, msg := checkJSON(body); msg != "" {
				c.fail(http.StatusBadRequest, field, msg, nil)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		params := map[string]string{}
		for _, p := range rt.params {
			params[p] = r.PathValue(p)
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: rt.rr, Options: s.filter}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			status, field, msg := describeValidation(err)
			c.fail(status, field, msg, nil)
			return
		}
		if rt.timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
			defer cancel()
			c.r = r.WithContext(ctx)
		}
		rt.handle(c)
	})
}

// authorized checks the bearer token of r in constant time (against the
// SHA-256 of every token, so that neither a token's length nor which one
// matched shows in the timing).
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Insecure && len(s.tokens) == 0 {
		return true
	}
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	ok := 0
	for _, t := range s.tokens {
		ok |= subtle.ConstantTimeCompare(got[:], t[:])
	}
	return ok == 1
}

// describeValidation turns an openapi3filter error into a status, the
// field at fault and a message naming it.
func describeValidation(err error) (status int, field, msg string) {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return http.StatusBadRequest, "", "invalid request: " + err.Error()
	}
	if p := re.Parameter; p != nil {
		reason := re.Reason
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			reason = schemaReason(se)
		} else if re.Err != nil && reason == "" {
			reason = re.Err.Error()
		}
		return http.StatusBadRequest, p.Name, fmt.Sprintf("%s parameter %s: %s", p.In, p.Name, reason)
	}
	switch {
	case strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
		return http.StatusUnsupportedMediaType, "", "the request body must be application/json"
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return http.StatusBadRequest, "", "the request body is required"
	}
	var syn *json.SyntaxError
	if errors.As(re.Err, &syn) {
		return http.StatusBadRequest, "", fmt.Sprintf("the request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		cause := pe.RootCause()
		if cause == nil {
			cause = errors.New(pe.Reason)
		}
		return http.StatusBadRequest, "", "the request body is not valid JSON: " + cause.Error()
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		field = strings.Join(se.JSONPointer(), ".")
		reason := schemaReason(se)
		if field == "" {
			return http.StatusBadRequest, "", "request body: " + reason
		}
		return http.StatusBadRequest, field, field + ": " + reason
	}
	return http.StatusBadRequest, "", "invalid request: " + err.Error()
}

// schemaReason says why a value does not match its schema, in words that
// name what it must be.
func schemaReason(se *openapi3.SchemaError) string {
	if (se.SchemaField == "oneOf" || se.SchemaField == "anyOf") && se.Schema != nil {
		var kinds []string
		for _, ref := range append(append([]*openapi3.SchemaRef(nil), se.Schema.OneOf...), se.Schema.AnyOf...) {
			if ref.Value != nil && ref.Value.Type != nil && len(*ref.Value.Type) > 0 {
				k := (*ref.Value.Type)[0]
				switch {
				case ref.Value.Pattern != "":
					k += " matching " + ref.Value.Pattern
				case ref.Value.Min != nil && ref.Value.Max != nil:
					k += fmt.Sprintf(" from %g to %g", *ref.Value.Min, *ref.Value.Max)
				}
				kinds = append(kinds, k)
			}
		}
		if len(kinds) > 0 {
			return "must be " + strings.Join(kinds, " or ")
		}
	}
	if se.Reason != "" {
		return se.Reason
	}
	return se.Error()
}

// call is one request being handled.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	rt   *route
	info *reqInfo
	body []byte
}

func (c *call) ctx() context.Context { return c.r.Context() }

// decode reads the validated body into v; an empty body leaves v as it is.
func (c *call) decode(v any) bool {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		c.fail(http.StatusBadRequest, "", "decoding the request body: "+err.Error(), nil)
		return false
	}
	return true
}

// ok writes a success envelope.
func (c *call) ok(status int, result any, message string) {
	b, err := json.Marshal(result)
	if err != nil {
		c.internal(fmt.Errorf("encoding the result: %w", err))
		return
	}
	c.write(status, api.Envelope{Status: api.StatusSuccess, Result: b, Message: message})
}

// fail writes an error envelope.
func (c *call) fail(status int, field, message string, diags []api.Diagnostic) {
	res := api.ErrorResult{Error: message, Field: field, Diagnostics: diags, RequestID: c.info.id}
	b, _ := json.Marshal(res) // plain data always marshals
	c.write(status, api.Envelope{Status: api.StatusError, Result: b, Message: message})
}

// internal logs a fault of the server and answers 500 without details.
func (c *call) internal(err error) {
	c.s.opts.Log.Error("internal error", "id", c.info.id, "route", c.info.route, "err", err)
	c.fail(http.StatusInternalServerError, "", "internal error (request "+c.info.id+")", nil)
}

func (c *call) write(status int, env api.Envelope) {
	b, err := json.Marshal(env)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"status":"error","result":{"error":"internal error"},"message":"internal error"}`)
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.Header().Set("X-Content-Type-Options", "nosniff")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(append(b, '\n'))
}

// systemsError answers an error of the Systems.
func (c *call) systemsError(err error) {
	var inv *InvalidError
	var up *executor.UpError
	switch {
	case errors.Is(err, api.ErrNotFound):
		c.fail(http.StatusNotFound, "", err.Error(), nil)
	case errors.As(err, &inv):
		c.fail(http.StatusBadRequest, "", err.Error(), nil)
	case errors.Is(err, context.DeadlineExceeded) && c.ctx().Err() != nil:
		c.s.opts.Log.Warn("timeout", "id", c.info.id, "route", c.info.route, "err", err)
		c.fail(http.StatusGatewayTimeout, "", "the operation did not finish in time: "+err.Error(), nil)
	case errors.As(err, &up):
		c.s.opts.Log.Warn("start failed", "id", c.info.id, "err", err)
		c.fail(http.StatusBadGateway, "", err.Error(), nil)
	default:
		c.s.opts.Log.Error("cluster error", "id", c.info.id, "route", c.info.route, "err", err)
		c.fail(http.StatusBadGateway, "", "the cluster failed: "+err.Error(), nil)
	}
}
