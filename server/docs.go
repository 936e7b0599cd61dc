package server

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// docsTemplate is the /apidocs/ page: self-contained (no script, no
// external style), generated from the OpenAPI document.
var docsTemplate = template.Must(template.New("docs").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; }
.op { border: 1px solid #ddd; border-radius: 4px; margin: 1rem 0; padding: .5rem 1rem; }
.method { display: inline-block; min-width: 4.5rem; font-weight: bold; font-family: monospace; }
.GET { color: #0a6; } .POST { color: #06c; } .PATCH { color: #a60; } .DELETE { color: #c22; }
code, pre { background: #f5f5f5; padding: .1rem .3rem; }
pre { padding: .5rem; white-space: pre-wrap; }
td { padding: .1rem .6rem .1rem 0; vertical-align: top; }
.lock { color: #888; font-size: .9em; }
</style>
</head>
<body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<pre>{{.Description}}</pre>
<p>The document: <a href="../openapi.json">openapi.json</a>, <a href="../openapi.yaml">openapi.yaml</a>.</p>
{{range .Tags}}
<h2 id="{{.Name}}">{{.Name}}</h2>
<p>{{.Description}}</p>
{{range .Ops}}
<div class="op" id="{{.ID}}">
<p><span class="method {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code> — {{.Summary}}{{if .Auth}} <span class="lock">(bearer token)</span>{{end}}</p>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<p>Parameters:</p><table>{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .Body}}<p>Request body: <code>{{.Body}}</code></p>{{end}}
<p>Responses:</p>
<table>{{range .Responses}}<tr><td><code>{{.Code}}</code></td><td>{{.Description}}</td><td>{{if .Schema}}<code>{{.Schema}}</code>{{end}}</td></tr>{{end}}</table>
</div>
{{end}}
{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}
<div class="op" id="schema-{{.Name}}">
<p><code><b>{{.Name}}</b></code> {{.Description}}</p>
{{if .Fields}}<table>{{range .Fields}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td><code>{{.Type}}</code></td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
</div>
{{end}}
</body>
</html>
`))

type docsOp struct {
	ID, Method, Path, Summary, Description, Body string
	Auth                                         bool
	Params                                       []docsParam
	Responses                                    []docsResponse
}

type docsParam struct{ Name, In, Description string }

type docsResponse struct{ Code, Description, Schema string }

type docsTag struct {
	Name, Description string
	Ops               []docsOp
}

type docsField struct {
	Name, Type, Description string
	Required                bool
}

type docsSchema struct {
	Name, Description string
	Fields            []docsField
}

// docsPage renders the /apidocs/ page of doc.
func docsPage(doc *openapi3.T) ([]byte, error) {
	tags := []*docsTag{}
	byName := map[string]*docsTag{}
	for _, t := range doc.Tags {
		dt := &docsTag{Name: t.Name, Description: t.Description}
		tags = append(tags, dt)
		byName[t.Name] = dt
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			op := ops[m]
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			d := docsOp{ID: op.OperationID, Method: m, Path: path, Summary: op.Summary, Description: op.Description, Auth: len(security) > 0}
			for _, p := range append(append(openapi3.Parameters(nil), item.Parameters...), op.Parameters...) {
				if p.Value != nil {
					d.Params = append(d.Params, docsParam{Name: p.Value.Name, In: p.Value.In, Description: p.Value.Description})
				}
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				for ct, mt := range rb.Value.Content {
					d.Body = ct + " " + schemaName(mt.Schema)
				}
			}
			codes := op.Responses.Map()
			keys := make([]string, 0, len(codes))
			for k := range codes {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				r := codes[k].Value
				if r == nil {
					continue
				}
				dr := docsResponse{Code: k}
				if r.Description != nil {
					dr.Description = *r.Description
				}
				for ct, mt := range r.Content {
					dr.Schema = strings.TrimSpace(ct + " " + schemaName(mt.Schema))
				}
				d.Responses = append(d.Responses, dr)
			}
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			dt := byName[tag]
			if dt == nil {
				dt = &docsTag{Name: tag}
				tags = append(tags, dt)
				byName[tag] = dt
			}
			dt.Ops = append(dt.Ops, d)
		}
	}
	var schemas []docsSchema
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sv := doc.Components.Schemas[n].Value
		ds := docsSchema{Name: n, Description: sv.Description}
		req := map[string]bool{}
		for _, r := range sv.Required {
			req[r] = true
		}
		props := make([]string, 0, len(sv.Properties))
		for p := range sv.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		for _, p := range props {
			ref := sv.Properties[p]
			f := docsField{Name: p, Type: schemaName(ref), Required: req[p]}
			if ref.Value != nil {
				f.Description = ref.Value.Description
			}
			ds.Fields = append(ds.Fields, f)
		}
		schemas = append(schemas, ds)
	}
	var buf bytes.Buffer
	err := docsTemplate.Execute(&buf, map[string]any{
		"Title": doc.Info.Title, "Version": doc.Info.Version, "Description": doc.Info.Description,
		"Tags": tags, "Schemas": schemas,
	})
	if err != nil {
		return nil, fmt.Errorf("server: rendering the docs page: %w", err)
	}
	return buf.Bytes(), nil
}

// schemaName names a schema for the page: its component's name, or its
// type.
func schemaName(ref *openapi3.SchemaRef) string {
	if ref == nil {
		return ""
	}
	if ref.Ref != "" {
		return ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]
	}
	v := ref.Value
	if v == nil {
		return ""
	}
	switch {
	case v.Type != nil && len(*v.Type) > 0:
		t := (*v.Type)[0]
		if t == "array" && v.Items != nil {
			return "[]" + schemaName(v.Items)
		}
		if t == "object" && v.AdditionalProperties.Schema != nil {
			return "map[string]" + schemaName(v.AdditionalProperties.Schema)
		}
		return t
	case len(v.OneOf) > 0:
		parts := make([]string, len(v.OneOf))
		for i, o := range v.OneOf {
			parts[i] = schemaName(o)
		}
		return strings.Join(parts, " | ")
	}
	return "any"
}
