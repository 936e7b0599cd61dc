package kubernetes

import (
	"slices"
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
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

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
	// dns are the system's DNS names by Service name; dnsOrder the same in
	// the order they were claimed
	dns      map[string]*dnsName
	dnsOrder []*dnsName
	// the names, labels and selector of each service's objects
	svcs map[string]*serviceMeta
	// the names of volumes, secrets and configs
	volName    map[string]string
	secretName map[string]string
	configName map[string]string
	// partOf is the system's name as a label value
	partOf string
	// sysLabels are the labels of the objects of no service;
	// sysAnnotations the annotations of every object (nil for none).
	// Like serviceMeta's maps, each is shared by many objects.
	sysLabels      map[string]string
	sysAnnotations map[string]string
	// rules are the network weaver's rules by service (nil without
	// network policy)
	rules map[string]*ast.ServiceRules
	// netLabel and netSelector remember each network's pod label and the
	// selector of its pods
	netLabel    map[string]string
	netSelector map[string]*metav1.LabelSelector
	// helperSec is the security context of Tycho's helper containers
	helperSec *corev1.SecurityContext
	// annotationKeyErr remembers why an annotation key is invalid ("" for
	// a valid one): services often share their label keys
	annotationKeyErr map[string]string
	waiterUsed       bool
	// waiterPos and waiterPath are those of the first dependency waited
	// for through the Kubernetes API.
	waiterPos  ast.Pos
	waiterPath string
	// service accounts of the user's that run waiting init containers
	waiterSubjects map[string]bool
}

// serviceMeta is what the objects of one service share. Objects are
// printed and never changed after Generate, so all the objects of a
// service share one labels map and one selector map; an object whose
// labels differ (the pod template's) gets a copy.
type serviceMeta struct {
	// name is the object name of the service's Service, workload and
	// container; published that of the Service of its published ports
	// ("" when it has none)
	name      string
	published string
	// routed is the name of the ClusterIP Service behind its routes ("" when
	// it has no routed port)
	routed string
	// path is the service's key path and what its description,
	// `service "<name>"`, for diagnostics
	path string
	what string
	// labels are the labels of the service's objects; selector selects its
	// pods by labels that never change
	labels   map[string]string
	selector map[string]string
	// names are the pod labels of the shared names the service holds
	names []string
}

// Generate turns sys into Kubernetes objects in apply-safe order.
func Generate(sys *ast.System, opts Options) ([]Object, diag.List) {
	if opts.WaitImage == "" {
		opts.WaitImage = DefaultWaitImage
	}
	if opts.KubectlImage == "" {
		opts.KubectlImage = DefaultKubectlImage
	}
	g := &gen{sys: sys, opts: opts, names: map[string]map[string]string{},
		svcs:    make(map[string]*serviceMeta, len(sys.Services)),
		volName: make(map[string]string, len(sys.Volumes)), secretName: make(map[string]string, len(sys.Secrets)),
		configName: make(map[string]string, len(sys.Configs)), partOf: DNSLabel(sys.Name, 63),
		netLabel: map[string]string{}, netSelector: map[string]*metav1.LabelSelector{},
		annotationKeyErr: map[string]string{}, waiterSubjects: map[string]bool{}}
	g.assignNames()
	if g.diags.HasErrors() {
		return nil, g.diags
	}
	g.shareNames()
	g.sysLabels = g.labels("")
	if len(sys.Annotations) > 0 {
		g.sysAnnotations = make(map[string]string, len(sys.Annotations))
		for _, kv := range sys.Annotations {
			g.sysAnnotations[kv.Key] = kv.Value
		}
	}
	if np := sys.Policy.Network; np != nil {
		g.rules = make(map[string]*ast.ServiceRules, len(np.Rules))
		for i := range np.Rules {
			// the first rule of a service is the one that counts
			if r := &np.Rules[i]; g.rules[r.Service] == nil {
				g.rules[r.Service] = r
			}
		}
	}
	// about the number of objects: a few per service
	g.objs = make([]Object, 0, 4*len(sys.Services)+len(sys.Secrets)+len(sys.Configs)+len(sys.Volumes)+4)
	if sys.CreateNamespace && sys.Namespace != "" {
		// its own labels: the security level is added to them
		ns := &corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: sys.Namespace, Labels: g.labels("")}}
		if lvl := sys.Policy.SecurityLevel; lvl != "" {
			ns.Labels["pod-security.kubernetes.io/enforce"] = lvl
			ns.Labels["pod-security.kubernetes.io/warn"] = lvl
		}
		g.add(ns)
	}
	g.referenceDiags()
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
	g.nameServices()
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
	g.names["Service"] = make(map[string]string, 2*len(g.sys.Services))
	g.names["workload"] = make(map[string]string, len(g.sys.Services))
	g.dns = make(map[string]*dnsName, len(g.sys.Services))
	g.dnsOrder = make([]*dnsName, 0, len(g.sys.Services))
	// the names of the services, in one block
	owned := make([]dnsName, len(g.sys.Services))
	for i, s := range g.sys.Services {
		n := DNS1035(s.Name, 63)
		// what is `service "<name>"`, as %q writes it
		sm := &serviceMeta{name: n, path: "services." + s.Name, what: "service " + strconv.Quote(s.Name)}
		if n != s.Name {
			g.diags.Warnf("renamed", s.Pos, sm.path, "service %q is named %q in Kubernetes: other services reach it as %q, not %q", s.Name, n, n, s.Name).
				Note("use a lower-case name of letters, digits and '-' that starts with a letter")
		}
		sm.labels = g.labels(n)
		sm.selector = g.selector(n)
		g.svcs[s.Name] = sm
		// two services whose names normalise alike are the one error
		// among names: docker keeps them apart, Kubernetes cannot
		if g.claim("Service", n, sm.what, s.Pos, sm.path) {
			d := &owned[i]
			d.name, d.owner = n, s.Name
			d.hold(s, "", s.Pos, sm.path)
			g.dns[n] = d
			g.dnsOrder = append(g.dnsOrder, d)
		}
		g.claim("workload", n, sm.what, s.Pos, sm.path)
	}
	// the Services of published ports first, so that an alias that takes
	// one's name is the one reported
	for _, s := range g.sys.Services {
		sm := g.svcs[s.Name]
		if hasUnrouted(s) {
			sm.published = DNS1035(sm.name+"-published", 63)
			g.claim("Service", sm.published, "the published ports of "+sm.what, s.Pos, sm.path+".ports")
		}
		if hasRouted(s) {
			sm.routed = DNS1035(sm.name+"-routed", 63)
			g.claim("Service", sm.routed, "the routed ports of "+sm.what, s.Pos, sm.path+".ports")
		}
	}
	for _, s := range g.sys.Services {
		sm := g.svcs[s.Name]
		for _, a := range s.Aliases {
			g.claimAlias(s, sm, a)
		}
	}
	labelOf := map[string]string{}
	for _, n := range g.sys.Networks {
		l := g.networkLabel(n.Name)
		if prev, ok := labelOf[l]; ok {
			g.diags.Errorf("name-collision", n.Pos, "networks."+n.Name, "networks %q and %q both become the pod label %s: their services could reach each other", prev, n.Name, l).Note("rename one of them")
		}
		labelOf[l] = n.Name
	}
	for _, kv := range g.sys.Labels {
		if owner := ReservedLabel(kv.Key); owner != "" {
			g.diags.Errorf("reserved-label", kv.Pos, "x-tycho.labels."+kv.Key, "label %s is %s", kv.Key, ownedBy(owner)).
				Note("Tycho's selectors, network policies and bookkeeping and the Kubernetes controllers rely on these labels: use a key of your own domain")
		}
	}
	for _, kv := range g.sys.Annotations {
		if owner := ReservedAnnotation(kv.Key); owner != "" {
			g.diags.Errorf("reserved-annotation", kv.Pos, "x-tycho.annotations."+kv.Key, "annotation %s is %s", kv.Key, ownedBy(owner)).
				Note("use a key of your own domain")
		}
	}
	for _, v := range g.sys.Volumes {
		if v.External {
			g.volName[v.Name] = g.externalName("volume", v.Name, v.ExternalName, v.Pos, "volumes."+v.Name)
			continue
		}
		n := DNSLabel(v.Name, 63)
		p := "volumes." + v.Name
		g.rename(v.Name, n, "volume", v.Pos, p)
		g.volName[v.Name] = n
		g.claim("PersistentVolumeClaim", n, "volume "+strconv.Quote(v.Name), v.Pos, p)
	}
	for _, s := range g.sys.Secrets {
		if s.External {
			g.secretName[s.Name] = g.externalName("secret", s.Name, s.ExternalName, s.Pos, "secrets."+s.Name)
			continue
		}
		n := DNSLabel(s.Name, 63)
		g.secretName[s.Name] = n
		g.claim("Secret", n, "secret "+strconv.Quote(s.Name), s.Pos, "secrets."+s.Name)
	}
	for _, c := range g.sys.Configs {
		if c.External {
			g.configName[c.Name] = g.externalName("config", c.Name, c.ExternalName, c.Pos, "configs."+c.Name)
			continue
		}
		n := DNSLabel(c.Name, 63)
		g.configName[c.Name] = n
		g.claim("ConfigMap", n, "config "+strconv.Quote(c.Name), c.Pos, "configs."+c.Name)
	}
}

// externalName is the name of an existing object; one that Kubernetes
// cannot have is normalised, with a diagnostic.
func (g *gen) externalName(what, name, ext string, pos ast.Pos, path string) string {
	n := externalObjectName(ext)
	if n != ext {
		g.diags.Warnf("renamed", pos, path, "external %s %q is not a valid Kubernetes name: the object %q is expected", what, ext, n)
	}
	return n
}

// externalObjectName is the name of an existing object called ext, a
// valid name as it is, else normalised.
func externalObjectName(ext string) string {
	if len(validation.IsDNS1123Subdomain(ext)) == 0 {
		return ext
	}
	return DNSLabel(ext, 63)
}

// labels are the labels of every object of the system; name, the object
// name of a service, adds the service's name (none when empty).
func (g *gen) labels(name string) map[string]string {
	l := make(map[string]string, 5+len(g.sys.Labels))
	l[LabelManagedBy] = ManagedBy
	l[LabelPartOf] = g.partOf
	if name != "" {
		l[LabelName] = name
	}
	if g.sys.GUID != "" {
		l[LabelGUID] = g.sys.GUID
		l[LabelExecutor] = "tycho"
	}
	if g.sys.User != "" {
		l[LabelUser] = g.sys.User
	}
	for _, kv := range g.sys.Labels {
		if _, ours := l[kv.Key]; !ours {
			l[kv.Key] = kv.Value
		}
	}
	return l
}

// selector selects the pods of the service named name (its object name)
// by labels that never change.
func (g *gen) selector(name string) map[string]string {
	l := map[string]string{LabelPartOf: g.partOf, LabelName: name}
	if g.sys.GUID != "" {
		l[LabelGUID] = g.sys.GUID
	}
	return l
}

// meta is the metadata of an object with labels (sysLabels or a
// serviceMeta's, shared) and the system's annotations (shared too).
func (g *gen) meta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: labels, Annotations: g.sysAnnotations}
}

func (g *gen) secret(s *ast.Secret) {
	if s.External || s.Provided != "" {
		return // the workloads refer to it (References)
	}
	n := g.secretName[s.Name]
	g.add(&corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: g.meta(n, g.sysLabels), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{dataKey(s.Name): s.Data}})
}

func (g *gen) config(c *ast.Config) {
	if c.External || c.Provided != "" {
		return // the workloads refer to it (References)
	}
	n := g.configName[c.Name]
	g.add(configMap(g.meta(n, g.sysLabels), []ast.File{{Name: dataKey(c.Name), Data: c.Data}}))
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
	pvc := &corev1.PersistentVolumeClaim{TypeMeta: tm("v1", "PersistentVolumeClaim"), ObjectMeta: g.meta(g.volName[v.Name], g.sysLabels),
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

// portKey is a port on a protocol.
type portKey struct {
	port  uint16
	proto ast.Protocol
}

// servicePorts are the container ports of s, one per (port, protocol).
func servicePorts(s *ast.Service) []corev1.ServicePort {
	return containerPorts(s)
}

// containerPorts are the container ports of services, one per (port,
// protocol), the first one's name winning; nil when they declare none.
func containerPorts(services ...*ast.Service) []corev1.ServicePort {
	var out []corev1.ServicePort
	seen := map[portKey]bool{}
	for _, s := range services {
		for _, p := range s.Ports {
			key := portKey{p.Target, p.Protocol}
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, corev1.ServicePort{Name: portName(p.Name, string(p.Protocol), p.Target), Port: int32(p.Target),
				TargetPort: intstr.FromInt32(int32(p.Target)), Protocol: proto(p.Protocol), AppProtocol: appProtocol(p)})
		}
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

// appProtocol is the port's app_protocol when the API server takes it (a
// qualified name such as http or kubernetes.io/h2c); kubeServices reports
// the others.
func appProtocol(p ast.Port) *string {
	if p.AppProtocol == "" || len(validation.IsQualifiedName(p.AppProtocol)) > 0 {
		return nil
	}
	return &p.AppProtocol
}

func (g *gen) kubeServices(s *ast.Service, sm *serviceMeta) {
	for _, p := range s.Ports {
		if why := validation.IsQualifiedName(p.AppProtocol); p.AppProtocol != "" && len(why) > 0 {
			g.diags.Warnf("app-protocol", p.Pos, "services."+s.Name+".ports", "app_protocol %q is dropped: %s", p.AppProtocol, strings.Join(why, "; "))
		}
	}
	if !g.dns[sm.name].shared() {
		// nameServices makes the Services of shared names and aliases
		g.add(g.headless(sm.name, sm.labels, sm.selector, servicePorts(s)))
	}
	if sm.routed != "" {
		g.routedService(s, sm)
		g.routes(s, sm)
	}
	if sm.published == "" {
		return
	}
	pub := &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: g.meta(sm.published, sm.labels),
		Spec: corev1.ServiceSpec{Selector: sm.selector}}
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
	seen := map[portKey]bool{}
	for _, p := range s.Ports {
		if p.Published == 0 || p.Route != nil {
			continue
		}
		key := portKey{p.Published, p.Protocol}
		if seen[key] {
			g.diags.Errorf("duplicate-published-port", p.Pos, "services."+s.Name+".ports", "port %d/%s is published twice", p.Published, p.Protocol)
			continue
		}
		seen[key] = true
		sp := corev1.ServicePort{Name: portName(p.Name, string(p.Protocol), p.Published), Port: int32(p.Published),
			TargetPort: intstr.FromInt32(int32(p.Target)), Protocol: proto(p.Protocol), AppProtocol: appProtocol(p)}
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

// sortObjects sorts objs by kind (kindRank), then name, keeping the order
// of equal ones: the kinds by counting, then the objects of each kind by
// name. They are made in the order of the system's sorted lists, so they
// are most often in order already.
func sortObjects(objs []Object) {
	var start [maxRank + 2]int // objects of rank r go to [start[r], start[r+1])
	for _, o := range objs {
		start[kindRank(o)+1]++
	}
	for r := 1; r < len(start); r++ {
		start[r] += start[r-1]
	}
	sorted := make([]Object, len(objs))
	next := start
	for _, o := range objs {
		r := kindRank(o)
		sorted[next[r]] = o
		next[r]++
	}
	byName := func(a, b Object) int { return strings.Compare(a.GetName(), b.GetName()) }
	for r := 0; r <= maxRank; r++ {
		if kind := sorted[start[r]:start[r+1]]; !slices.IsSortedFunc(kind, byName) {
			slices.SortStableFunc(kind, byName)
		}
	}
	copy(objs, sorted)
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
	case *networkingv1.Ingress, *gatewayv1.HTTPRoute:
		// after the Services they route to
		return 10
	}
	return maxRank
}

// maxRank is the rank of the kinds kindRank does not know.
const maxRank = 11
