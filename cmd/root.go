package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Streams are the standard streams of a command.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Deps are what the commands take from the process, injected so tests can
// give their own.
type Deps struct {
	// Env is the process environment.
	Env map[string]string
	// WorkDir is the working directory.
	WorkDir string
}

// ExitError carries an exit code: 1 for errors in the input, 2 for usage.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks an error as a usage error (exit 2).
func usageError(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// errReported means the diagnostics were printed already (exit 1).
var errReported = &ExitError{Code: 1}

// NewRootCommand builds the tycho command tree.
func NewRootCommand(streams Streams, deps Deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "tycho",
		Short: "Tycho compiles compose systems to Kubernetes and runs them there",
		Long: `Tycho compiles docker-compose systems into Kubernetes manifests with
least-privilege network and pod security policies woven in, and runs them
on a cluster tracked by a GUID.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: 2, Err: err} })
	root.AddCommand(NewCompileCommand(streams, deps))
	root.AddCommand(NewVersionCommand(streams))
	root.AddCommand(NewUpCommand(streams, deps), NewStatusCommand(streams, deps), NewDownCommand(streams, deps))
	root.AddCommand(NewAPICommand(streams, deps))
	root.AddCommand(NewDiffCommand(streams, deps), NewLogsCommand(streams, deps), NewEventsCommand(streams, deps))
	root.AddCommand(NewExecCommand(streams, deps))
	root.AddCommand(NewPortForwardCommand(streams, deps))
	root.AddCommand(NewPsCommand(streams, deps), NewRestartCommand(streams, deps))
	return root
}

// Execute runs root with args and returns the process exit code, printing
// the error once.
func Execute(root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "tycho: %v\n", ee.Err)
			if ee.Code == 2 {
				fmt.Fprintln(stderr, "Run 'tycho --help' for usage.")
			}
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "tycho: %v\n", err)
	// cobra's own errors (unknown command, bad arguments) are usage errors
	if isCobraUsage(err) {
		return 2
	}
	return 1
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "invalid argument", "flag needs an argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// Version is set at build time with -ldflags.
var Version = "dev"

// NewVersionCommand prints the version.
func NewVersionCommand(streams Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Tycho's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(streams.Out, "tycho %s\n", Version)
			return err
		},
	}
}
