package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths of the key material a cluster needs.
type pki struct {
	caCert     string // CA that signed the serving certificate; also the kubeconfigs' CA
	caPEM      []byte
	serveCert  string // kube-apiserver serving certificate
	serveKey   string
	saKey      string // service-account token signing key (private)
	saPub      string // service-account token verification key (public)
	tokenFile  string // --token-auth-file
	adminToken string
	kcmToken   string // system:kube-controller-manager
	schedToken string // system:kube-scheduler
}

// newPKI writes a CA, a serving certificate for 127.0.0.1 and the in-cluster
// names of the API server, a service-account key pair and a static token
// file into dir.
func newPKI(dir string, serviceIP net.IP) (*pki, error) {
	p := &pki{
		caCert:    filepath.Join(dir, "ca.crt"),
		serveCert: filepath.Join(dir, "apiserver.crt"),
		serveKey:  filepath.Join(dir, "apiserver.key"),
		saKey:     filepath.Join(dir, "sa.key"),
		saPub:     filepath.Join(dir, "sa.pub"),
		tokenFile: filepath.Join(dir, "tokens.csv"),
	}
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tycho-e2e-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(p.caCert, p.caPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing CA certificate: %w", err)
	}

	serveKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating serving key: %w", err)
	}
	serveTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default",
			"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), serviceIP},
	}
	serveDER, err := x509.CreateCertificate(rand.Reader, serveTmpl, ca, &serveKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating serving certificate: %w", err)
	}
	if err := writePEM(p.serveCert, "CERTIFICATE", serveDER); err != nil {
		return nil, err
	}
	if err := writeKey(p.serveKey, serveKey); err != nil {
		return nil, err
	}

	// RSA, as kubeadm uses: every consumer of service-account tokens accepts RS256.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating service-account key: %w", err)
	}
	if err := writeKey(p.saKey, saKey); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding service-account public key: %w", err)
	}
	if err := writePEM(p.saPub, "PUBLIC KEY", pubDER); err != nil {
		return nil, err
	}

	for _, tok := range []*string{&p.adminToken, &p.kcmToken, &p.schedToken} {
		if *tok, err = randomToken(); err != nil {
			return nil, err
		}
	}
	// token,user,uid,"group1,group2"
	tokens := fmt.Sprintf("%s,tycho-e2e-admin,tycho-e2e-admin,\"system:masters\"\n", p.adminToken) +
		fmt.Sprintf("%s,system:kube-controller-manager,system:kube-controller-manager\n", p.kcmToken) +
		fmt.Sprintf("%s,system:kube-scheduler,system:kube-scheduler\n", p.schedToken)
	if err := os.WriteFile(p.tokenFile, []byte(tokens), 0o600); err != nil {
		return nil, fmt.Errorf("writing token file: %w", err)
	}
	return p, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func writeKey(path string, key any) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writePEM(path, "PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
