package e2ereal

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The shared-names system: names as docker's resolver answers them, with
// every name held by more than one thing.
//   - search: a network alias of reader and writer on default, and of
//     outsider on network other, which the client does not share;
//   - reader: the name of service reader and an alias of my-app;
//   - my-app: a service whose container_name (my_app) and alias (My-App)
//     normalise to its own name.
//
// Every container answers on 80/tcp with its PROBE_NAME.
const sharedNamesCompose = `name: shared-names
services:
  reader:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    environment: {PROBE_NAME: reader}
    networks:
      default:
        aliases: [search]
  writer:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    environment: {PROBE_NAME: writer}
    networks:
      default:
        aliases: [search]
  my-app:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    environment: {PROBE_NAME: my-app}
    container_name: my_app
    networks:
      default:
        aliases: [My-App, reader]
  outsider:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    environment: {PROBE_NAME: outsider}
    networks:
      other:
        aliases: [search]
  client:
    image: tycho.test/probe:e2e
    command: ["/probe", "sleep"]
networks:
  other: {}
`

// TestSharedNames checks that a name several services hold resolves, from
// a client, to the pods of all of them and that each of those on a network
// the client shares answers; that a name's holder on another network stays
// unreachable (sharing a name grants no reachability); and that a service
// whose container_name normalises to its own name resolves by it.
func TestSharedNames(t *testing.T) {
	need(t)
	t.Parallel()
	svcs := []string{"reader", "writer", "my-app", "outsider", "client"}
	s := deploy(t, "shared-names", map[string]string{"compose.yaml": sharedNamesCompose}, nil)
	s.waitReady(3*time.Minute, svcs...)
	// every server listens before anything is probed, so that a blocked
	// connection below is network policy, not a server still starting
	for _, svc := range svcs[:4] {
		if !s.waitFlow(svc, "127.0.0.1:80", true, 30*time.Second) {
			t.Fatalf("%s does not answer on 80 from its own pod", svc)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	byIP := map[string]string{} // pod IP → service
	for _, svc := range svcs {
		p, err := s.pod(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.PodIP == "" {
			t.Fatalf("pod %s of %s has no IP", p.Name, svc)
		}
		byIP[p.Status.PodIP] = svc
	}

	tests := []struct {
		name    string
		holders []string // what the name resolves to, sorted
		reached []string // the holders the client reaches on 80, sorted
	}{
		{name: "search", holders: []string{"outsider", "reader", "writer"}, reached: []string{"reader", "writer"}},
		{name: "reader", holders: []string{"my-app", "reader"}, reached: []string{"my-app", "reader"}},
		{name: "my-app", holders: []string{"my-app"}, reached: []string{"my-app"}},
		{name: "writer", holders: []string{"writer"}, reached: []string{"writer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The endpoints of a Service follow the pods a moment after
			// they are Ready, and CoreDNS answers from its cache.
			var got []string
			var addrs []string
			deadline := time.Now().Add(60 * time.Second)
			for {
				code, out := s.exec("client", "/probe", "dns", "-timeout", "2s", tt.name)
				got, addrs = got[:0], addrs[:0]
				for _, line := range strings.Fields(out) {
					if svc, ok := byIP[line]; ok {
						got = append(got, svc)
						addrs = append(addrs, line)
					} else if code == 0 {
						got = append(got, "unknown "+line)
					}
				}
				sort.Strings(got)
				if slices.Equal(got, tt.holders) || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Second)
			}
			if !slices.Equal(got, tt.holders) {
				t.Fatalf("%s resolves to %v, want the pods of %v", tt.name, got, tt.holders)
			}
			t.Logf("%s resolves to the pods of %v", tt.name, got)

			var reached []string
			for _, a := range addrs {
				holder := byIP[a]
				want := slices.Contains(tt.reached, holder)
				if !want && node.Enforcer == "" {
					t.Logf("%s (%s) of %s: not checked without an enforcer", a, holder, tt.name)
					continue
				}
				// each address answers with its service's name; a holder
				// the client shares no network with must stay blocked
				if !s.waitFlow("client", a+":80", want, 30*time.Second) {
					t.Errorf("%s (%s) of %s: reachable %t, want %t", a, holder, tt.name, !want, want)
					continue
				}
				if !want {
					continue
				}
				code, out := s.exec("client", "/probe", "connect", "-timeout", "2s", a+":80")
				// the answer is the last line: kubectl exec may log before it
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if answer := lines[len(lines)-1]; code != 0 || answer != holder {
					t.Errorf("%s (%s) of %s answers %q (exit %d), want %q", a, holder, tt.name, answer, code, holder)
					continue
				}
				reached = append(reached, holder)
			}
			sort.Strings(reached)
			if !slices.Equal(reached, tt.reached) {
				t.Errorf("the client reached %v through %s, want %v", reached, tt.name, tt.reached)
			}
		})
	}
}
