package api

import _ "embed" // for the OpenAPI document

// OpenAPIYAML is the OpenAPI 3 document of the API, as written in
// openapi.yaml. It is the truth: the server routes, validates and
// documents by it.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
