package server

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// durationBuckets are the upper bounds, in seconds, of the request
// duration histogram: from a status call to a start that waits.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// metrics are the server's counters, rendered in the Prometheus text
// format by hand (no client library needed for a few counters).
type metrics struct {
	version string

	inFlight    atomic.Int64
	started     atomic.Int64
	startFailed atomic.Int64
	deleted     atomic.Int64
	limited     atomic.Int64

	mu       sync.Mutex
	requests map[requestKey]int64
	// durations per route: bucket counts (not cumulative), sum and count
	durations map[string]*histogram
}

type requestKey struct {
	route, method string
	code          int
}

type histogram struct {
	buckets []int64
	sum     float64
	count   int64
}

func newMetrics(version string) *metrics {
	if version == "" {
		version = "dev"
	}
	return &metrics{version: version, requests: map[requestKey]int64{}, durations: map[string]*histogram{}}
}

// observe counts a finished request. route is the OpenAPI path, so that
// the number of series stays bounded.
func (m *metrics) observe(route, method string, code int, d time.Duration) {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "OTHER" // bounded, whatever clients send
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, method, code}]++
	h := m.durations[route]
	if h == nil {
		h = &histogram{buckets: make([]int64, len(durationBuckets))}
		m.durations[route] = h
	}
	secs := d.Seconds()
	for i, b := range durationBuckets {
		if secs <= b {
			h.buckets[i]++
			break
		}
	}
	h.sum += secs
	h.count++
}

// render writes every metric, series sorted, in the text format 0.0.4.
func (m *metrics) render() []byte {
	var b bytes.Buffer
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("tycho_api_build_info", "gauge", "Tycho's version.")
	fmt.Fprintf(&b, "tycho_api_build_info{version=%q} 1\n", m.version)
	family("tycho_api_in_flight_requests", "gauge", "Requests being served.")
	fmt.Fprintf(&b, "tycho_api_in_flight_requests %d\n", m.inFlight.Load())
	family("tycho_api_systems_started_total", "counter", "Systems started.")
	fmt.Fprintf(&b, "tycho_api_systems_started_total %d\n", m.started.Load())
	family("tycho_api_systems_start_failures_total", "counter", "Starts that failed to compile or to run.")
	fmt.Fprintf(&b, "tycho_api_systems_start_failures_total %d\n", m.startFailed.Load())
	family("tycho_api_systems_deleted_total", "counter", "Systems deleted.")
	fmt.Fprintf(&b, "tycho_api_systems_deleted_total %d\n", m.deleted.Load())
	family("tycho_api_limited_total", "counter", "Requests refused by a limit (429 per client, 503 compile slots).")
	fmt.Fprintf(&b, "tycho_api_limited_total %d\n", m.limited.Load())

	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.route != c.route {
			return a.route < c.route
		}
		if a.method != c.method {
			return a.method < c.method
		}
		return a.code < c.code
	})
	family("tycho_api_requests_total", "counter", "HTTP requests by operation path, method and status code.")
	for _, k := range keys {
		fmt.Fprintf(&b, "tycho_api_requests_total{code=\"%d\",method=%q,route=%q} %d\n", k.code, k.method, k.route, m.requests[k])
	}
	routes := make([]string, 0, len(m.durations))
	for r := range m.durations {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	family("tycho_api_request_duration_seconds", "histogram", "HTTP request durations by operation path.")
	for _, r := range routes {
		h := m.durations[r]
		cum := int64(0)
		for i, le := range durationBuckets {
			cum += h.buckets[i]
			fmt.Fprintf(&b, "tycho_api_request_duration_seconds_bucket{route=%q,le=%q} %d\n", r, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(&b, "tycho_api_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, h.count)
		fmt.Fprintf(&b, "tycho_api_request_duration_seconds_sum{route=%q} %s\n", r, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "tycho_api_request_duration_seconds_count{route=%q} %d\n", r, h.count)
	}
	return b.Bytes()
}
