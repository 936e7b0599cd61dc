package cmd

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/server"
)

// TestAPILimitFlags checks that the limit flags reach the server's
// options, from the command line and from TYCHO_ variables, and that a
// bad value is a usage error naming its flag.
func TestAPILimitFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    server.ResourceLimits
		wantErr string
	}{
		{name: "defaults", want: server.ResourceLimits{MaxCPUMilli: 4000, MaxMemory: 8 << 30, MaxVolumeSize: 10 << 30}},
		{name: "flags", args: []string{"--max-cpu", "500m", "--max-memory", "none", "--max-volume-size", "100Gi", "--storage-classes", "standard,fast"},
			want: server.ResourceLimits{MaxCPUMilli: 500, MaxMemory: -1, MaxVolumeSize: 100 << 30, StorageClasses: []string{"standard", "fast"}}},
		{name: "environment", env: map[string]string{"TYCHO_MAX_CPU": "none", "TYCHO_STORAGE_CLASSES": "standard"},
			want: server.ResourceLimits{MaxCPUMilli: -1, MaxMemory: 8 << 30, MaxVolumeSize: 10 << 30, StorageClasses: []string{"standard"}}},
		{name: "bad cpu", args: []string{"--max-cpu", "lots"}, wantErr: "--max-cpu: "},
		{name: "bad memory", args: []string{"--max-memory", "0"}, wantErr: "--max-memory: "},
		{name: "bad volume size", args: []string{"--max-volume-size", "big"}, wantErr: "--max-volume-size: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			cmd, c := newAPICommand(Streams{In: bytes.NewReader(nil), Out: &out, Err: &out}, Deps{Env: tc.env})
			if err := cmd.Flags().Parse(append([]string{"--insecure-no-auth"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			if err := c.fromEnv(cmd.Flags(), tc.env); err != nil {
				t.Fatal(err)
			}
			o, err := c.options(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tc.wantErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantErr)) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, o.Resources); d != "" {
				t.Errorf("limits (-want +got):\n%s", d)
			}
		})
	}
}
