package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Envelope statuses.
const (
	StatusSuccess = "success"
	StatusError   = "error"
)

// Envelope wraps every response of the API.
type Envelope struct {
	// Status is StatusSuccess or StatusError.
	Status string `json:"status"`
	// Result is the call's result, or an ErrorResult.
	Result json.RawMessage `json:"result"`
	// Message says what happened, in words.
	Message string `json:"message"`
}

// StartRequest is the body of POST /system/start and POST /v1/systems.
type StartRequest struct {
	// Name is the system's name (the compose project name).
	Name string `json:"name"`
	// Env holds the interpolation variables of the compose document, as a
	// .env file beside it would: ${VAR}, ${VAR:-default} and the like are
	// replaced by them. The server's own environment is never used.
	Env map[string]string `json:"env,omitempty"`
	// System is the compose document: a JSON object (the compose file as
	// JSON, as the original Tycho took it) or a JSON string holding the
	// compose file's YAML text, whose diagnostics then point at its lines.
	System json.RawMessage `json:"system"`
	// Services gives, per compose service, the port that clients reach
	// and the CIDRs they come from.
	Services map[string]Service `json:"services,omitempty"`
	// Principal is the caller's identity, a JSON object (or a string
	// holding one) with a "username"; the username labels the system's
	// objects. Tokens in it are ignored and never stored.
	Principal json.RawMessage `json:"principal,omitempty"`
	// ServiceAccount is the service account the services run as; it must
	// exist in the system's namespace. Empty or "default" changes nothing.
	ServiceAccount string `json:"serviceaccount,omitempty"`
	// Wait makes the call return only when every workload is ready (or
	// the server's start timeout passed, and the system was rolled back).
	Wait bool `json:"wait,omitempty"`
	// Route asks that the ports that speak HTTP be reached by URL,
	// through the cluster's router (docs/routing.md): true with the
	// server's settings, an object to choose the host or path, false for
	// no routes. Omitted, the server's --expose decides. The URLs are in
	// the result's endpoints.
	Route *RouteRequest `json:"route,omitempty"`
}

// RouteRequest is the route a StartRequest asks for. Its templates know
// {system}, {service}, {port} and {guid}.
type RouteRequest struct {
	// Off is true for "route": false.
	Off bool `json:"-"`
	// Host is the host name template, e.g. "{service}-{guid}.apps.example.com".
	Host string `json:"host,omitempty"`
	// PathPrefix is the path prefix template, e.g. "/{system}/{guid}/{service}/".
	PathPrefix string `json:"path_prefix,omitempty"`
	// StripPrefix removes the prefix before the request reaches the
	// container.
	StripPrefix *bool `json:"strip_prefix,omitempty"`
}

// UnmarshalJSON reads true, false or an object.
func (r *RouteRequest) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true":
		*r = RouteRequest{}
		return nil
	case "false":
		*r = RouteRequest{Off: true}
		return nil
	}
	type plain RouteRequest
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*r = RouteRequest(p)
	return nil
}

// MarshalJSON writes false for Off, else the object.
func (r RouteRequest) MarshalJSON() ([]byte, error) {
	if r.Off {
		return []byte("false"), nil
	}
	type plain RouteRequest
	return json.Marshal(plain(r))
}

// YAMLSystem returns the System of a StartRequest that sends the compose
// file's YAML text as it is.
func YAMLSystem(text string) json.RawMessage {
	b, _ := json.Marshal(text) // a string always marshals
	return b
}

// Service is the metadata of one compose service in a StartRequest.
type Service struct {
	// Port is the container port that clients reach. When the compose
	// service publishes no ports, it is published.
	Port Port `json:"port,omitempty"`
	// Clients are the IP addresses or CIDRs allowed to reach the
	// service's published ports; empty means anyone.
	Clients []string `json:"clients,omitempty"`
}

// Port is a port number. It reads a JSON number or a string of digits (the
// original clients sent both) and writes a number.
type Port int

// UnmarshalJSON reads a number or a string of digits.
func (p *Port) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("port %q is not a number", s)
		}
		*p = Port(n)
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*p = Port(n)
	return nil
}

// StartResult is the result of a start.
type StartResult struct {
	// Name is "<system>-<guid>", as the original Tycho named systems.
	Name string `json:"name"`
	// SID is the system's GUID.
	SID string `json:"sid"`
	// System is the system's (normalised) name.
	System string `json:"system"`
	// Namespace holds the system's objects.
	Namespace string `json:"namespace"`
	// Containers maps each service with a published port to its first
	// address.
	Containers map[string]Container `json:"containers"`
	// Endpoints are all the addresses of the published ports.
	Endpoints []Endpoint `json:"endpoints"`
	// Ready is true when every workload is ready (as it was when the
	// call returned: with Wait, it is).
	Ready bool `json:"ready"`
	// Diagnostics are the compiler's warnings and notes about the system.
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// Container is the address of a service in a StartResult.
type Container struct {
	IPAddress string `json:"ip_address"`
	Port      int32  `json:"port"`
}

// Endpoint is the address of one published port: a load balancer's, else
// a node's address and node port, else the cluster IP.
type Endpoint struct {
	Service   string `json:"service"`
	IPAddress string `json:"ip_address"`
	Port      int32  `json:"port"`
	Protocol  string `json:"protocol"`
	// URL is the address of a routed port (Ingress or HTTPRoute):
	// scheme, host and path, or only the path when any host matches and
	// the router's address is unknown. IPAddress and Port are then the
	// router's host ("-" when unknown) and 80 or 443.
	URL string `json:"url,omitempty"`
}

// StatusRequest is the body of POST /system/status.
type StatusRequest struct {
	// Name is the GUID of the system to report; nil or empty reports all.
	Name *string `json:"name,omitempty"`
}

// SystemStatus is the state of one running system.
type SystemStatus struct {
	// Name is "<system>-<guid>".
	Name string `json:"name"`
	// SID is the system's GUID.
	SID string `json:"sid"`
	// System is the system's name.
	System    string `json:"system"`
	Namespace string `json:"namespace"`
	// IPAddress and Port are those of the first endpoint, "" when the
	// system publishes nothing (the original Tycho's row).
	IPAddress string `json:"ip_address"`
	Port      string `json:"port"`
	// CreationTime is when the system started, UTC, "MM-DD-YYYY HH:MM:SS".
	CreationTime string `json:"creation_time"`
	// Created is the same time in RFC 3339.
	Created string `json:"created"`
	// State is StateRunning, or StateDeleting while the system is being
	// deleted.
	State string `json:"state"`
	// IsReady is true when every workload of the system is ready.
	IsReady bool `json:"is_ready"`
	// Ready counts the ready workloads, Total all of them.
	Ready int `json:"ready"`
	Total int `json:"total"`
	// Services are the workloads, sorted by name.
	Services []ServiceState `json:"services"`
	// Endpoints are the addresses of the published ports.
	Endpoints []Endpoint `json:"endpoints"`
}

// ServiceState is the state of one workload.
type ServiceState struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Ready bool   `json:"ready"`
	// State says how far it is, e.g. "1/1 available".
	State string `json:"state"`
}

// DeleteRequest is the body of POST /system/delete.
type DeleteRequest struct {
	// Name is the GUID of the system.
	Name string `json:"name"`
	// Volumes deletes the system's volumes too (the default, as the
	// original Tycho did).
	Volumes *bool `json:"volumes,omitempty"`
	// Wait waits until every object is gone (the default).
	Wait *bool `json:"wait,omitempty"`
}

// States of a system, in SystemStatus and DeleteResult.
const (
	StateRunning  = "running"
	StateDeleting = "deleting"
	StateDeleted  = "deleted"
)

// DeleteResult is the result of a delete: with HTTP 200 the system is
// gone (State is StateDeleted); with 202 Accepted its deletion goes on in
// the server (State is StateDeleting) and StatusURL shows it deleting
// until it answers 404.
type DeleteResult struct {
	// SID is the deleted system's GUID.
	SID string `json:"sid"`
	// Deleted counts the objects deleted, or being deleted.
	Deleted int `json:"deleted"`
	// State is StateDeleted or StateDeleting.
	State string `json:"state"`
	// StatusURL is the path of the system's status, while deleting.
	StatusURL string `json:"status_url,omitempty"`
}

// Pending tells a deletion that goes on (202 Accepted) from one that is
// done.
func (r DeleteResult) Pending() bool { return r.State == StateDeleting }

// ModifyRequest is the body of POST /system/modify.
type ModifyRequest struct {
	// GUID is the system's, under the original key "tycho-guid".
	GUID string `json:"tycho-guid"`
	SystemPatch
}

// SystemPatch changes a running system: the body of PATCH
// /v1/systems/{guid}.
type SystemPatch struct {
	// Labels are added to the pods of every workload.
	Labels map[string]string `json:"labels,omitempty"`
	// CPU and Memory become the limits and requests of every container,
	// as Kubernetes quantities ("500m", "1", "512Mi").
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// ModifyResult is the result of a modify.
type ModifyResult struct {
	Patches []Patch `json:"patches"`
}

// Patch is the strategic merge patch applied to one workload.
type Patch struct {
	Kind      string          `json:"kind"`
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Patch     json.RawMessage `json:"patch"`
}

// ErrorResult is the result of a failed call.
type ErrorResult struct {
	// Error says what went wrong.
	Error string `json:"error"`
	// Field is the request field at fault, as a dotted path
	// ("services.web.port"), when one is.
	Field string `json:"field,omitempty"`
	// Diagnostics are the compiler's findings when the compose document
	// did not compile, errors first by position.
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// RequestID identifies the request in the server's log.
	RequestID string `json:"request_id,omitempty"`
}

// Diagnostic is one finding of the compiler about the compose document.
type Diagnostic struct {
	// Severity is "error", "warning" or "info".
	Severity string `json:"severity"`
	// Code is a stable identifier, e.g. "unsupported-key".
	Code string `json:"code"`
	// Path is the compose key, e.g. "services.web.ports.0".
	Path string `json:"path,omitempty"`
	// File, Line and Col locate it: File is "system.json" for a document
	// sent as an object (lines of it indented by two spaces), or
	// "compose.yaml" for one sent as YAML text.
	File    string   `json:"file,omitempty"`
	Line    int      `json:"line,omitempty"`
	Col     int      `json:"col,omitempty"`
	Message string   `json:"message"`
	Notes   []string `json:"notes,omitempty"`
}

// String formats d as the CLI does: file:line:col: severity: path: message
// [code].
func (d Diagnostic) String() string {
	pos := d.File
	if pos == "" {
		pos = "-"
	}
	if d.Line > 0 {
		pos += ":" + strconv.Itoa(d.Line)
		if d.Col > 0 {
			pos += ":" + strconv.Itoa(d.Col)
		}
	}
	s := pos + ": " + d.Severity + ": "
	if d.Path != "" {
		s += d.Path + ": "
	}
	s += d.Message
	if d.Code != "" {
		s += " [" + d.Code + "]"
	}
	return s
}

// ServiceStatus is the state of one service of a system, a row of
// GET /v1/systems/{guid}/services (tycho ps).
type ServiceStatus struct {
	Service string `json:"service"`
	// Kind is Deployment, DaemonSet or Job.
	Kind string `json:"kind"`
	// Ready counts the ready pods (the succeeded ones of a Job), Desired
	// those the workload wants.
	Ready   int32 `json:"ready"`
	Desired int32 `json:"desired"`
	// Restarts adds up the restarts of the containers of its pods.
	Restarts int32 `json:"restarts"`
	// State is "running", "updating", "starting", "completed",
	// "stopped", "failed: why", or why a pod does not run
	// ("CrashLoopBackOff", "Pending: <the scheduler's reason>" ...).
	State string `json:"state"`
	// Ports are the ports its pods are reached on, as "8080/tcp".
	Ports []string `json:"ports"`
	// Endpoints are the addresses of its published ports, "IP:port".
	Endpoints []string `json:"endpoints"`
}

// RestartRequest is the body of POST /v1/systems/{guid}/restart.
type RestartRequest struct {
	// Services are the services to restart; none means every Deployment
	// and DaemonSet of the system.
	Services []string `json:"services,omitempty"`
	// Wait makes the call return once the restarted workloads are rolled
	// out (at most the server's start timeout).
	Wait bool `json:"wait,omitempty"`
}

// RestartResult is the result of a restart.
type RestartResult struct {
	// Restarted are the workloads restarted, as "Kind/name".
	Restarted []string `json:"restarted"`
}

// Names of the compose sources, as the file of a diagnostic gives them.
const (
	// SourceJSON is the compose document sent as an object, indented.
	SourceJSON = "system.json"
	// SourceYAML is the compose document sent as YAML text.
	SourceYAML = "compose.yaml"
	// SourceRequest is the overlay made from the request's services and
	// serviceaccount.
	SourceRequest = "request"
)

// ErrNotFound is (wrapped in) the error of a GUID that no running system
// has; a 404's message ends with its text.
var ErrNotFound = errors.New("system not found")
