// Package kubernetes is Tycho's Kubernetes backend: it turns an ast.System
// into typed k8s.io/api objects (names, labels, workloads, Services,
// storage, NetworkPolicies) and prints them as YAML or JSON. It is pure
// code generation: it never talks to a cluster and makes no policy
// decisions, it carries out those the weavers wrote into the AST.
package kubernetes
