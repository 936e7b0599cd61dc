package realnode

import (
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// TestPodKubeconfig checks that client-go reads PodKubeconfig as meant: the
// relay's address, the API server's certificate checked under 127.0.0.1
// against the service-account CA, the service-account token. (The files
// exist in pods only, so the configuration is loaded, not validated.)
func TestPodKubeconfig(t *testing.T) {
	cfg, err := clientcmd.Load([]byte(PodKubeconfig("198.18.0.1:41234")))
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil || cfg.AuthInfos[ctx.AuthInfo] == nil {
		t.Fatalf("current context %q incomplete: %+v", cfg.CurrentContext, cfg)
	}
	cluster, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	for _, c := range []struct{ what, got, want string }{
		{"server", cluster.Server, "https://198.18.0.1:41234"},
		{"TLS server name", cluster.TLSServerName, "127.0.0.1"},
		{"CA file", cluster.CertificateAuthority, sa + "ca.crt"},
		{"token file", user.TokenFile, sa + "token"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if cluster.InsecureSkipTLSVerify {
		t.Error("the kubeconfig skips TLS verification")
	}
}
