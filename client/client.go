package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tychoctl/tycho/api"
)

// DefaultURL is where the API is looked for when nothing else is known,
// as the original Tycho client did.
const DefaultURL = "http://localhost:5000"

// Client calls a Tycho API server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends token as the bearer token of every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient makes the Client send its requests with hc (for TLS
// settings, proxies or timeouts; the default is http.DefaultClient, and
// every call takes its deadline from its context).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a Client of the server at rawURL, e.g.
// "https://tycho.example.org".
func New(rawURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tycho client: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("tycho client: %q is not an http(s) URL", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u, hc: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// Error is a call the server answered with an error: its status, the
// server's message, and the field at fault or the compile diagnostics
// when there are.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the server's message.
	Message string
	// Field names the request field at fault, if one is.
	Field string
	// Diagnostics are the compiler's, for a system that does not compile.
	Diagnostics []api.Diagnostic
	// RequestID finds the request in the server's log.
	RequestID string
}

// Error formats the status, the message and the diagnostics, one a line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tycho API: %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	for _, d := range e.Diagnostics {
		b.WriteString("\n  " + d.String())
	}
	return b.String()
}

// IsNotFound tells an error of a GUID that no running system has.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// Start compiles and starts a system. A system that does not compile is
// an *Error with its Diagnostics.
func (c *Client) Start(ctx context.Context, req api.StartRequest) (*api.StartResult, error) {
	var res api.StartResult
	if err := c.do(ctx, http.MethodPost, "/v1/systems", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Status reports the running system of guid, or all of them when guid is
// "". An unknown GUID is an *Error for which IsNotFound is true.
func (c *Client) Status(ctx context.Context, guid string) ([]api.SystemStatus, error) {
	if guid == "" {
		var res []api.SystemStatus
		if err := c.do(ctx, http.MethodGet, "/v1/systems", nil, &res); err != nil {
			return nil, err
		}
		return res, nil
	}
	var res api.SystemStatus
	if err := c.do(ctx, http.MethodGet, "/v1/systems/"+url.PathEscape(guid), nil, &res); err != nil {
		return nil, err
	}
	return []api.SystemStatus{res}, nil
}

// DeleteOption changes how Delete removes a system.
type DeleteOption func(url.Values)

// KeepVolumes keeps the system's volumes (PersistentVolumeClaims).
func KeepVolumes() DeleteOption { return func(q url.Values) { q.Set("volumes", "false") } }

// NoWait returns as soon as the deletion started.
func NoWait() DeleteOption { return func(q url.Values) { q.Set("wait", "false") } }

// Delete removes a system and, by default, its volumes, and waits until
// everything is gone, at most the server's delete timeout. The server
// answers 202 Accepted when the deletion goes on after it answered
// (NoWait, or a slow cluster): that is a success whose result is
// Pending; WaitGone waits for the end.
func (c *Client) Delete(ctx context.Context, guid string, opts ...DeleteOption) (*api.DeleteResult, error) {
	q := url.Values{}
	for _, o := range opts {
		o(q)
	}
	path := "/v1/systems/" + url.PathEscape(guid)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var res api.DeleteResult
	if err := c.do(ctx, http.MethodDelete, path, nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// WaitGone polls the status of the system guid every interval (0: 1s)
// until the server no longer knows it, as after a Delete that is Pending;
// it returns ctx's error when ctx ends first.
func (c *Client) WaitGone(ctx context.Context, guid string, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_, err := c.Status(ctx, guid)
		switch {
		case IsNotFound(err):
			return nil
		case err != nil && ctx.Err() == nil:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tycho client: system %s still deleting: %w", guid, ctx.Err())
		case <-t.C:
		}
	}
}

// Modify changes the pod labels, CPU or memory of a running system.
func (c *Client) Modify(ctx context.Context, guid string, p api.SystemPatch) (*api.ModifyResult, error) {
	var res api.ModifyResult
	if err := c.do(ctx, http.MethodPatch, "/v1/systems/"+url.PathEscape(guid), p, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Services reports the state of each service of the system guid, as
// tycho ps shows it. An unknown GUID is an *Error for which IsNotFound
// is true.
func (c *Client) Services(ctx context.Context, guid string) ([]api.ServiceStatus, error) {
	var res []api.ServiceStatus
	if err := c.do(ctx, http.MethodGet, "/v1/systems/"+url.PathEscape(guid)+"/services", nil, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// Restart restarts the services of the system guid (all its Deployments
// and DaemonSets when req names none), as kubectl rollout restart does;
// with req.Wait the answer comes once they are rolled out.
func (c *Client) Restart(ctx context.Context, guid string, req api.RestartRequest) (*api.RestartResult, error) {
	var res api.RestartResult
	if err := c.do(ctx, http.MethodPost, "/v1/systems/"+url.PathEscape(guid)+"/restart", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// maxResponse bounds the responses the client reads.
const maxResponse = 32 << 20

// do sends a request with body (nil: none) and decodes the envelope's
// result into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("tycho client: encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	rel, err := url.Parse(path)
	if err != nil {
		return fmt.Errorf("tycho client: %w", err)
	}
	u.Path += rel.Path
	u.RawPath = ""
	u.RawQuery = rel.RawQuery
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("tycho client: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("tycho client: %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("tycho client: reading the response of %s %s: %w", method, u.Path, err)
	}
	var env api.Envelope
	if err := json.Unmarshal(b, &env); err != nil || env.Status == "" {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if resp.StatusCode >= 300 {
			return &Error{StatusCode: resp.StatusCode, Message: msg}
		}
		return fmt.Errorf("tycho client: %s %s: not a Tycho response (%d): %s", method, u.Path, resp.StatusCode, msg)
	}
	if resp.StatusCode >= 300 || env.Status != api.StatusSuccess {
		e := &Error{StatusCode: resp.StatusCode, Message: env.Message}
		var res api.ErrorResult
		if json.Unmarshal(env.Result, &res) == nil {
			e.Field, e.Diagnostics, e.RequestID = res.Field, res.Diagnostics, res.RequestID
			if e.Message == "" {
				e.Message = res.Error
			}
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("tycho client: decoding the result of %s %s: %w", method, u.Path, err)
		}
	}
	return nil
}
