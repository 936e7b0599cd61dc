// Package server implements Tycho's HTTP API as an http.Handler: the
// original Tycho's POST /system/start|status|delete (plus /system/modify)
// and the /v1/systems resources, which share one implementation.
//
// The OpenAPI document of package api is the truth: the server builds its
// routes from the document's operations, validates every request against
// it with kin-openapi's openapi3filter before a handler runs, and serves
// it at /openapi.json, /openapi.yaml and, as a page, /apidocs/.
//
// A start compiles the submitted compose document with package compiler
// (bind mounts become volumes; nothing is read from the server's files or
// environment) and hands the objects to a Systems, the cluster side, which
// NewCluster implements over package executor. Tests give a fake Systems.
//
// Run serves a Server on an address with TLS, bearer-token
// authentication, timeouts and graceful shutdown.
package server
