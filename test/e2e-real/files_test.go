package e2ereal

import (
	"strings"
	"testing"
	"time"
)

const filesCompose = `name: files
services:
  app:
    image: tycho.test/probe:e2e
    command: ["/probe", "sleep"]
    environment:
      GREETING: hello world
      FROM_BOTH: from-environment
      DOLLAR: "cost $$5"
      EMPTY: ""
    env_file: [app.env]
    secrets:
      - token
      - source: token
        target: token-copy
      - source: password
        target: /etc/app/password
    configs:
      - settings
      - source: settings
        target: /etc/app/settings.conf
    volumes:
      - ./hello.txt:/data/hello.txt:ro
      - ./conf:/conf
secrets:
  token:
    file: ./token.txt
  password:
    environment: APP_PASSWORD
configs:
  settings:
    content: |
      key=value
`

// TestFiles checks the environment, secrets, configs and bind-mounted
// files that compose gives a container.
func TestFiles(t *testing.T) {
	need(t)
	t.Parallel()
	s := deploy(t, "files", map[string]string{
		"compose.yaml": filesCompose,
		"app.env":      "FROM_FILE=file-value\nFROM_BOTH=from-env-file\n",
		"token.txt":    "tok-123\n",
		"hello.txt":    "hello from the host\n",
		"conf/a.conf":  "a=1\n",
		"conf/b.conf":  "b=2\n",
	}, []string{"APP_PASSWORD=s3cret"}) // the compile-time environment, as for docker compose
	s.waitReady(3*time.Minute, "app")

	code, env := s.exec("app", "/probe", "env")
	if code != 0 {
		t.Fatalf("probe env: exit %d: %s", code, env)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(env, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	for k, want := range map[string]string{
		"GREETING":  "hello world",
		"FROM_FILE": "file-value",
		"FROM_BOTH": "from-environment", // environment wins over env_file
		"DOLLAR":    "cost $5",
		"EMPTY":     "",
	} {
		if got, ok := vars[k]; !ok || got != want {
			t.Errorf("env %s = %q (set: %t), compose: %q", k, got, ok, want)
		}
	}

	for _, f := range []struct{ path, want string }{
		{"/run/secrets/token", "tok-123\n"},
		{"/run/secrets/token-copy", "tok-123\n"},
		{"/etc/app/password", "s3cret"},
		{"/settings", "key=value\n"},
		{"/etc/app/settings.conf", "key=value\n"},
		{"/data/hello.txt", "hello from the host\n"},
		{"/conf/a.conf", "a=1\n"},
		{"/conf/b.conf", "b=2\n"},
	} {
		code, got := s.exec("app", "/probe", "cat", f.path)
		if code != 0 || got != f.want {
			t.Errorf("cat %s: exit %d, %q; compose: %q", f.path, code, got, f.want)
		}
	}
}
