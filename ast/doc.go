// Package ast declares Tycho's orchestrator-agnostic model of a distributed
// system: services, their containers, storage, networks, secrets and the
// dependencies between them, each node carrying the source position it came
// from.
//
// The AST knows no compose-go and no Kubernetes. The compiler lowers compose
// files into it, policy weavers decide on it, and backends turn it into
// artifacts. Collections are slices sorted by name, never maps, so every
// stage is deterministic.
package ast
