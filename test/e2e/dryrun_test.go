package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// A Deployment and Service that satisfy the restricted Pod Security level.
const validDeploymentAndService = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app.kubernetes.io/name: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: web}
  template:
    metadata:
      labels: {app.kubernetes.io/name: web}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: web
        image: registry.example/web:1.0
        ports:
        - {name: http, containerPort: 8080}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app.kubernetes.io/name: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`

const unknownFieldDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  selector:
    matchLabels: {app: typo}
  template:
    metadata:
      labels: {app: typo}
    spec:
      containers:
      - name: main
        image: registry.example/app:1
        imagePullPolicyy: Always
`

const privilegedPod = `
apiVersion: v1
kind: Pod
metadata:
  name: priv
spec:
  containers:
  - name: main
    image: registry.example/app:1
    securityContext: {privileged: true}
`

const privilegedDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: priv
spec:
  selector:
    matchLabels: {app: priv}
  template:
    metadata:
      labels: {app: priv}
    spec:
      containers:
      - name: main
        image: registry.example/app:1
        securityContext: {privileged: true}
`

// TestE2EDryRunStrict pins down what the real API server does with the
// helpers' settings, independently of the compiler: strict field validation
// rejects unknown fields, Pod Security enforcement rejects pods, and only
// warns about workloads whose pod template would violate it.
func TestE2EDryRunStrict(t *testing.T) {
	shared(t)
	tests := []struct {
		name      string
		level     string // Pod Security level the namespace enforces and warns at
		manifests string
		wantErr   string // regexp; "" means no error
		wantWarns []string
	}{
		{
			name:      "ValidDeploymentAndServiceRestricted",
			level:     "restricted",
			manifests: validDeploymentAndService,
		},
		{
			name:      "UnknownFieldRejected",
			level:     "baseline",
			manifests: unknownFieldDeployment,
			// Server-side apply reports the path with list keys.
			wantErr: `Deployment/typo: .*\.spec\.template\.spec\.containers\[name="main"\]\.imagePullPolicyy: field not declared in schema`,
		},
		{
			name:      "PrivilegedPodRejectedByBaseline",
			level:     "baseline",
			manifests: privilegedPod,
			wantErr:   `Pod/priv: .*violates PodSecurity "baseline:latest": privileged`,
		},
		{
			name:      "PrivilegedDeploymentWarnedByBaseline",
			level:     "baseline",
			manifests: privilegedDeployment,
			wantWarns: []string{`^Deployment/priv: would violate PodSecurity "baseline:latest": privileged`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t, tt.level)
			warns, err := dryRunStrict(t, ns, tt.manifests)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("dryRunStrict: unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("dryRunStrict: no error, want one matching %q", tt.wantErr)
			case tt.wantErr != "" && !regexp.MustCompile(tt.wantErr).MatchString(err.Error()):
				t.Errorf("dryRunStrict: error %q does not match %q", err, tt.wantErr)
			}
			if len(warns) != len(tt.wantWarns) {
				t.Fatalf("dryRunStrict: warnings:\n%s\nwant %d matching %q", strings.Join(warns, "\n"), len(tt.wantWarns), tt.wantWarns)
			}
			for i, w := range tt.wantWarns {
				if !regexp.MustCompile(w).MatchString(warns[i]) {
					t.Errorf("dryRunStrict: warning %d %q does not match %q", i, warns[i], w)
				}
			}
		})
	}
}
