// Package cmd is Tycho's command line: the cobra command tree, flags bound
// to options, and printing. It holds no logic of its own: each command calls
// one library function.
package cmd
