// Command tycho compiles compose systems to Kubernetes and runs them there.
package main

import (
	"os"
	"strings"

	"github.com/tychoctl/tycho/cmd"
	_ "github.com/tychoctl/tycho/internal/prewarm"
)

func main() {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	wd, _ := os.Getwd()
	streams := cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	root := cmd.NewRootCommand(streams, cmd.Deps{Env: env, WorkDir: wd})
	os.Exit(cmd.Execute(root, os.Args[1:], os.Stderr))
}
