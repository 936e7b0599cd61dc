// Package policy weaves cross-cutting decisions into an ast.System: who may
// talk to whom (network), what containers may do (security). Weavers are an
// ordered list behind one small interface; they know no backend.
package policy
