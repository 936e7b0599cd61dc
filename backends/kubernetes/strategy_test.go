package kubernetes

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/ast"
)

func TestRollout(t *testing.T) {
	t.Parallel()
	i32 := func(n int32) *int32 { return &n }
	claim := []ast.Mount{{Kind: ast.MountVolume, Source: "data", Target: "/data"}}
	tests := []struct {
		name           string
		svc            ast.Service
		surge, unavail string
		minReady       int32
		maxPods        int64
	}{
		{name: "no update config: the Deployment's default surge of 25% rounded up",
			svc: ast.Service{Replicas: i32(5)}, maxPods: 7},
		{name: "start-first surges by the parallelism",
			svc:   ast.Service{Replicas: i32(4), Update: &ast.UpdateStrategy{Parallelism: 2, Order: ast.StartFirst, Delay: 10 * time.Second, Monitor: 5 * time.Second}},
			surge: "2", unavail: "0", minReady: 10, maxPods: 6},
		{name: "start-first never surges past the replicas",
			svc:   ast.Service{Replicas: i32(2), Update: &ast.UpdateStrategy{Parallelism: 5, Order: ast.StartFirst}},
			surge: "5", unavail: "0", maxPods: 4},
		{name: "stop-first, all at once; monitor longer than delay, rounded up",
			svc:   ast.Service{Replicas: i32(3), Update: &ast.UpdateStrategy{Order: ast.StopFirst, Delay: time.Second, Monitor: 1500 * time.Millisecond}},
			surge: "0", unavail: "100%", minReady: 2, maxPods: 3},
		{name: "a negative delay waits nothing",
			svc:   ast.Service{Update: &ast.UpdateStrategy{Parallelism: 1, Order: ast.StopFirst, Delay: -time.Second}},
			surge: "0", unavail: "1", maxPods: 1},
		{name: "Recreate (a volume claim) never surges",
			svc: ast.Service{Replicas: i32(3), Mounts: claim}, maxPods: 3},
		{name: "a Job runs its replicas",
			svc: ast.Service{Lifecycle: ast.RunToCompletion, Replicas: i32(4)}, maxPods: 4},
		{name: "zero replicas still count one pod for minDomains",
			svc: ast.Service{Replicas: i32(0)}, maxPods: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := maxPods(&tt.svc); got != tt.maxPods {
				t.Errorf("maxPods = %d, want %d", got, tt.maxPods)
			}
			if tt.svc.Update == nil {
				return
			}
			surge, unavail := rollingBounds(tt.svc.Update)
			if diff := cmp.Diff([]string{tt.surge, tt.unavail}, []string{surge.String(), unavail.String()}); diff != "" {
				t.Errorf("maxSurge, maxUnavailable (-want +got):\n%s", diff)
			}
			if got := minReadySeconds(tt.svc.Update); got != tt.minReady {
				t.Errorf("minReadySeconds = %d, want %d", got, tt.minReady)
			}
		})
	}
}
