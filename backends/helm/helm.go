// Package helm is the Helm chart format of `tycho compile --format helm`.
//
// The chart packages the Kubernetes objects of the compile, one template
// per object. Each template is printed from a tree built from the typed
// object (kubernetes.Marshal, read back in order), in which the fields
// that values.yaml controls are replaced by template actions and blocks
// at known paths: never by editing printed YAML. With its default values
// the chart renders exactly the objects of `tycho compile` with the same
// flags, plus Helm's labels (helm.sh/chart, app.kubernetes.io/instance,
// and app.kubernetes.io/managed-by: Helm instead of tycho); selectors are
// the compile's. Values may change how a service runs (image, replicas,
// resources, environment, exposure, placement, storage, secrets) and may
// turn off the NetworkPolicies the compile made, but the chart decides no
// policy of its own.
package helm

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"golang.org/x/mod/semver"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/backends/manifests"
)

// Format is the Helm chart format.
type Format struct{}

var _ backends.Format = Format{}

// Name is "helm".
func (Format) Name() string { return "helm" }

// DefaultVersion is the chart version when none is given.
const DefaultVersion = "0.1.0"

// Files gives the chart: Chart.yaml, values.yaml, values.schema.json and
// templates/ (one file per object, _helpers.tpl, NOTES.txt).
func (Format) Files(in backends.Input, opts backends.Options) ([]backends.File, error) {
	version := opts.Version
	if version == "" {
		version = DefaultVersion
	}
	// Helm wants SemVer 2; x/mod's semver is SemVer 2 with a "v"
	if !semver.IsValid("v"+version) || strings.Count(strings.SplitN(strings.SplitN(version, "+", 2)[0], "-", 2)[0], ".") != 2 {
		return nil, fmt.Errorf("chart version %q is not a semantic version MAJOR.MINOR.PATCH (e.g. 0.1.0)", version)
	}
	appVersion := opts.AppVersion
	if appVersion == "" {
		appVersion = version
	}
	c := newChart(in)
	files := make([]backends.File, 0, len(in.Objects)+6)
	seen := map[string]bool{}
	for _, o := range in.Objects {
		b, err := c.template(o)
		if err != nil {
			return nil, err
		}
		name := "templates/" + manifests.FileName(o, kubernetes.YAML)
		if seen[name] {
			return nil, fmt.Errorf("two objects would be written to %s", name)
		}
		seen[name] = true
		files = append(files, backends.File{Name: name, Data: b})
	}
	schema, err := c.schema()
	if err != nil {
		return nil, err
	}
	files = append(files,
		backends.File{Name: "Chart.yaml", Data: c.chartYAML(version, appVersion)},
		backends.File{Name: "values.yaml", Data: c.valuesYAML()},
		backends.File{Name: "values.schema.json", Data: schema},
		backends.File{Name: "templates/_helpers.tpl", Data: c.helpers()},
		backends.File{Name: "templates/NOTES.txt", Data: c.notes()},
	)
	return files, nil
}

// chart is what the templates and the values are made from.
type chart struct {
	name string
	sys  *ast.System
	// the services by the object name of their workload, and by that of
	// their published Service
	byWorkload, byPublished map[string]*ast.Service
	// the volumes of the chart's claims and the secrets of its Secrets,
	// by object name
	volumes map[string]*ast.Volume
	secrets map[string]*ast.Secret
	// values found in the objects
	services     map[string]*serviceValues
	volumeValues map[string]*volumeValues
	secretNames  []string
	policies     bool   // the compile made NetworkPolicies
	podSecurity  string // the level of the chart's Namespace ("" for none)
	// namespace is the namespace of the objects ("" for the release's)
	namespace string
}

// serviceValues are the values of one service.
type serviceValues struct {
	image     imageValues
	hasImage  bool
	replicas  node // nil for a service that is not a Deployment
	resources node
	env       []envValue
	publish   *publishValues
	// the pod's placement and annotations
	nodeSelector, tolerations, affinity, podAnnotations node
}

type imageValues struct{ registry, repository, tag, digest, pullPolicy string }

type envValue struct{ name, value string }

type publishValues struct {
	typ   string
	ports []portValues
}

type portValues struct {
	name           string
	port, nodePort node
}

type volumeValues struct {
	size         node
	storageClass string
	accessModes  node
}

func newChart(in backends.Input) *chart {
	sys := in.System
	c := &chart{name: kubernetes.DNSLabel(sys.Name, 63), sys: sys, namespace: sys.Namespace,
		byWorkload: map[string]*ast.Service{}, byPublished: map[string]*ast.Service{},
		volumes: map[string]*ast.Volume{}, secrets: map[string]*ast.Secret{},
		services: map[string]*serviceValues{}, volumeValues: map[string]*volumeValues{}}
	if c.name == "" {
		c.name = "system"
	}
	for _, s := range sys.Services {
		n := kubernetes.DNS1035(s.Name, 63)
		c.byWorkload[n] = s
		c.byPublished[kubernetes.DNS1035(n+"-published", 63)] = s
	}
	for _, v := range sys.Volumes {
		if !v.External {
			c.volumes[kubernetes.DNSLabel(v.Name, 63)] = v
		}
	}
	for _, s := range sys.Secrets {
		if !s.External && s.Provided == "" {
			c.secrets[kubernetes.DNSLabel(s.Name, 63)] = s
		}
	}
	return c
}

// template is the template of one object.
func (c *chart) template(o kubernetes.Object) ([]byte, error) {
	b, err := kubernetes.Marshal(o, kubernetes.JSON)
	if err != nil {
		return nil, err
	}
	t, err := decodeTree(b)
	if err != nil {
		return nil, err
	}
	m, ok := t.(*mapping)
	if !ok {
		return nil, fmt.Errorf("%s %s is not an object", o.GetObjectKind().GroupVersionKind().Kind, o.GetName())
	}
	var pre []string // template lines before the object
	cond := ""       // the object is rendered when cond holds
	c.helmLabels(m.getMap("metadata"))
	switch o := o.(type) {
	case *appsv1.Deployment, *appsv1.DaemonSet, *batchv1.Job:
		if s := c.byWorkload[o.GetName()]; s != nil {
			pre = append(pre, serviceVar(s))
			c.workload(m, s, o.GetName())
		}
	case *corev1.Service:
		if s := c.byPublished[o.GetName()]; s != nil && o.Spec.Type != "" {
			pre = append(pre, serviceVar(s))
			c.published(m, s)
		}
	case *corev1.PersistentVolumeClaim:
		if v := c.volumes[o.Name]; v != nil {
			pre = append(pre, fmt.Sprintf("{{- $vol := index .Values.volumes %s }}", strconv.Quote(v.Name)))
			cond = "and $vol.enabled (not $vol.existingClaim)"
			c.claim(m, v)
		}
	case *corev1.Secret:
		if s := c.secrets[o.Name]; s != nil {
			cond = fmt.Sprintf("not (index .Values.secrets %s).existingSecret", strconv.Quote(s.Name))
			c.secretNames = append(c.secretNames, s.Name)
		}
	case *networkingv1.NetworkPolicy:
		cond = ".Values.global.networkPolicy.enabled"
		c.policies = true
	case *corev1.Namespace:
		labels := m.getMap("metadata").getMap("labels")
		for _, k := range []string{"pod-security.kubernetes.io/enforce", "pod-security.kubernetes.io/warn"} {
			if lvl := labels.str(k); lvl != "" {
				c.podSecurity = lvl
				labels.set(k, action("{{ toJson $.Values.global.podSecurity }}"))
			}
		}
	case *rbacv1.RoleBinding:
		if c.namespace == "" {
			// the compile assumed "default": the chart knows the release's
			for _, s := range seqOf(m.get("subjects")) {
				if s, ok := s.(*mapping); ok && s.str("namespace") == "default" {
					s.set("namespace", action("{{ toJson $.Release.Namespace }}"))
				}
			}
		}
	}
	var p printer
	for _, l := range pre {
		p.buf.WriteString(l + "\n")
	}
	if cond != "" {
		p.buf.WriteString("{{- if " + cond + " }}\n")
	}
	p.entries(m.entries, 0, false)
	if cond != "" {
		p.buf.WriteString("{{- end }}\n")
	}
	return p.buf.Bytes(), nil
}

// serviceVar binds $svc to the values of s.
func serviceVar(s *ast.Service) string {
	return fmt.Sprintf("{{- $svc := index .Values.services %s }}", strconv.Quote(s.Name))
}

func seqOf(n node) []node {
	s, _ := n.([]node)
	return s
}

// helmLabels puts Helm's labels (helm.sh/chart, instance, managed-by) into
// the labels of meta, in place of Tycho's managed-by.
func (c *chart) helmLabels(meta *mapping) {
	if meta == nil {
		return
	}
	labels := meta.getMap("labels")
	if labels == nil {
		labels = &mapping{}
		meta.set("labels", labels)
	}
	labels.del(kubernetes.LabelManagedBy)
	labels.entries = slices.Insert(labels.entries, 0, entry{include: c.name + ".labels"})
}

// with is a block that writes key: <value of expr> when expr is not empty.
func with(expr, key string) entry {
	return entry{open: "with " + expr, body: []entry{{key: key, val: action("{{ toJson . }}")}}}
}

// orEmpty is n, or an empty mapping for nil.
func orEmpty(n node, seq bool) node {
	if n != nil {
		return n
	}
	if seq {
		return []node{}
	}
	return &mapping{}
}

// workload puts the service's values into its Deployment, DaemonSet or
// Job.
func (c *chart) workload(m *mapping, s *ast.Service, name string) {
	sv := c.serviceValues(s)
	spec := m.getMap("spec")
	if m.str("kind") == "Deployment" {
		if r := spec.get("replicas"); r != nil {
			sv.replicas = r
			spec.set("replicas", action("{{ toJson $svc.replicas }}"))
		}
	}
	tmpl := spec.getMap("template")
	meta := tmpl.getMap("metadata")
	if meta == nil {
		meta = &mapping{}
		tmpl.entries = slices.Insert(tmpl.entries, 0, entry{key: "metadata", val: meta})
	}
	c.helmLabels(meta)
	sv.podAnnotations = orEmpty(meta.get("annotations"), false)
	meta.replace("annotations", with("$svc.podAnnotations", "annotations"))
	pod := tmpl.getMap("spec")
	sv.nodeSelector = orEmpty(pod.get("nodeSelector"), false)
	pod.replace("nodeSelector", with("$svc.nodeSelector", "nodeSelector"))
	sv.tolerations = orEmpty(pod.get("tolerations"), true)
	pod.replace("tolerations", with("$svc.tolerations", "tolerations"))
	sv.affinity = orEmpty(pod.get("affinity"), false)
	pod.replace("affinity", with("$svc.affinity", "affinity"))
	if pod.get("imagePullSecrets") == nil {
		pod.add(with("$.Values.global.imagePullSecrets", "imagePullSecrets"))
	}
	imageAction := action(fmt.Sprintf("{{ include %s (dict \"image\" $svc.image \"global\" $.Values.global) }}", strconv.Quote(c.name+".image")))
	var image string
	for _, ct := range seqOf(pod.get("containers")) {
		ct, ok := ct.(*mapping)
		if !ok || ct.str("name") != name {
			continue
		}
		image = ct.str("image")
		sv.image = splitImage(image)
		sv.image.pullPolicy = ct.str("imagePullPolicy")
		sv.hasImage = true
		ct.set("image", imageAction)
		ct.replace("imagePullPolicy", with("$svc.image.pullPolicy", "imagePullPolicy"))
		sv.resources = orEmpty(ct.get("resources"), false)
		ct.replace("resources", with("$svc.resources", "resources"))
		seen := map[string]bool{}
		for _, e := range seqOf(ct.get("env")) {
			e, ok := e.(*mapping)
			if !ok || e.get("valueFrom") != nil || seen[e.str("name")] {
				continue
			}
			n := e.str("name")
			seen[n] = true
			sv.env = append(sv.env, envValue{name: n, value: e.str("value")})
			e.replace("value", with(fmt.Sprintf("(index $svc.env %s)", strconv.Quote(n)), "value"))
		}
	}
	// the init containers that copy the image's content into a volume
	// run the service's image
	for _, ct := range seqOf(pod.get("initContainers")) {
		if ct, ok := ct.(*mapping); ok && sv.hasImage && strings.HasPrefix(ct.str("name"), "populate-") && ct.str("image") == image {
			ct.set("image", imageAction)
		}
	}
	for _, v := range seqOf(pod.get("volumes")) {
		v, ok := v.(*mapping)
		if !ok {
			continue
		}
		if pvc := v.getMap("persistentVolumeClaim"); pvc != nil {
			claim := pvc.str("claimName")
			if vol := c.volumes[claim]; vol != nil {
				ref := fmt.Sprintf("(index $.Values.volumes %s)", strconv.Quote(vol.Name))
				pvc.set("claimName", action(fmt.Sprintf("{{ toJson (%s.existingClaim | default %s) }}", ref, strconv.Quote(claim))))
				v.replace("persistentVolumeClaim", entry{open: "if " + ref + ".enabled",
					body: []entry{{key: "persistentVolumeClaim", val: pvc}},
					alt:  []entry{{key: "emptyDir", val: &mapping{}}}})
			}
		}
		if sec := v.getMap("secret"); sec != nil {
			n := sec.str("secretName")
			if s := c.secrets[n]; s != nil {
				sec.set("secretName", action(fmt.Sprintf("{{ toJson ((index $.Values.secrets %s).existingSecret | default %s) }}", strconv.Quote(s.Name), strconv.Quote(n))))
			}
		}
	}
}

func (c *chart) serviceValues(s *ast.Service) *serviceValues {
	sv := c.services[s.Name]
	if sv == nil {
		sv = &serviceValues{}
		c.services[s.Name] = sv
	}
	return sv
}

// splitImage splits a compose image into registry, repository, tag and
// digest as written (nothing is normalised: docker.io and library/ are
// not added); an image that is not a valid reference is all repository.
func splitImage(image string) imageValues {
	ref, err := reference.Parse(image)
	named, ok := ref.(reference.Named)
	if err != nil || !ok {
		return imageValues{repository: image}
	}
	var iv imageValues
	name := named.Name()
	// the first component is a registry when it looks like a host, as
	// docker decides
	if i := strings.IndexByte(name, '/'); i > 0 && (strings.ContainsAny(name[:i], ".:") || name[:i] == "localhost") {
		iv.registry, name = name[:i], name[i+1:]
	}
	iv.repository = name
	if t, ok := ref.(reference.Tagged); ok {
		iv.tag = t.Tag()
	}
	if d, ok := ref.(reference.Digested); ok {
		iv.digest = d.Digest().String()
	}
	return iv
}

// published puts the service's exposure values into its published
// Service.
func (c *chart) published(m *mapping, s *ast.Service) {
	sv := c.serviceValues(s)
	spec := m.getMap("spec")
	pv := &publishValues{typ: spec.str("type")}
	sv.publish = pv
	spec.set("type", action("{{ toJson $svc.publish.type }}"))
	if len(s.Clients) > 0 || spec.get("externalTrafficPolicy") != nil {
		// the compile keeps the client address (Local) for the policy's
		// client CIDRs whenever the Service reaches beyond the cluster
		spec.replace("externalTrafficPolicy", entry{open: `if ne $svc.publish.type "ClusterIP"`,
			body: []entry{{key: "externalTrafficPolicy", val: "Local"}}})
	}
	for _, p := range seqOf(spec.get("ports")) {
		p, ok := p.(*mapping)
		if !ok || p.str("name") == "" {
			continue
		}
		name := p.str("name")
		pv.ports = append(pv.ports, portValues{name: name, port: p.get("port"), nodePort: p.get("nodePort")})
		ref := fmt.Sprintf("(index $svc.publish.ports %s)", strconv.Quote(name))
		p.set("port", action("{{ toJson "+ref+".port }}"))
		p.replace("nodePort", entry{open: fmt.Sprintf(`if and (ne $svc.publish.type "ClusterIP") %s.nodePort`, ref),
			body: []entry{{key: "nodePort", val: action("{{ toJson " + ref + ".nodePort }}")}}})
	}
}

// claim puts the volume's values into its PersistentVolumeClaim.
func (c *chart) claim(m *mapping, v *ast.Volume) {
	spec := m.getMap("spec")
	vv := &volumeValues{accessModes: spec.get("accessModes"), storageClass: spec.str("storageClassName")}
	c.volumeValues[v.Name] = vv
	spec.set("accessModes", action("{{ toJson $vol.accessModes }}"))
	if req := spec.getMap("resources").getMap("requests"); req != nil {
		vv.size = req.get("storage")
		req.set("storage", action("{{ toJson $vol.size }}"))
	}
	spec.replace("storageClassName", entry{open: "with $vol.storageClass",
		body: []entry{{key: "storageClassName", val: action(`{{ if eq . "-" }}""{{ else }}{{ toJson . }}{{ end }}`)}}})
}

// chartYAML is Chart.yaml.
func (c *chart) chartYAML(version, appVersion string) []byte {
	m := &mapping{entries: []entry{
		{key: "apiVersion", val: "v2"},
		{key: "name", val: c.name},
		{key: "description", val: fmt.Sprintf("The %s system, compiled from its compose file by Tycho", c.sys.Name)},
		{key: "type", val: "application"},
		{key: "version", val: version},
		{key: "appVersion", val: appVersion},
	}}
	var p printer
	p.entries(m.entries, 0, false)
	return p.buf.Bytes()
}

// helpers is templates/_helpers.tpl.
func (c *chart) helpers() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{{/*
Helm's standard labels, on every object and pod of the chart. Tycho's own
labels (app.kubernetes.io/part-of and name) stay, and so do the selectors.
*/}}
{{- define %[1]q -}}
helm.sh/chart: {{ printf "%%s-%%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | toJson }}
app.kubernetes.io/instance: {{ .Release.Name | toJson }}
app.kubernetes.io/managed-by: {{ .Release.Service | toJson }}
{{- end }}

{{/*
The image of a service: [registry/]repository[:tag][@digest], the
registry being global.imageRegistry when set. Arguments: image, global.
*/}}
{{- define %[2]q -}}
{{- $ref := .image.repository -}}
{{- with (.global.imageRegistry | default .image.registry) }}{{ $ref = printf "%%s/%%s" . $ref }}{{ end -}}
{{- with .image.tag }}{{ $ref = printf "%%s:%%s" $ref . }}{{ end -}}
{{- with .image.digest }}{{ $ref = printf "%%s@%%s" $ref . }}{{ end -}}
{{- toJson $ref -}}
{{- end }}
`, c.name+".labels", c.name+".image")
	return b.Bytes()
}

// notes is templates/NOTES.txt: how to reach each published service.
func (c *chart) notes() []byte {
	var b bytes.Buffer
	ns := "{{ .Release.Namespace }}"
	if c.namespace != "" {
		ns = c.namespace
	}
	fmt.Fprintf(&b, `The %s system runs as release {{ .Release.Name }} in namespace %s.

Its objects keep the compose names, so that its services reach each other by
their compose names as under docker compose: install one release of it per
namespace.
`, c.sys.Name, ns)
	var published []*ast.Service
	for _, s := range c.sys.Services {
		if sv := c.services[s.Name]; sv != nil && sv.publish != nil {
			published = append(published, s)
		}
	}
	if len(published) == 0 {
		b.WriteString("\nNo service publishes a port.\n")
		return b.Bytes()
	}
	b.WriteString("\nPublished services:\n")
	for _, s := range published {
		sv := c.services[s.Name]
		svc := kubernetes.DNS1035(kubernetes.DNS1035(s.Name, 63)+"-published", 63)
		fmt.Fprintf(&b, "{{- $svc := index .Values.services %s }}\n", strconv.Quote(s.Name))
		var ports []string
		for _, p := range sv.publish.ports {
			ports = append(ports, fmt.Sprintf("{{ (index $svc.publish.ports %s).port }}", strconv.Quote(p.name)))
		}
		fmt.Fprintf(&b, `
  %[1]s, port %[2]s: Service %[3]s ({{ $svc.publish.type }})
{{- if eq $svc.publish.type "LoadBalancer" }}
    kubectl get service %[3]s -n %[4]s   # its EXTERNAL-IP, at these ports
{{- else if eq $svc.publish.type "NodePort" }}
    kubectl get service %[3]s -n %[4]s   # any node's address, at the node ports shown
{{- else }}
    kubectl port-forward service/%[3]s -n %[4]s PORT   # then localhost:PORT
{{- end }}
`, s.Name, strings.Join(ports, ", "), svc, ns)
	}
	return b.Bytes()
}

// sortedKeys are the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
