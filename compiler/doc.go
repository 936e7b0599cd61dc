// Package compiler turns compose files into Tycho's AST and drives the
// whole pipeline: load (through compose-go, with positions recovered from
// the same bytes), lower to ast.System, check references, weave policy and
// generate a backend's objects.
package compiler
