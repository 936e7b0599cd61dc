package srcmap

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/ast"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	base := Parse("a.yaml", []byte(`x-common: &common
  restart: always
  environment:
    A: "1"
services:
  web:
    <<: *common
    image: nginx
    ports:
      - "80:80"
      - target: 443
  db:
    image: postgres
`))
	override := Parse("b.yaml", []byte(`services:
  web:
    image: nginx:2
`))
	m := &Map{Files: []*Index{base, override}}
	tests := []struct {
		path string
		want ast.Pos
	}{
		{"services.web.image", ast.Pos{File: "b.yaml", Line: 3, Col: 5}},
		{"services.web.ports.0", ast.Pos{File: "a.yaml", Line: 10, Col: 9}},
		{"services.web.ports.1.target", ast.Pos{File: "a.yaml", Line: 11, Col: 9}},
		{"services.web.restart", ast.Pos{File: "a.yaml", Line: 2, Col: 3}},
		{"services.web.environment.A", ast.Pos{File: "a.yaml", Line: 4, Col: 5}},
		{"services.db.healthcheck.test", ast.Pos{File: "a.yaml", Line: 12, Col: 3}},
		{"networks.nope", ast.Pos{File: "a.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, m.Lookup(tt.path)); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestParseInvalidYAML(t *testing.T) {
	t.Parallel()
	idx := Parse("bad.yaml", []byte("services: [\n"))
	m := &Map{Files: []*Index{idx}}
	if got, want := m.Lookup("services.web"), (ast.Pos{File: "bad.yaml"}); got != want {
		t.Errorf("Lookup = %v, want %v", got, want)
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	// one level less would be a document of almost only copies, which
	// compose-go refuses (and Limit reports)
	src := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	idx := Parse("bomb.yaml", []byte(src))
	if !idx.Has("c.8.8.8") {
		t.Errorf("index misses a nested alias path")
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	t.Parallel()
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		src += name + ": &" + name + " [" + "*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	idx := Parse("bomb.yaml", []byte(src))
	if idx.visits > idx.budget+1 {
		t.Errorf("visited %d nodes, bound is %d", idx.visits, idx.budget)
	}
}

func TestListEntriesByName(t *testing.T) {
	t.Parallel()
	idx := Parse("c.yaml", []byte("services:\n  web:\n    depends_on:\n      - db\n      - cache\n"))
	m := &Map{Files: []*Index{idx}}
	if got, want := m.Lookup("services.web.depends_on.cache"), (ast.Pos{File: "c.yaml", Line: 5, Col: 9}); got != want {
		t.Errorf("Lookup = %v, want %v", got, want)
	}
}

// A flow entry that starts with ":" (an IPv6 address) is valid YAML that
// compose-go reads; the index must read it too, or every position of the
// file is lost.
func TestFlowEntryStartingWithColon(t *testing.T) {
	t.Parallel()
	for _, dns := range []string{"[::1]", "[::ffff:1.2.3.4]", "[1.1.1.1, ::1]"} {
		t.Run(dns, func(t *testing.T) {
			t.Parallel()
			idx := Parse("c.yaml", []byte("services:\n  web:\n    dns: "+dns+"\n    ports: 80\n"))
			if !idx.Complete() {
				t.Errorf("index incomplete")
			}
			m := &Map{Files: []*Index{idx}}
			if got, want := m.Lookup("services.web.ports"), (ast.Pos{File: "c.yaml", Line: 4, Col: 5}); got != want {
				t.Errorf("Lookup = %v, want %v", got, want)
			}
		})
	}
}
