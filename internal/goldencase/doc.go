// Package goldencase reads the golden cases of testdata/compile for the
// tests of several packages: each case is a txtar archive whose comment
// holds the command line ("args: ..." arguments of tycho compile),
// "env NAME=VALUE" lines and a "stdin: FILE" line, whose files are the
// inputs, and whose want/ files are the expected outputs.
package goldencase
