package compiler

import (
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

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
