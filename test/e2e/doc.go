// Package e2e holds Tycho's end-to-end tests: they run against a real
// kube-apiserver started by package cluster (one per test binary, see
// TestMain) and a tycho binary built from this checkout.
//
// All tests are named TestE2E… and skip under -short. Run them with
// `make e2e`, or against an existing cluster with TYCHO_E2E_KUBECONFIG set.
//
// Helpers for tests (in helpers_test.go):
//
//   - shared(t) returns the package's cluster; clientset(t) a typed client
//     for it;
//   - tychoBin(t) returns the path of the tycho binary (fails the test with
//     the build error if cmd/tycho did not build);
//   - newNamespace(t, level) creates a namespace that enforces and warns at a
//     Pod Security level, deleted when the test ends;
//   - dryRunStrict(t, ns, yaml) server-side applies every document of a
//     manifest stream with dry-run and strict field validation and returns
//     the API server's warnings.
package e2e
