// Package api declares the wire types of Tycho's HTTP API and embeds its
// OpenAPI 3 document, the single description of the API that the server
// validates requests against and serves at /openapi.json and /openapi.yaml.
//
// Every response is an Envelope: {"status": "success"|"error", "result":
// ..., "message": "..."}, as the original Tycho answered. The result of a
// successful call is one of StartResult, []SystemStatus, SystemStatus,
// DeleteResult or ModifyResult; the result of a failed call is an
// ErrorResult. Field names follow the original API (snake_case, "sid",
// "ip_address") so that its callers keep working.
//
// The package imports nothing but the standard library, so that Go
// programs can speak the API without the server's dependencies.
package api
