package compiler

import (
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

type pendingLink struct {
	target string
	alias  ast.Alias
	from   string
}

func relPath(base, target string) (string, error) {
	rel, err := filepath.Rel(base, target)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(rel, ".") {
		rel = "./" + rel
	}
	return rel, nil
}

func (lw *lowerer) mounts(svc *ast.Service, s *types.ServiceConfig, p string) {
	for i, v := range s.Volumes {
		vp := p + ".volumes." + strconv.Itoa(i)
		pos := lw.pos(vp)
		if v.Source == "" && len(v.Target) > 2 && v.Target[1] == ':' && v.Target[2] == '/' {
			// compose-go reads "x:/data" as a Windows drive path; on
			// Linux docker reads it as the volume x mounted at /data
			v.Type, v.Source, v.Target = types.VolumeTypeVolume, v.Target[:1], v.Target[2:]
		}
		m := ast.Mount{Target: v.Target, ReadOnly: v.ReadOnly, Source: v.Source, Pos: pos}
		if !path.IsAbs(v.Target) {
			lw.diags.Warnf("mount-target", pos, vp, "mount target %q is not an absolute path: the mount is dropped", v.Target).Note("write an absolute container path")
			continue
		}
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Source == "" {
				m.Kind = ast.MountScratch
				break
			}
			m.Kind = ast.MountVolume
			if v.Volume != nil && v.Volume.Subpath != "" {
				lw.diags.Warnf("unsupported-key", pos, vp, "volume subpath is not supported: the whole volume is mounted")
			}
			if v.Volume != nil && v.Volume.NoCopy {
				lw.diags.Infof("volume-nocopy", pos, vp, "nocopy is what Kubernetes always does: the image's content is not copied into the volume")
			}
			if v.Volume != nil && len(v.Volume.Labels) > 0 {
				lw.diags.Warnf("unsupported-key", lw.pos(vp+".volume.labels"), vp+".volume.labels", "labels of a volume mount are ignored").Note("label the volume under the top-level volumes: instead")
			}
		case types.VolumeTypeBind:
			lw.bind(svc, &m, v, vp, i)
			if m.Kind < 0 {
				continue
			}
		case types.VolumeTypeTmpfs:
			m.Kind = ast.MountMemory
			if v.Tmpfs != nil {
				m.SizeLimit = int64(v.Tmpfs.Size)
				if v.Tmpfs.Mode != 0 {
					lw.diags.Infof("tmpfs-options", lw.pos(vp+".tmpfs.mode"), vp+".tmpfs.mode", "tmpfs mode is ignored: an emptyDir is writable by the pod's users (mode 0777)")
				}
			}
		default:
			lw.diags.Warnf("unsupported-key", pos, vp, "volume type %q is not supported and is ignored", v.Type)
			continue
		}
		svc.Mounts = append(svc.Mounts, m)
	}
	for i, t := range s.Tmpfs {
		tp := p + ".tmpfs." + strconv.Itoa(i)
		if !lw.m.Has(tp) {
			tp = p + ".tmpfs"
		}
		target, opts, _ := strings.Cut(t, ":")
		m := ast.Mount{Kind: ast.MountMemory, Target: target, Pos: lw.pos(tp)}
		var ignored []string
		for _, o := range strings.Split(opts, ",") {
			size, isSize := strings.CutPrefix(o, "size=")
			switch {
			case o == "":
			case isSize:
				n, err := parseBytes(size)
				if err != nil {
					lw.diags.Errorf("tmpfs-size", m.Pos, tp, "invalid tmpfs size %q", size)
				}
				m.SizeLimit = n
			case o == "ro":
				m.ReadOnly = true
			case o == "rw":
			default:
				ignored = append(ignored, o)
			}
		}
		if len(ignored) > 0 {
			lw.diags.Infof("tmpfs-options", m.Pos, tp, "tmpfs options %s are ignored: an emptyDir in memory takes only a size", strings.Join(ignored, ",")).
				Note("ro and size= are kept")
		}
		svc.Mounts = append(svc.Mounts, m)
	}
	// compose refuses two mounts at one target, and so does Kubernetes
	seen := make(map[string]bool, len(svc.Mounts))
	for _, m := range svc.Mounts {
		t := path.Clean(m.Target)
		if seen[t] {
			lw.diags.Errorf("mount-target", m.Pos, p, "target %s is mounted twice", t).Note("compose refuses this too: keep one mount per target")
		}
		seen[t] = true
	}
}

func (lw *lowerer) bind(svc *ast.Service, m *ast.Mount, v types.ServiceVolumeConfig, vp string, i int) {
	if v.Bind != nil && (v.Bind.SELinux != "" || v.Bind.Propagation != "" || v.Bind.Recursive != "") {
		lw.diags.Infof("bind-options", m.Pos, vp, "SELinux relabelling, mount propagation and recursive options are ignored")
	}
	switch lw.opts.Bind {
	case BindHostPath:
		m.Kind = ast.MountHostPath
		lw.diags.Warnf("host-path", m.Pos, vp, "bind mount of %s stays a path on the node (--bind hostpath): it needs the privileged security level and the path on every node", v.Source)
		return
	case BindVolume:
		m.Kind = ast.MountVolume
		name := lw.bindVolumeName(svc.Name, i)
		lw.sys.Volumes = append(lw.sys.Volumes, &ast.Volume{Name: name, Pos: m.Pos, Size: lw.opts.VolumeSize, StorageClass: lw.opts.StorageClass})
		lw.volumeNames[name] = true
		m.Source = name
		lw.diags.Infof("bind-volume", m.Pos, vp, "bind mount of %s becomes the volume %q of the system", displayPath(v.Source, lw.l.WorkDir), name)
		return
	}
	kind, files, reason := bindContent(v.Source)
	if reason != "" {
		m.Kind = ast.MountScratch
		lw.diags.Warnf("bind-mount", m.Pos, vp, "bind mount of %s becomes empty scratch storage: %s", displayPath(v.Source, lw.l.WorkDir), reason).
			Note("use a named volume, a config or a secret; or --bind hostpath to keep the node's path")
		return
	}
	m.Kind = kind
	m.Files = files
	m.ContentName = lw.contentName(svc.Name, i)
	m.ReadOnly = true
	if !v.ReadOnly {
		lw.diags.Infof("bind-copy", m.Pos, vp, "bind mount of %s is copied into the system and mounted read-only: changes in the container are not written back", displayPath(v.Source, lw.l.WorkDir))
	}
}

func (lw *lowerer) bindVolumeName(service string, i int) string {
	n := fmt.Sprintf("%s-bind-%d", service, i)
	for lw.volumeNames[n] {
		n += "x"
	}
	return n
}

func displayPath(p, workDir string) string {
	if rel, err := relPath(workDir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func (lw *lowerer) fileRefs(refs []types.FileReferenceConfig, p, dir string) []ast.FileRef {
	var out []ast.FileRef
	for i, r := range refs {
		rp := p + "." + strconv.Itoa(i)
		ref := ast.FileRef{Name: r.Source, Target: r.Target, Pos: lw.pos(rp)}
		switch {
		case ref.Target == "":
			ref.Target = dir + r.Source
		case !path.IsAbs(ref.Target):
			ref.Target = dir + ref.Target
		}
		if r.Mode != nil {
			mode := int32(*r.Mode)
			ref.Mode = &mode
		}
		if r.UID != "" || r.GID != "" {
			lw.diags.Infof("file-owner", ref.Pos, rp, "uid and gid of mounted files are not supported: files belong to root and the pod's fsGroup")
		}
		out = append(out, ref)
	}
	return out
}

func (lw *lowerer) health(svc *ast.Service, s *types.ServiceConfig, p string) {
	hc := s.HealthCheck
	if hc == nil {
		return
	}
	hp := p + ".healthcheck"
	if hc.Disable {
		return
	}
	h := &ast.Health{Pos: lw.pos(hp), Interval: durPtr(hc.Interval), Timeout: durPtr(hc.Timeout), StartPeriod: durPtr(hc.StartPeriod), StartInterval: durPtr(hc.StartInterval)}
	if hc.Retries != nil {
		h.Retries = int32(min(*hc.Retries, 1<<30))
	}
	switch {
	case len(hc.Test) == 0:
		lw.diags.Warnf("healthcheck-no-test", h.Pos, hp, "healthcheck has no test: the image's own healthcheck is unknown to Kubernetes, so the service gets no readiness probe").
			Note("give the test here, e.g. test: [\"CMD\", \"curl\", \"-f\", \"http://localhost/\"]")
		return
	case hc.Test[0] == "NONE":
		return
	case hc.Test[0] == "CMD":
		h.Exec = append([]string{}, hc.Test[1:]...)
	case hc.Test[0] == "CMD-SHELL":
		h.Exec = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	default:
		lw.diags.Errorf("healthcheck-test", lw.pos(hp+".test"), hp+".test", "healthcheck test must start with CMD, CMD-SHELL or NONE, not %q", hc.Test[0])
		return
	}
	if len(h.Exec) == 0 {
		lw.diags.Errorf("healthcheck-test", lw.pos(hp+".test"), hp+".test", "healthcheck test has no command")
		return
	}
	svc.Health = h
}

func (lw *lowerer) dependsOn(svc *ast.Service, s *types.ServiceConfig, p string) {
	for _, name := range sortedKeys(s.DependsOn) {
		d := s.DependsOn[name]
		if name == s.Name && !lw.m.Has(p+".depends_on."+name) {
			continue // compose-go's implicit dependency of network_mode: service:<itself>
		}
		dp := p + ".depends_on." + name
		cond := ast.Condition(d.Condition)
		switch cond {
		case "":
			cond = ast.ServiceStarted
		case ast.ServiceStarted, ast.ServiceHealthy, ast.ServiceCompletedSuccessfully:
		default:
			lw.diags.Errorf("depends-on", lw.pos(dp), dp, "unknown depends_on condition %q", d.Condition)
			continue
		}
		if d.Restart && lw.m.Has(dp+".restart") {
			lw.diags.Infof("depends-on-restart", lw.pos(dp), dp, "restart: true is not supported: a restarted dependency does not restart %s", s.Name)
		}
		svc.DependsOn = append(svc.DependsOn, ast.Dependency{Service: name, Condition: cond, Required: d.Required, Pos: lw.pos(dp)})
	}
}

func (lw *lowerer) resources(svc *ast.Service, s *types.ServiceConfig, p string) {
	r := &svc.Resources
	switch {
	case s.CPUS > 0:
		r.Pos = lw.pos(p + ".cpus")
	case s.Deploy != nil || s.MemLimit > 0 || s.MemReservation > 0 || s.PidsLimit > 0 || len(s.Gpus) > 0:
		r.Pos = lw.pos(p + ".deploy.resources")
	}
	if s.CPUS > 0 {
		r.CPULimitMilli = milli(s.CPUS)
	}
	if s.MemLimit > 0 {
		r.MemoryLimit = int64(s.MemLimit)
	}
	if s.MemReservation > 0 {
		r.MemoryRequest = int64(s.MemReservation)
	}
	pidsKey := p + ".pids_limit"
	if s.PidsLimit > 0 {
		r.Pids = s.PidsLimit
	}
	// compose refuses a service-level value and a deploy one that differ
	distinct := func(short string, differ bool, long string) {
		if differ {
			lw.diags.Errorf("resources", lw.pos(p+"."+short), p+"."+short, "%s and %s have distinct values", short, long).
				Note("compose refuses this too: keep one of them")
		}
	}
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			distinct("cpus", s.CPUS > 0 && l.NanoCPUs > 0 && float32(l.NanoCPUs) != s.CPUS, "deploy.resources.limits.cpus")
			distinct("mem_limit", s.MemLimit > 0 && l.MemoryBytes > 0 && l.MemoryBytes != s.MemLimit, "deploy.resources.limits.memory")
			distinct("pids_limit", s.PidsLimit > 0 && l.Pids > 0 && l.Pids != s.PidsLimit, "deploy.resources.limits.pids")
			if l.NanoCPUs > 0 {
				r.CPULimitMilli = milli(float32(l.NanoCPUs))
			}
			if l.MemoryBytes > 0 {
				r.MemoryLimit = int64(l.MemoryBytes)
			}
			if l.Pids > 0 {
				r.Pids = l.Pids
				if s.PidsLimit <= 0 {
					pidsKey = p + ".deploy.resources.limits.pids"
				}
			}
			if len(l.Devices) > 0 {
				lw.gpus(r, l.Devices, p+".deploy.resources.limits.devices")
			}
		}
		if q := s.Deploy.Resources.Reservations; q != nil {
			distinct("mem_reservation", s.MemReservation > 0 && q.MemoryBytes > 0 && q.MemoryBytes != s.MemReservation, "deploy.resources.reservations.memory")
			if q.NanoCPUs > 0 {
				r.CPURequestMilli = milli(float32(q.NanoCPUs))
			}
			if q.MemoryBytes > 0 {
				r.MemoryRequest = int64(q.MemoryBytes)
			}
			if len(q.Devices) > 0 {
				lw.gpus(r, q.Devices, p+".deploy.resources.reservations.devices")
			}
			if len(q.GenericResources) > 0 {
				lw.diags.Warnf("unsupported-key", lw.pos(p+".deploy.resources.reservations.generic_resources"), p+".deploy.resources.reservations.generic_resources", "generic_resources are not supported and are ignored")
			}
		}
	}
	for i := range s.Gpus {
		// every entry of gpus: is a GPU request, whatever its capabilities
		s.Gpus[i].Capabilities = append(s.Gpus[i].Capabilities, "gpu")
	}
	if len(s.Gpus) > 0 {
		lw.gpus(r, s.Gpus, p+".gpus")
	}
	lw.dockerCPU(r, s, p)
	lw.storageOpt(r, s, p)
	if r.Pids > 0 {
		lw.diags.Infof("pids-limit", lw.pos(pidsKey), pidsKey, "a per-container pids limit is not supported by Kubernetes: the node's podPidsLimit applies")
		r.Pids = 0
	}
	if r.CPURequestMilli > 0 && r.CPULimitMilli > 0 && r.CPURequestMilli > r.CPULimitMilli {
		lw.diags.Errorf("resources", r.Pos, p+".deploy.resources", "cpu reservation %dm is more than the limit %dm", r.CPURequestMilli, r.CPULimitMilli)
	}
	if r.MemoryRequest > 0 && r.MemoryLimit > 0 && r.MemoryRequest > r.MemoryLimit {
		lw.diags.Errorf("resources", r.Pos, p+".deploy.resources", "memory reservation is more than the limit")
	}
}

// cpuSource is a key that sets the CPU limit or request, in millicores.
type cpuSource struct {
	key   string
	milli int64
	// docker's CPU keys, checked against every other source
	docker bool
}

// dockerCPU lowers docker's CPU keys: cpu_quota/cpu_period and cpu_count
// are a limit, cpu_shares a request (the kubelet writes a request of m
// millicores as m*1024/1000 CPU shares, so shares*1000/1024 gives the
// shares back). A key that disagrees with another key for the same
// setting is an error, as cpus against deploy.resources.limits.cpus.
func (lw *lowerer) dockerCPU(r *ast.Resources, s *types.ServiceConfig, p string) {
	var limits, requests []cpuSource
	switch {
	case s.CPUQuota > 0:
		period := min(s.CPUPeriod, 1<<40)
		if period <= 0 {
			period = 100000 // docker's and the kubelet's CFS period, in µs
		}
		limits = append(limits, cpuSource{"cpu_quota", max((min(s.CPUQuota, 1<<40)*1000+period/2)/period, 1), true})
		if period != 100000 {
			lw.diags.Infof("cpu-period", lw.pos(p+".cpu_period"), p+".cpu_period", "the CPU period is the node's (100ms): the limit keeps cpu_quota/cpu_period = %dm", limits[0].milli)
		}
	case s.CPUPeriod > 0:
		lw.diags.Infof("cpu-period", lw.pos(p+".cpu_period"), p+".cpu_period", "cpu_period without cpu_quota sets no limit and is ignored")
	}
	if s.CPUCount > 0 {
		limits = append(limits, cpuSource{"cpu_count", min(s.CPUCount, 1<<40) * 1000, true})
		lw.diags.Infof("cpu-count", lw.pos(p+".cpu_count"), p+".cpu_count", "cpu_count (which docker honours on Windows only) becomes a limit of %d CPUs of time, not of %d cores", s.CPUCount, s.CPUCount)
	}
	if s.CPUPercent > 0 {
		lw.diags.Warnf("cpu-percent", lw.pos(p+".cpu_percent"), p+".cpu_percent", "cpu_percent is ignored: a share of the node's CPUs is not known before the pod is placed").
			Note("give the number of CPUs with cpus")
	}
	if s.CPUShares > 0 {
		requests = append(requests, cpuSource{"cpu_shares", max((min(s.CPUShares, 1<<40)*1000+1023)/1024, 1), true})
	}
	if len(limits)+len(requests) == 0 {
		return
	}
	if !r.Pos.IsValid() {
		first := requests
		if len(limits) > 0 {
			first = limits
		}
		r.Pos = lw.pos(p + "." + first[0].key)
	}
	if s.CPUS > 0 {
		limits = append(limits, cpuSource{key: "cpus", milli: milli(s.CPUS)})
	}
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil && l.NanoCPUs > 0 {
			limits = append(limits, cpuSource{key: "deploy.resources.limits.cpus", milli: milli(float32(l.NanoCPUs))})
		}
		if q := s.Deploy.Resources.Reservations; q != nil && q.NanoCPUs > 0 {
			requests = append(requests, cpuSource{key: "deploy.resources.reservations.cpus", milli: milli(float32(q.NanoCPUs))})
		}
	}
	for _, srcs := range [][]cpuSource{limits, requests} {
		for i, a := range srcs {
			if !a.docker {
				continue
			}
			for _, b := range srcs[i+1:] {
				if a.milli != b.milli {
					lw.diags.Errorf("resources", lw.pos(p+"."+a.key), p+"."+a.key, "%s and %s have distinct values (%dm and %dm of CPU)", a.key, b.key, a.milli, b.milli).
						Note("keep one of them")
					break
				}
			}
		}
	}
	if len(limits) > 0 {
		r.CPULimitMilli = limits[0].milli
	}
	if len(requests) > 0 {
		r.CPURequestMilli = requests[0].milli
	}
}

// storageOpt lowers storage_opt: size bounds what the container writes
// to its own filesystem; the other options are the storage driver's.
func (lw *lowerer) storageOpt(r *ast.Resources, s *types.ServiceConfig, p string) {
	for _, k := range sortedKeys(s.StorageOpt) {
		kp := p + ".storage_opt." + k
		if k != "size" {
			lw.diags.Warnf("unsupported-key", lw.pos(kp), kp, "storage_opt %s is a docker storage driver option: it is ignored", k)
			continue
		}
		n, err := parseBytes(s.StorageOpt[k])
		if err != nil || n <= 0 {
			lw.diags.Errorf("storage-opt", lw.pos(kp), kp, "invalid size %q", s.StorageOpt[k])
			continue
		}
		r.DiskLimit = n
		lw.diags.Infof("storage-opt", lw.pos(kp), kp, "size becomes an ephemeral-storage limit: it also counts the container's logs and scratch volumes, and a pod over it is evicted instead of getting ENOSPC")
	}
}

func milli(cpus float32) int64 {
	m := int64(float64(cpus)*1000 + 0.5)
	return max(m, 1)
}

func (lw *lowerer) gpus(r *ast.Resources, devs []types.DeviceRequest, p string) {
	for i, d := range devs {
		dp := p + "." + strconv.Itoa(i)
		isGPU := d.Driver == "nvidia" || d.Driver == "amd"
		var other []string
		for _, c := range d.Capabilities {
			if c == "gpu" {
				isGPU = true
			} else {
				other = append(other, c)
			}
		}
		if !isGPU {
			lw.diags.Warnf("unsupported-key", lw.pos(dp), dp, "device reservations other than GPUs are not supported and are ignored")
			continue
		}
		vendor := d.Driver
		switch vendor {
		case "", "nvidia":
			vendor = "nvidia"
		case "amd":
		default:
			lw.diags.Warnf("gpu-driver", lw.pos(dp+".driver"), dp+".driver", "GPU driver %q is not supported and the request is ignored: Tycho requests nvidia.com/gpu or amd.com/gpu", d.Driver)
			continue
		}
		if r.GPUVendor != "" && r.GPUVendor != vendor {
			lw.diags.Warnf("gpu-driver", lw.pos(dp), dp, "%s GPUs are ignored: the service already requests %s GPUs, and a pod's GPUs come from one vendor here", vendor, r.GPUVendor)
			continue
		}
		r.GPUVendor = vendor
		if len(other) > 0 {
			lw.diags.Infof("gpu-capabilities", lw.pos(dp+".capabilities"), dp+".capabilities", "capabilities %s are not requested separately: the device plugin gives the GPU with its default driver capabilities", strings.Join(other, ", ")).
				Note("set NVIDIA_DRIVER_CAPABILITIES in environment if the image needs more")
		}
		if len(d.Options) > 0 {
			lw.diags.Warnf("unsupported-key", lw.pos(dp+".options"), dp+".options", "device driver options are ignored")
		}
		n := int64(d.Count)
		switch {
		case len(d.IDs) > 0:
			n = int64(len(d.IDs))
			lw.diags.Infof("gpu-ids", lw.pos(dp), dp, "device_ids cannot choose GPUs in Kubernetes: %d GPUs are requested", n)
		case n == -1:
			n = 1
			lw.diags.Warnf("gpu-all", lw.pos(dp), dp, "count: all has no Kubernetes equivalent: one GPU is requested").Note("give the number of GPUs with count:")
		case n == 0:
			n = 1
		}
		r.GPUs = max(r.GPUs, n)
	}
}

func (lw *lowerer) misc(svc *ast.Service, s *types.ServiceConfig, p string) {
	n := len(s.Labels) + len(s.Annotations)
	if s.Deploy != nil {
		n += len(s.Deploy.Labels)
	}
	if n > 0 {
		svc.Annotations = make([]ast.KV, 0, n)
	}
	for _, k := range sortedKeys(s.Labels) {
		svc.Annotations = append(svc.Annotations, ast.KV{Key: k, Value: s.Labels[k], Pos: lw.pos(p + ".labels." + k)})
	}
	for _, k := range sortedKeys(s.Annotations) {
		svc.Annotations = append(svc.Annotations, ast.KV{Key: k, Value: s.Annotations[k], Pos: lw.pos(p + ".annotations." + k)})
	}
	if s.Deploy != nil {
		for _, k := range sortedKeys(s.Deploy.Labels) {
			svc.Annotations = append(svc.Annotations, ast.KV{Key: k, Value: s.Deploy.Labels[k], Pos: lw.pos(p + ".deploy.labels." + k)})
		}
	}
	byIP := map[string][]string{}
	for _, host := range sortedKeys(s.ExtraHosts) {
		for _, ip := range s.ExtraHosts[host] {
			if ip == "host-gateway" {
				lw.diags.Warnf("host-gateway", lw.pos(p+".extra_hosts"), p+".extra_hosts", "host-gateway has no Kubernetes equivalent: %s is not added", host)
				continue
			}
			byIP[ip] = append(byIP[ip], host)
		}
	}
	for _, ip := range sortedKeys(byIP) {
		svc.ExtraHosts = append(svc.ExtraHosts, ast.HostAlias{IP: ip, Hostnames: byIP[ip], Pos: lw.pos(p + ".extra_hosts")})
	}
	svc.DNS = ast.DNS{Nameservers: s.DNS, Searches: s.DNSSearch}
	if len(s.DNS)+len(s.DNSSearch)+len(s.DNSOpts) > 0 {
		svc.DNS.Pos = lw.pos(p + ".dns")
	}
	for _, o := range s.DNSOpts {
		k, v, _ := strings.Cut(o, ":")
		svc.DNS.Options = append(svc.DNS.Options, ast.KV{Key: k, Value: v})
	}
	for _, k := range sortedKeys(s.Sysctls) {
		svc.Sysctls = append(svc.Sysctls, ast.KV{Key: k, Value: s.Sysctls[k], Pos: lw.pos(p + ".sysctls." + k)})
	}
	if s.ShmSize > 0 {
		svc.ShmSize = int64(s.ShmSize)
		svc.ShmSizePos = lw.pos(p + ".shm_size")
	}
}

func (lw *lowerer) serviceExt(svc *ast.Service, s *types.ServiceConfig, p string) {
	svc.Expose = lw.opts.Expose
	lw.misspeltExt(s.Extensions, p)
	if !hasExt(s.Extensions) {
		return // before ext is made: decoding moves it to the heap
	}
	var ext serviceExt
	if !lw.decodeExt(s.Extensions, p, &ext) {
		return
	}
	xp := p + ".x-tycho"
	if ext.Expose != "" {
		svc.Expose = lw.exposeMode(ext.Expose, xp+".expose")
		svc.ExposePos = lw.pos(xp + ".expose")
	}
	for i, c := range ext.Clients {
		cp := xp + ".clients." + strconv.Itoa(i)
		n, ok := validCIDR(c)
		if !ok {
			lw.diags.Errorf("x-tycho", lw.pos(cp), cp, "client %q is not an IP address or CIDR", c)
			continue
		}
		svc.Clients = append(svc.Clients, ast.CIDR{CIDR: n, Pos: lw.pos(cp)})
	}
	if ext.Egress != nil {
		svc.Egress = []ast.EgressRule{}
	}
	for i, e := range ext.Egress {
		ep := xp + ".egress." + strconv.Itoa(i)
		n, ok := validCIDR(e.CIDR)
		if !ok {
			lw.diags.Errorf("x-tycho", lw.pos(ep), ep, "egress cidr %q is not an IP address or CIDR", e.CIDR)
			continue
		}
		rule := ast.EgressRule{CIDR: n, Pos: lw.pos(ep)}
		for _, ps := range e.Ports {
			pr, ok := parsePortRange(ps)
			if !ok {
				lw.diags.Errorf("x-tycho", lw.pos(ep), ep, "egress port %q: use PORT[-END][/tcp|udp|sctp]", ps)
				continue
			}
			rule.Ports = append(rule.Ports, pr)
		}
		svc.Egress = append(svc.Egress, rule)
	}
	svc.Liveness = ext.Liveness
	svc.ServiceAccount = ext.ServiceAccount
}

func parsePortRange(s string) (ast.PortRange, bool) {
	spec, proto, _ := strings.Cut(s, "/")
	pr := ast.PortRange{Protocol: ast.Protocol(strings.ToLower(proto))}
	if pr.Protocol == "" {
		pr.Protocol = ast.TCP
	}
	if pr.Protocol != ast.TCP && pr.Protocol != ast.UDP && pr.Protocol != ast.SCTP {
		return pr, false
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	var a, b uint64
	if _, err := fmt.Sscan(lo, &a); err != nil || a == 0 || a > 65535 {
		return pr, false
	}
	pr.Port = uint16(a)
	if isRange {
		if _, err := fmt.Sscan(hi, &b); err != nil || b < a || b > 65535 {
			return pr, false
		}
		pr.EndPort = uint16(b)
	}
	return pr, true
}
