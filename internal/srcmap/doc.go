// Package srcmap indexes the YAML node tree of compose files so that a key
// path such as "services.web.ports.0" can be turned back into the
// file:line:col it was written at. compose-go drops positions; Tycho reads
// each file once, gives compose-go the bytes and indexes the same bytes here.
package srcmap
