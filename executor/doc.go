// Package executor runs compiled systems on a Kubernetes cluster through
// client-go: Up applies a system's objects with server-side apply, waits
// for its workloads and prunes the objects the system no longer has,
// Status reports the running systems, Down removes them. Diff tells what
// an Up would change (server-side dry runs), Logs and Events show what the
// system's containers and the cluster say, Ps the state of each service
// (WatchPs as it changes), and Restart is a rollout restart of its
// services.
//
// The executor keeps no local state: every object of a started system
// carries the labels tycho-guid=<guid> and executor=tycho, and a ConfigMap
// tycho-system-<guid> in the system's namespace records its name, namespace,
// model hash and creation time, so that any machine with access to the
// cluster can find, inspect and delete a system by its GUID.
package executor
