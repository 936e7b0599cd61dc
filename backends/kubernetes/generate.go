package kubernetes

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
)

// Object is a Kubernetes object Tycho emits.
type Object interface {
	runtime.Object
	metav1.Object
}

// Options tune code generation.
type Options struct {
	// WaitImage runs the init containers that wait for a dependency's
	// Service (it needs sh, nc and nslookup).
	WaitImage string
	// KubectlImage runs the init containers that wait for a Job to
	// complete.
	KubectlImage string
}

// Default images of Tycho's own helper containers.
const (
	DefaultWaitImage    = "busybox:1.37"
	DefaultKubectlImage = "registry.k8s.io/kubectl:v1.34.0"
)

type gen struct {
	sys   *ast.System
	opts  Options
	diags diag.List
	objs  []Object
	// names in use, per kind, for collision checks
	names map[string]map[string]string
	// object name of each service
	svcName map[string]string
	// the names of volumes, secrets and configs
	volName    map[string]string
	secretName map[string]string
	configName map[string]string
	waiterUsed bool
	// service accounts of the user's that run waiting init containers
	waiterSubjects map[string]bool
}

// Generate turns sys into Kubernetes objects in apply-safe order.
func Generate(sys *ast.System, opts Options) ([]Object, diag.List) {
	if opts.WaitImage == "" {
		opts.WaitImage = DefaultWaitImage
	}
	if opts.KubectlImage == "" {
		opts.KubectlImage = DefaultKubectlImage
	}
	g := &gen{sys: sys, opts: opts, names: map[string]map[string]string{}, svcName: map[string]string{},
		volName: map[string]string{}, secretName: map[string]string{}, configName: map[string]string{}, waiterSubjects: map[string]bool{}}
	g.assignNames()
	if g.diags.HasErrors() {
		return nil, g.diags
	}
	if sys.CreateNamespace && sys.Namespace != "" {
		ns := &corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: sys.Namespace, Labels: g.labels("")}}
		if lvl := sys.Policy.SecurityLevel; lvl != "" {
			ns.Labels["pod-security.kubernetes.io/enforce"] = lvl
			ns.Labels["pod-security.kubernetes.io/warn"] = lvl
		}
		g.add(ns)
	}
	for _, s := range sys.Secrets {
		g.secret(s)
	}
	for _, c := range sys.Configs {
		g.config(c)
	}
	for _, v := range sys.Volumes {
		g.pvc(v)
	}
	for _, s := range sys.Services {
		g.service(s)
	}
	if g.waiterUsed {
		g.waiterRBAC()
	}
	g.networkPolicies()
	sortObjects(g.objs)
	return g.objs, g.diags
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func (g *gen) add(o Object) {
	if g.sys.Namespace != "" {
		if _, isNS := o.(*corev1.Namespace); !isNS {
			o.SetNamespace(g.sys.Namespace)
		}
	}
	g.objs = append(g.objs, o)
}

// claim reserves name for kind, reporting a collision between two compose
// names that normalise to one object name.
func (g *gen) claim(kind, name, what string, pos ast.Pos, path string) bool {
	m := g.names[kind]
	if m == nil {
		m = map[string]string{}
		g.names[kind] = m
	}
	if prev, ok := m[name]; ok {
		g.diags.Errorf("name-collision", pos, path, "%s and %s both become the %s %q", prev, what, kind, name).Note("rename one of them")
		return false
	}
	m[name] = what
	return true
}

func (g *gen) rename(orig, name, what string, pos ast.Pos, path string) {
	if orig != name {
		g.diags.Infof("renamed", pos, path, "%s %q is named %q in Kubernetes", what, orig, name)
	}
}

func (g *gen) assignNames() {
	for _, s := range g.sys.Services {
		n := DNS1035(s.Name, 63)
		p := "services." + s.Name
		if n != s.Name {
			g.diags.Warnf("renamed", s.Pos, p, "service %q is named %q in Kubernetes: other services reach it as %q, not %q", s.Name, n, n, s.Name).
				Note("use a lower-case name of letters, digits and '-' that starts with a letter")
		}
		g.svcName[s.Name] = n
		g.claim("Service", n, fmt.Sprintf("service %q", s.Name), s.Pos, p)
		g.claim("workload", n, fmt.Sprintf("service %q", s.Name), s.Pos, p)
	}
	for _, s := range g.sys.Services {
		for _, a := range s.Aliases {
			n := DNS1035(a.Name, 63)
			if n != a.Name {
				g.diags.Warnf("alias-name", a.Pos, "services."+s.Name, "alias %q is not a valid DNS label: it resolves as %q", a.Name, n)
			}
			g.claim("Service", n, fmt.Sprintf("alias %q of service %q", a.Name, s.Name), a.Pos, "services."+s.Name)
		}
		if hasPublished(s) {
			n := DNS1035(g.svcName[s.Name]+"-published", 63)
			g.claim("Service", n, fmt.Sprintf("the published ports of service %q", s.Name), s.Pos, "services."+s.Name+".ports")
		}
	}
	labelOf := map[string]string{}
	for _, n := range g.sys.Networks {
		l := NetworkLabel(n.Name)
		if prev, ok := labelOf[l]; ok {
			g.diags.Errorf("name-collision", n.Pos, "networks."+n.Name, "networks %q and %q both become the pod label %s: their services could reach each other", prev, n.Name, l).Note("rename one of them")
		}
		labelOf[l] = n.Name
	}
	for _, kv := range g.sys.Labels {
		if strings.HasPrefix(kv.Key, networkLabelPrefix) || kv.Key == LabelPartOf || kv.Key == LabelName || kv.Key == LabelGUID {
			g.diags.Errorf("reserved-label", kv.Pos, "x-tycho.labels."+kv.Key, "label %s is Tycho's own: it decides which pods network policies select", kv.Key)
		}
	}
	for _, v := range g.sys.Volumes {
		if v.External {
			g.volName[v.Name] = g.externalName("volume", v.Name, v.ExternalName, v.Pos, "volumes."+v.Name)
			continue
		}
		n := DNSLabel(v.Name, 63)
		g.rename(v.Name, n, "volume", v.Pos, "volumes."+v.Name)
		g.volName[v.Name] = n
		g.claim("PersistentVolumeClaim", n, fmt.Sprintf("volume %q", v.Name), v.Pos, "volumes."+v.Name)
	}
	for _, s := range g.sys.Secrets {
		if s.External {
			g.secretName[s.Name] = g.externalName("secret", s.Name, s.ExternalName, s.Pos, "secrets."+s.Name)
			continue
		}
		n := DNSLabel(s.Name, 63)
		g.secretName[s.Name] = n
		g.claim("Secret", n, fmt.Sprintf("secret %q", s.Name), s.Pos, "secrets."+s.Name)
	}
	for _, c := range g.sys.Configs {
		if c.External {
			g.configName[c.Name] = g.externalName("config", c.Name, c.ExternalName, c.Pos, "configs."+c.Name)
			continue
		}
		n := DNSLabel(c.Name, 63)
		g.configName[c.Name] = n
		g.claim("ConfigMap", n, fmt.Sprintf("config %q", c.Name), c.Pos, "configs."+c.Name)
	}
}

// externalName is the name of an existing object; one that Kubernetes
// cannot have is normalised, with a diagnostic.
func (g *gen) externalName(what, name, ext string, pos ast.Pos, path string) string {
	if len(validation.IsDNS1123Subdomain(ext)) == 0 {
		return ext
	}
	n := DNSLabel(ext, 63)
	g.diags.Warnf("renamed", pos, path, "external %s %q is not a valid Kubernetes name: the object %q is expected", what, ext, n)
	return n
}

// labels are the labels of every object of the system; service adds the
// service's name.
func (g *gen) labels(service string) map[string]string {
	l := map[string]string{
		LabelManagedBy: ManagedBy,
		LabelPartOf:    DNSLabel(g.sys.Name, 63),
	}
	if service != "" {
		l[LabelName] = g.svcName[service]
	}
	if g.sys.GUID != "" {
		l[LabelGUID] = g.sys.GUID
		l[LabelExecutor] = "tycho"
	}
	for _, kv := range g.sys.Labels {
		if _, ours := l[kv.Key]; !ours {
			l[kv.Key] = kv.Value
		}
	}
	return l
}

// selector selects the pods of a service by labels that never change.
func (g *gen) selector(service string) map[string]string {
	l := map[string]string{LabelPartOf: DNSLabel(g.sys.Name, 63), LabelName: g.svcName[service]}
	if g.sys.GUID != "" {
		l[LabelGUID] = g.sys.GUID
	}
	return l
}

func (g *gen) meta(name, service string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Labels: g.labels(service)}
	if len(g.sys.Annotations) > 0 {
		m.Annotations = map[string]string{}
		for _, kv := range g.sys.Annotations {
			m.Annotations[kv.Key] = kv.Value
		}
	}
	return m
}

func (g *gen) secret(s *ast.Secret) {
	if s.External {
		return
	}
	n := g.secretName[s.Name]
	g.add(&corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: g.meta(n, ""), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{dataKey(s.Name): s.Data}})
}

func (g *gen) config(c *ast.Config) {
	if c.External {
		return
	}
	n := g.configName[c.Name]
	g.add(configMap(g.meta(n, ""), []ast.File{{Name: dataKey(c.Name), Data: c.Data}}))
}

// dataKey makes a valid ConfigMap/Secret key ([-._a-zA-Z0-9]+).
func dataKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || s == "." || s == ".." {
		return "data"
	}
	return b.String()
}

// configMap stores files as text where they are UTF-8, else as binary.
func configMap(meta metav1.ObjectMeta, files []ast.File) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: meta}
	for _, f := range files {
		if isText(f.Data) {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[f.Name] = string(f.Data)
		} else {
			if cm.BinaryData == nil {
				cm.BinaryData = map[string][]byte{}
			}
			cm.BinaryData[f.Name] = f.Data
		}
	}
	if cm.Data == nil && cm.BinaryData == nil {
		cm.Data = map[string]string{}
	}
	return cm
}

func isText(b []byte) bool {
	for _, c := range string(b) {
		if c == '\uFFFD' || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
			return false
		}
	}
	return true
}

func (g *gen) pvc(v *ast.Volume) {
	if v.External {
		return
	}
	mode := corev1.ReadWriteOnce
	if v.ReadWriteMany {
		mode = corev1.ReadWriteMany
	}
	pvc := &corev1.PersistentVolumeClaim{TypeMeta: tm("v1", "PersistentVolumeClaim"), ObjectMeta: g.meta(g.volName[v.Name], ""),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{mode},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(v.Size, resource.BinarySI)}},
		}}
	if v.StorageClass != "" {
		sc := v.StorageClass
		pvc.Spec.StorageClassName = &sc
	}
	g.add(pvc)
}

// servicePorts are the container ports of s, one per (port, protocol).
func servicePorts(s *ast.Service) []corev1.ServicePort {
	seen := map[string]bool{}
	var out []corev1.ServicePort
	for _, p := range s.Ports {
		key := fmt.Sprintf("%d/%s", p.Target, p.Protocol)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, corev1.ServicePort{Name: portName(p.Name, string(p.Protocol), p.Target), Port: int32(p.Target),
			TargetPort: intstr.FromInt32(int32(p.Target)), Protocol: proto(p.Protocol)})
	}
	uniquePortNames(out)
	return out
}

func uniquePortNames(ports []corev1.ServicePort) {
	used := map[string]bool{}
	for i := range ports {
		if used[ports[i].Name] {
			ports[i].Name = strings.ToLower(string(ports[i].Protocol)) + "-" + strconv.Itoa(int(ports[i].Port))
		}
		used[ports[i].Name] = true
	}
}

func proto(p ast.Protocol) corev1.Protocol {
	switch p {
	case ast.UDP:
		return corev1.ProtocolUDP
	case ast.SCTP:
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

func (g *gen) kubeServices(s *ast.Service) {
	name := g.svcName[s.Name]
	ports := servicePorts(s)
	mk := func(n string) *corev1.Service {
		// Headless: the name resolves to the ready pods themselves, as
		// docker's DNS resolves a service to its containers, so every
		// port a container listens on is reached by name, declared or
		// not (docs/mapping.md).
		return &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: g.meta(n, s.Name),
			Spec: corev1.ServiceSpec{Selector: g.selector(s.Name), Ports: ports, ClusterIP: corev1.ClusterIPNone}}
	}
	g.add(mk(name))
	for _, a := range s.Aliases {
		g.add(mk(DNS1035(a.Name, 63)))
	}
	if !hasPublished(s) {
		return
	}
	pub := &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: g.meta(DNS1035(name+"-published", 63), s.Name),
		Spec: corev1.ServiceSpec{Selector: g.selector(s.Name)}}
	switch s.Expose {
	case ast.ExposeNodePort:
		pub.Spec.Type = corev1.ServiceTypeNodePort
	case ast.ExposeClusterIP:
		pub.Spec.Type = corev1.ServiceTypeClusterIP
	default:
		pub.Spec.Type = corev1.ServiceTypeLoadBalancer
	}
	if len(s.Clients) > 0 && pub.Spec.Type != corev1.ServiceTypeClusterIP {
		// keep the client's source address, so that the policy's client
		// CIDRs see it (with Cluster, traffic arrives from node addresses)
		pub.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	seen := map[string]bool{}
	for _, p := range s.Ports {
		if p.Published == 0 {
			continue
		}
		key := fmt.Sprintf("%d/%s", p.Published, p.Protocol)
		if seen[key] {
			g.diags.Errorf("duplicate-published-port", p.Pos, "services."+s.Name+".ports", "port %d/%s is published twice", p.Published, p.Protocol)
			continue
		}
		seen[key] = true
		sp := corev1.ServicePort{Name: portName(p.Name, string(p.Protocol), p.Published), Port: int32(p.Published),
			TargetPort: intstr.FromInt32(int32(p.Target)), Protocol: proto(p.Protocol)}
		if pub.Spec.Type == corev1.ServiceTypeNodePort {
			if p.Published >= 30000 && p.Published <= 32767 {
				sp.NodePort = int32(p.Published)
			} else {
				g.diags.Infof("node-port", p.Pos, "services."+s.Name+".ports", "port %d is reached on the nodes at a node port the cluster picks (30000-32767), not at %d", p.Published, p.Published).Note("tycho status shows it")
			}
		}
		pub.Spec.Ports = append(pub.Spec.Ports, sp)
	}
	uniquePortNames(pub.Spec.Ports)
	g.add(pub)
}

func hasPublished(s *ast.Service) bool {
	for _, p := range s.Ports {
		if p.Published != 0 {
			return true
		}
	}
	return false
}

func sortObjects(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		ri, rj := kindRank(objs[i]), kindRank(objs[j])
		if ri != rj {
			return ri < rj
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}

// kindRank is the apply-safe order of kinds.
func kindRank(o Object) int {
	switch o.(type) {
	case *corev1.Namespace:
		return 0
	case *corev1.ServiceAccount:
		return 1
	case *rbacv1.Role:
		return 2
	case *rbacv1.RoleBinding:
		return 3
	case *corev1.ConfigMap:
		return 4
	case *corev1.Secret:
		return 5
	case *corev1.PersistentVolumeClaim:
		return 6
	case *networkingv1.NetworkPolicy:
		// before the workloads, so that no pod starts unprotected
		return 7
	case *corev1.Service:
		return 8
	case *appsv1.Deployment, *appsv1.DaemonSet, *batchv1.Job:
		return 9
	}
	return 10
}
