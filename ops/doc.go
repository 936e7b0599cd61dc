// Package ops declares the operations on started systems (Systems: up,
// list, down, diff, ps, logs, events, restart) once, with two
// implementations: Local reaches the cluster itself through the executor,
// Remote goes through Tycho's HTTP API with the Go client. The CLI writes
// each command once against Systems and only chooses which one to use;
// Resolve names a system by its GUID or by its name on either.
package ops
