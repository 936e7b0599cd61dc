package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadTokenFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    []string
		err     string
	}{
		{"one", "abcdefghijklmnopqrstuvwxyz\n", []string{"abcdefghijklmnopqrstuvwxyz"}, ""},
		{"rotation", "# old and new\n0123456789abcdef0\n\n  fedcba9876543210f  \n", []string{"0123456789abcdef0", "fedcba9876543210f"}, ""},
		{"empty", "# nothing\n\n", nil, "holds no token"},
		{"short", "secret\n", nil, ":1: token shorter than 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadTokenFile(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ReadTokenFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file: no error")
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns
// their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tycho-api"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// TestRun serves over HTTP and HTTPS, then shuts down when the context
// ends.
func TestRun(t *testing.T) {
	t.Parallel()
	cert, key, pool := selfSigned(t)
	tests := []struct {
		name      string
		opts      RunOptions
		scheme    string
		transport *http.Transport
	}{
		{"http", RunOptions{Addr: "127.0.0.1:0"}, "http", &http.Transport{}},
		{"https", RunOptions{Addr: "127.0.0.1:0", TLSCert: cert, TLSKey: key}, "https", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, newFake(), nil)
			ctx, cancel := context.WithCancel(context.Background())
			addr := make(chan net.Addr, 1)
			tc.opts.Started = func(a net.Addr) { addr <- a }
			done := make(chan error, 1)
			go func() { done <- Run(ctx, s, tc.opts) }()
			var base string
			select {
			case a := <-addr:
				base = tc.scheme + "://" + a.String()
			case err := <-done:
				t.Fatalf("Run: %v", err)
			}
			hc := &http.Client{Transport: tc.transport, Timeout: 10 * time.Second}
			for _, p := range []struct {
				path, token string
				want        int
			}{{"/healthz", "", 200}, {"/v1/systems", "", 401}, {"/v1/systems", testToken, 200}} {
				req, _ := http.NewRequest("GET", base+p.path, nil)
				if p.token != "" {
					req.Header.Set("Authorization", "Bearer "+p.token)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v", p.path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				validateStatus(t, s, req, resp.StatusCode, resp.Header, body)
				if resp.StatusCode != p.want {
					t.Errorf("GET %s: %d, want %d", p.path, resp.StatusCode, p.want)
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run after the context ended: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after the context ended")
			}
		})
	}
}

func TestRunRefusesHalfTLS(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, newFake(), nil)
	if err := Run(context.Background(), s, RunOptions{Addr: "127.0.0.1:0", TLSCert: "x.crt"}); err == nil {
		t.Error("a certificate without a key: no error")
	}
}
