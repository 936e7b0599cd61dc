package cmd_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tychoctl/tycho/cmd"
)

var updateScripts = flag.Bool("update-scripts", false, "rewrite the cmp files of testdata/script that differ")

// TestMain lets the test binary be `tycho`: testscript runs it under that
// name for `exec tycho`, and it then does what cmd/tycho/main.go does.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tycho": tychoMain,
	})
}

// tychoMain is cmd/tycho/main.go: the environment and working directory
// are the script's ($WORK unless the script cd's).
func tychoMain() {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	wd, err := os.Getwd()
	if err != nil {
		os.Exit(1)
	}
	streams := cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	root := cmd.NewRootCommand(streams, cmd.Deps{Env: env, WorkDir: wd})
	os.Exit(cmd.Execute(root, os.Args[1:], os.Stderr))
}

// TestScript runs testdata/script/*.txtar.
func TestScript(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       *updateScripts,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"jsonfile": cmdJSONFile,
		},
	})
}

// cmdExitCode: exitcode N command [args...] runs command (as exec does,
// capturing stdout and stderr for later checks) and wants exit status N.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdJSONFile: jsonfile FILE [KIND] checks FILE holds one valid JSON
// value, and, given KIND, that it is an object of that kind.
func cmdJSONFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: jsonfile FILE [KIND]")
	}
	data := ts.ReadFile(args[0])
	var v any
	err := json.Unmarshal([]byte(data), &v)
	if err == nil && len(args) == 2 {
		obj, ok := v.(map[string]any)
		if !ok || obj["kind"] != args[1] {
			err = errors.New("not an object of kind " + args[1])
		}
	}
	switch {
	case neg && err == nil:
		ts.Fatalf("%s is valid JSON", args[0])
	case !neg && err != nil:
		ts.Fatalf("%s: %v\n%s", args[0], err, data)
	}
}
