package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/client"
)

// TestClientRoundTrip drives the server through the Go client.
func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFake()
	ts := httptest.NewServer(validating(t, newTestServer(t, f, nil)))
	defer ts.Close()
	ctx := context.Background()
	c, err := client.New(ts.URL, client.WithToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Start(ctx, api.StartRequest{Name: "demo", System: api.YAMLSystem("services:\n  web:\n    image: nginx\n    ports: ['80:80']\n")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, res.SID)
	if err != nil || len(st) != 1 || !st[0].IsReady {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if _, err := c.Modify(ctx, res.SID, api.SystemPatch{Labels: map[string]string{"team": "x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, res.SID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx, res.SID); !client.IsNotFound(err) {
		t.Errorf("status after delete: %v, want not found", err)
	}

	_, err = c.Start(ctx, api.StartRequest{Name: "demo", System: api.YAMLSystem("services:\n  web:\n    image: nginx\n    imagex: 1\n")})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 422 || len(e.Diagnostics) == 0 || e.Diagnostics[0].File != "compose.yaml" || e.Diagnostics[0].Line != 4 {
		t.Errorf("start of a bad system: %#v", err)
	}
	bad, _ := client.New(ts.URL, client.WithToken("wrong-token-0123456789"))
	if _, err := bad.Status(ctx, ""); !errors.As(err, &e) || e.StatusCode != 401 {
		t.Errorf("wrong token: %v", err)
	}
}
