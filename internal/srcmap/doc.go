// Package srcmap indexes the YAML node tree of compose files so that a key
// path such as "services.web.ports.0" can be turned back into the
// file:line:col it was written at. compose-go drops positions; Tycho reads
// each file once, gives compose-go the bytes and indexes the same bytes here,
// with the YAML reader compose-go uses (go.yaml.in/yaml/v4), so that both
// see the same nodes. Before indexing, it measures what expanding the file's
// aliases and merge keys would cost (bound.go): a file past the bound is
// refused before compose-go expands it.
package srcmap
