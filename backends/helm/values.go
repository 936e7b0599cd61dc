package helm

import (
	"encoding/json"
	"fmt"
)

// valuesYAML is values.yaml: the values found in the objects, commented.
func (c *chart) valuesYAML() []byte {
	global := &mapping{entries: []entry{
		{key: "imageRegistry", val: "", comment: "Registry that replaces the registry of every service's image (\"\" keeps each\nimage's own, as compose wrote it)."},
		{key: "imagePullSecrets", val: []node{}, comment: "Secrets to pull images with, added to every pod, e.g. [{name: regcred}]."},
	}}
	if c.policies {
		global.add(entry{key: "networkPolicy", comment: "The NetworkPolicies the compile made (docs/policy.md): false leaves them\nout, and then every pod may reach every other.",
			val: &mapping{entries: []entry{{key: "enabled", val: true}}}})
	}
	if c.podSecurity != "" {
		global.add(entry{key: "podSecurity", val: c.podSecurity, comment: "Pod Security level enforced on the chart's Namespace: restricted,\nbaseline or privileged."})
	}
	services := &mapping{}
	for _, s := range c.sys.Services {
		sv := c.services[s.Name]
		if sv == nil {
			continue
		}
		services.add(entry{key: s.Name, val: sv.tree()})
	}
	top := &mapping{entries: []entry{
		{key: "global", val: global, comment: fmt.Sprintf("Values of the %s chart, made by `tycho compile --format helm`.\nThe defaults render exactly the objects of `tycho compile` (plus Helm's\nlabels). Objects keep their compose names: one release per namespace.\n\nglobal: settings of every service.", c.sys.Name)},
		{key: "services", val: services, comment: "Per service, by compose name."},
	}}
	if len(c.volumeValues) > 0 {
		volumes := &mapping{}
		for _, n := range sortedKeys(c.volumeValues) {
			vv := c.volumeValues[n]
			volumes.add(entry{key: n, val: &mapping{entries: []entry{
				{key: "enabled", val: true, comment: "false: the pods get an empty directory instead (lost with the pod)"},
				{key: "size", val: vv.size},
				{key: "storageClass", val: vv.storageClass, comment: "\"\": the cluster's default class; \"-\": no class (storageClassName: \"\")"},
				{key: "accessModes", val: vv.accessModes},
				{key: "existingClaim", val: "", comment: "a claim of yours to use instead of the chart's"},
			}}})
		}
		top.add(entry{key: "volumes", val: volumes, comment: "Per named volume, by compose name: its PersistentVolumeClaim."})
	}
	if len(c.secretNames) > 0 {
		secrets := &mapping{}
		for _, n := range c.secretNames {
			secrets.add(entry{key: n, val: &mapping{entries: []entry{{key: "existingSecret", val: ""}}}})
		}
		top.add(entry{key: "secrets", val: secrets, comment: "Per secret, by compose name. existingSecret names a Secret of yours (holding\nthe same key) that the pods use instead of the chart's, which is then not\nrendered, so the value is not installed (compile with --secrets reference to\nkeep it out of the chart's files too)."})
	}
	var p printer
	p.entries(top.entries, 0, false)
	return p.buf.Bytes()
}

func (sv *serviceValues) tree() *mapping {
	m := &mapping{}
	if sv.hasImage {
		m.add(entry{key: "image", comment: "The image, split from compose's: [registry/]repository[:tag][@digest].\npullPolicy \"\" is Kubernetes' default.", val: &mapping{entries: []entry{
			{key: "registry", val: sv.image.registry},
			{key: "repository", val: sv.image.repository},
			{key: "tag", val: sv.image.tag},
			{key: "digest", val: sv.image.digest},
			{key: "pullPolicy", val: sv.image.pullPolicy},
		}}})
	}
	if sv.replicas != nil {
		m.add(entry{key: "replicas", val: sv.replicas})
	}
	if sv.hasImage {
		m.add(entry{key: "resources", val: sv.resources, comment: "requests and limits, as Kubernetes writes them"})
		env := &mapping{}
		for _, e := range sv.env {
			env.add(entry{key: e.name, val: e.value})
		}
		m.add(entry{key: "env", val: env, comment: "The environment's values (not those of env_file, secrets or the API);\n\"\" sets a variable empty. Kubernetes expands $(VAR); $$ is a literal $."})
	}
	if pv := sv.publish; pv != nil {
		ports := &mapping{}
		for _, p := range pv.ports {
			ports.add(entry{key: p.name, val: &mapping{entries: []entry{{key: "port", val: p.port}, {key: "nodePort", val: p.nodePort}}}})
		}
		m.add(entry{key: "publish", comment: "How the published ports are reached from outside the cluster: type\nLoadBalancer, NodePort or ClusterIP; per port (by name) the port and, but\nfor ClusterIP, an optional nodePort (30000-32767).", val: &mapping{entries: []entry{
			{key: "type", val: pv.typ},
			{key: "ports", val: ports},
		}}})
	}
	if sv.hasImage {
		m.add(entry{key: "nodeSelector", val: sv.nodeSelector, comment: "The pod's placement and annotations, as Kubernetes writes them."})
		m.add(entry{key: "tolerations", val: sv.tolerations})
		m.add(entry{key: "affinity", val: sv.affinity})
		m.add(entry{key: "podAnnotations", val: sv.podAnnotations})
	}
	return m
}

// schema is values.schema.json: every value the chart reads, nothing else.
func (c *chart) schema() ([]byte, error) {
	str := obj{"type": "string"}
	strMap := obj{"type": "object", "additionalProperties": str}
	global := props{
		"imageRegistry":    str,
		"imagePullSecrets": obj{"type": "array", "items": closed(props{"name": obj{"type": "string", "minLength": 1}}, "name")},
	}
	if c.policies {
		global["networkPolicy"] = closed(props{"enabled": obj{"type": "boolean"}}, "enabled")
	}
	if c.podSecurity != "" {
		global["podSecurity"] = obj{"enum": []string{"restricted", "baseline", "privileged"}}
	}
	services := props{}
	for name, sv := range c.services {
		p := props{}
		if sv.hasImage {
			p["image"] = closed(props{
				"registry":   str,
				"repository": obj{"type": "string", "minLength": 1},
				"tag":        str,
				"digest":     obj{"type": "string", "pattern": `^([a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)?$`},
				"pullPolicy": obj{"enum": []string{"", "Always", "IfNotPresent", "Never"}},
			})
			quantities := obj{"type": "object", "additionalProperties": obj{"type": []string{"string", "number"}}}
			p["resources"] = closed(props{"limits": quantities, "requests": quantities, "claims": obj{"type": "array"}})
			env := props{}
			for _, e := range sv.env {
				env[e.name] = str
			}
			p["env"] = closed(env)
			p["nodeSelector"] = strMap
			p["tolerations"] = obj{"type": "array", "items": obj{"type": "object"}}
			p["affinity"] = obj{"type": "object"}
			p["podAnnotations"] = strMap
		}
		if sv.replicas != nil {
			p["replicas"] = obj{"type": "integer", "minimum": 0}
		}
		if pv := sv.publish; pv != nil {
			ports := props{}
			for _, port := range pv.ports {
				ports[port.name] = closed(props{
					"port":     obj{"type": "integer", "minimum": 1, "maximum": 65535},
					"nodePort": obj{"type": []string{"integer", "null"}, "minimum": 30000, "maximum": 32767},
				}, "port")
			}
			p["publish"] = closed(props{"type": obj{"enum": []string{"ClusterIP", "NodePort", "LoadBalancer"}}, "ports": closed(ports)}, "type")
		}
		services[name] = closed(p)
	}
	top := props{"global": closed(global), "services": closed(services)}
	if len(c.volumeValues) > 0 {
		volumes := props{}
		for name := range c.volumeValues {
			volumes[name] = closed(props{
				"enabled":       obj{"type": "boolean"},
				"size":          obj{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?([EPTGMK]i?|[numk])?$`},
				"storageClass":  str,
				"accessModes":   obj{"type": "array", "minItems": 1, "items": obj{"enum": []string{"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}}},
				"existingClaim": str,
			}, "enabled", "size", "accessModes")
		}
		top["volumes"] = closed(volumes)
	}
	if len(c.secretNames) > 0 {
		secrets := props{}
		for _, name := range c.secretNames {
			secrets[name] = closed(props{"existingSecret": str})
		}
		top["secrets"] = closed(secrets)
	}
	s := closed(top, "global", "services")
	s["$schema"] = "https://json-schema.org/draft-07/schema#"
	s["title"] = "Values of the " + c.sys.Name + " chart"
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type obj = map[string]any
type props = map[string]any

// closed is an object schema of these properties and no others.
func closed(p props, required ...string) obj {
	o := obj{"type": "object", "additionalProperties": false, "properties": p}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}
