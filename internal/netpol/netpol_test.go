package netpol

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// The endpoints of the table: three pods of namespace shop, one pod in
// namespace other with web's labels, the cluster DNS, and outside
// addresses.
var (
	web      = Pod("shop", "web", map[string]string{"app": "web", "tier": "front"})
	api      = Pod("shop", "api", map[string]string{"app": "api", "tier": "back"})
	db       = Pod("shop", "db", map[string]string{"app": "db"})
	otherWeb = Pod("other", "web", map[string]string{"app": "web", "tier": "front"})
	dns      = ClusterDNS()
	outside  = Outside("203.0.113.7")
	inside10 = Outside("10.2.3.4")
	except10 = Outside("10.1.2.3")
)

type flow struct {
	from, to Endpoint
	port     int32
	proto    corev1.Protocol
	want     bool
}

func TestEvaluator(t *testing.T) {
	t.Parallel()
	tcp, udp, sctp := corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP
	cases := []struct {
		name     string
		policies string
		nsLabels map[string]map[string]string
		flows    []flow
	}{{
		name: "no policies: everything is allowed",
		flows: []flow{
			{web, db, 5432, tcp, true},
			{outside, db, 1, udp, true},
			{db, outside, 443, tcp, true},
		},
	}, {
		name: "ingress policy without rules isolates and denies all ingress",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
`,
		flows: []flow{
			{web, db, 5432, tcp, false},
			{db, db, 5432, tcp, false},
			{outside, db, 5432, tcp, false},
			{web, api, 80, tcp, true}, // api is not selected
		},
	}, {
		name: "ingress isolated but egress not: the isolated pod still connects out",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
`,
		flows: []flow{
			{db, outside, 443, tcp, true},
			{db, web, 80, tcp, true},
			{db, dns, 53, udp, true},
			{web, db, 80, tcp, false},
		},
	}, {
		name: "egress isolated but ingress not",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: no-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Egress]
`,
		flows: []flow{
			{db, outside, 443, tcp, false},
			{db, dns, 53, udp, false},
			{web, db, 5432, tcp, true},
			{outside, db, 5432, tcp, true},
		},
	}, {
		name: "policyTypes omitted: Ingress always, Egress because egress rules exist",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-only, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports:
    - {protocol: UDP, port: 53}
`,
		flows: []flow{
			{db, dns, 53, udp, true},
			{db, dns, 53, tcp, false},
			{db, outside, 443, tcp, false},
			{web, db, 5432, tcp, false}, // Ingress is implied and has no rules
		},
	}, {
		name: "policyTypes omitted without egress rules: Ingress only",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
`,
		flows: []flow{
			{db, outside, 443, tcp, true},
			{web, db, 5432, tcp, false},
		},
	}, {
		name: "empty spec.podSelector selects every pod of its namespace only",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`,
		flows: []flow{
			{outside, web, 80, tcp, false},
			{outside, db, 80, tcp, false},
			{outside, otherWeb, 80, tcp, true},
			{web, otherWeb, 80, tcp, true},
		},
	}, {
		name: "peer podSelector {} is every pod of the policy's namespace; nil namespaceSelector means same namespace",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ns-local, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {}
`,
		flows: []flow{
			{web, db, 5432, tcp, true},
			{db, db, 5432, tcp, true},
			{otherWeb, db, 5432, tcp, false},
			{outside, db, 5432, tcp, false},
			{dns, db, 5432, tcp, false},
		},
	}, {
		name: "peer namespaceSelector {} is every pod of every namespace, but no address outside",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cluster, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {}
`,
		flows: []flow{
			{web, db, 5432, tcp, true},
			{otherWeb, db, 5432, tcp, true},
			{dns, db, 5432, tcp, true},
			{outside, db, 5432, tcp, false},
		},
	}, {
		name: "namespaceSelector and podSelector in one peer are ANDed; in two peers ORed",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: blue}}
      podSelector: {matchLabels: {app: web}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: blue}}
    - podSelector: {matchLabels: {app: web}}
`,
		nsLabels: map[string]map[string]string{"other": {"team": "blue"}},
		flows: []flow{
			{otherWeb, db, 5432, tcp, true},
			{web, db, 5432, tcp, false}, // shop is not blue
			{api, db, 5432, tcp, false},
			{otherWeb, api, 80, tcp, true},
			{web, api, 80, tcp, true},
			{db, api, 80, tcp, false},
		},
	}, {
		name: "ingress [{}] allows everything; explicit from: [] with ports allows every source on those ports",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: port-open, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: []
    ports: [{port: 8000}]
`,
		flows: []flow{
			{outside, web, 1234, udp, true},
			{otherWeb, web, 80, sctp, true},
			{outside, api, 8000, tcp, true},
			{db, api, 8000, tcp, true},
			{db, api, 8001, tcp, false},
		},
	}, {
		name: "ports are a union across rules, but each rule keeps its own peers",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: two-rules, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80}]
  - from: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 443}]
`,
		flows: []flow{
			{web, api, 80, tcp, true},
			{web, api, 443, tcp, false},
			{db, api, 443, tcp, true},
			{db, api, 80, tcp, false},
		},
	}, {
		name: "rules of several policies selecting one pod are a union",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-api, namespace: shop}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [db, nothing]}]}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432}]
`,
		flows: []flow{
			{web, db, 1, tcp, true},
			{api, db, 5432, tcp, true},
			{api, db, 1, tcp, false},
			{db, db, 5432, tcp, false},
		},
	}, {
		name: "ipBlock with except; selectors never match addresses outside",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: clients, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    - podSelector: {}
`,
		flows: []flow{
			{inside10, web, 80, tcp, true},
			{except10, web, 80, tcp, false},
			{outside, web, 80, tcp, false},
			{api, web, 80, tcp, true},
		},
	}, {
		name: "ipBlock matches a pod only by its known address",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: block, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
`,
		flows: []flow{
			{outside, db, 5432, tcp, true},
			{web, db, 5432, tcp, false},
			{withIP(web, "10.244.0.5"), db, 5432, tcp, true},
		},
	}, {
		name: "endPort ranges, protocol defaults to TCP, a protocol without port is every port, named ports match nothing",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ports, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports:
    - {port: 8000, endPort: 8100}
    - {port: 53}
    - {protocol: SCTP}
    - {port: http}
`,
		flows: []flow{
			{outside, web, 8000, tcp, true},
			{outside, web, 8050, tcp, true},
			{outside, web, 8100, tcp, true},
			{outside, web, 7999, tcp, false},
			{outside, web, 8101, tcp, false},
			{outside, web, 8050, udp, false},
			{outside, web, 53, tcp, true},
			{outside, web, 53, udp, false},
			{outside, web, 9, sctp, true},
			{outside, web, 80, tcp, false},
		},
	}, {
		name: "both sides must agree: egress allows but ingress denies, and the reverse",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {tier: back}}}]
`,
		flows: []flow{
			{web, db, 5432, tcp, false}, // egress yes, ingress no
			{api, db, 5432, tcp, true},
			{web, api, 80, tcp, false}, // egress no, ingress (not isolated) yes
			{web, outside, 443, tcp, false},
		},
	}, {
		name: "cluster DNS is reached through a namespace and pod selector; the same labels elsewhere are not DNS",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
`,
		flows: []flow{
			{web, dns, 53, udp, true},
			{web, dns, 53, tcp, true},
			{web, dns, 54, udp, false},
			{web, Pod("other", "fake-dns", map[string]string{"k8s-app": "kube-dns"}), 53, udp, false},
			{web, Pod("shop", "fake-dns", map[string]string{"k8s-app": "kube-dns"}), 53, udp, false},
		},
	}, {
		name: "a policy of another namespace does not select pods here; NotIn and DoesNotExist expressions",
		policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: other}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: expr, namespace: shop}
spec:
  podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}, {key: tier, operator: Exists}]}
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}}]
`,
		flows: []flow{
			{web, db, 1, tcp, true},        // db has no tier: not selected
			{db, api, 1, tcp, true},        // api selected; db has no tier
			{web, api, 1, tcp, false},      // web has a tier
			{outside, web, 1, tcp, true},   // web is not selected (app=web)
			{web, otherWeb, 1, tcp, false}, // deny-all in other
			{otherWeb, web, 1, tcp, false},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs, err := Decode([]byte(c.policies))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := New(Policies(objs), c.nsLabels)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.flows {
				v := ev.Check(f.from, f.to, f.port, f.proto)
				if v.Allowed != f.want {
					t.Errorf("%s -> %s %d/%s: got %s, want allowed=%v", f.from, f.to, f.port, f.proto, v, f.want)
				}
			}
		})
	}
}

func withIP(e Endpoint, ip string) Endpoint {
	e.IP = netip.MustParseAddr(ip)
	return e
}

func TestNewRejectsInvalidPolicies(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, policy, want string }{
		{"bad cidr", `ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]`, "ipBlock"},
		{"ipBlock with selector", `ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]`, "cannot be combined"},
		{"empty peer", `egress: [{to: [{}]}]`, "no podSelector"},
		{"endPort below port", `ingress: [{ports: [{port: 80, endPort: 79}]}]`, "endPort 79 < port 80"},
		{"endPort with named port", `ingress: [{ports: [{port: http, endPort: 90}]}]`, "named port"},
		{"bad selector", `podSelector: {matchExpressions: [{key: a, operator: In}]}`, "podSelector"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			doc := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  " + c.policy + "\n"
			objs, err := Decode([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(Policies(objs), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestDecodeAndPods(t *testing.T) {
	t.Parallel()
	yamlDocs := `---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx, ports: [{containerPort: 443}, {containerPort: 80}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    metadata: {labels: {app: once}}
    spec:
      restartPolicy: Never
      hostNetwork: true
      containers: [{name: once, image: busybox}]
`
	asList := `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "shop"},
   "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}},
   "spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}}}}]}`
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"yaml", yamlDocs, []string{"shop/Deployment/web app=web ports=[80/ 443/] host=false", "default/Job/once app=once ports=[] host=true"}},
		{"json list", asList, []string{"shop/DaemonSet/agent app=agent ports=[53/UDP] host=false"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs, err := Decode([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range Pods(objs) {
				ports := []string{}
				for _, p := range w.Ports {
					ports = append(ports, fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
				}
				got = append(got, w.String()+" app="+w.Labels["app"]+" ports=["+strings.Join(ports, " ")+"] host="+strconv.FormatBool(w.HostNetwork))
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("pods (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unknown field is an error", func(t *testing.T) {
		t.Parallel()
		_, err := Decode([]byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelecter: {}}\n"))
		if err == nil || !strings.Contains(err.Error(), "podSelecter") {
			t.Errorf("got %v, want an unknown-field error", err)
		}
	})
}
