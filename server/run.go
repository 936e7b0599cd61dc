package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// RunOptions say where and how Run serves.
type RunOptions struct {
	// Addr is the TCP address to listen on, e.g. ":5000".
	Addr string
	// Listener, when not nil, is used instead of listening on Addr.
	Listener net.Listener
	// TLSCert and TLSKey are PEM files; with both, Run serves HTTPS.
	TLSCert string
	TLSKey  string
	// ShutdownTimeout bounds the graceful shutdown, after which running
	// requests are cancelled (0: 30s).
	ShutdownTimeout time.Duration
	// Started, when not nil, is called with the address once Run listens.
	Started func(net.Addr)
}

// MinTokenLength is the shortest bearer token ReadTokenFile accepts.
const MinTokenLength = 16

// ReadTokenFile reads the bearer tokens of a file: one per line, blank
// lines and lines starting with '#' ignored (several tokens allow
// rotation). Each must have at least MinTokenLength characters.
func ReadTokenFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if len(t) < MinTokenLength {
			return nil, fmt.Errorf("token file %s:%d: token shorter than %d characters", path, n, MinTokenLength)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the token file: %w", err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("token file %s holds no token", path)
	}
	return tokens, nil
}

// Run serves s until ctx ends, then shuts down gracefully: /readyz turns
// 503, the listener closes, running requests get ShutdownTimeout to
// finish and are cancelled after it. It returns nil after a clean
// shutdown.
func Run(ctx context.Context, s *Server, opts RunOptions) error {
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		return errors.New("TLS needs both a certificate and a key")
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	var tlsConfig *tls.Config
	if opts.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", opts.Addr); err != nil {
			return fmt.Errorf("listening: %w", err)
		}
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      s.MaxTimeout() + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	s.opts.Log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme, "auth", len(s.tokens) > 0)
	if opts.Started != nil {
		opts.Started(ln.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.SetStopping()
	s.opts.Log.Info("shutting down", "timeout", opts.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// cancel what still runs (a start rolls back) and drop the
		// connections
		cancelBase()
		_ = srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	<-served // http.ErrServerClosed
	s.opts.Log.Info("stopped")
	return nil
}
