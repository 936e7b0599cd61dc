package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
)

// ResourceLimits are the operator's bounds on the compute and storage
// that a request may ask for: a start whose system asks for more is answered 422
// with a diagnostic per value, a modify 422 naming the field. They bound
// what a single request reserves; they are not a quota over all systems.
type ResourceLimits struct {
	// MaxCPUMilli bounds the CPU limit and request of each container of a
	// system and of a modify, in millicores (0: DefaultMaxCPUMilli;
	// negative: none).
	MaxCPUMilli int64
	// MaxMemory bounds the memory limit and request of each container
	// and the size of its memory-backed storage (tmpfs, shm_size), in
	// bytes (0: DefaultMaxMemory; negative: none).
	MaxMemory int64
	// MaxVolumeSize bounds the size of each volume and of each container's
	// scratch storage, in bytes (0: DefaultMaxVolumeSize; negative: none).
	MaxVolumeSize int64
	// StorageClasses are the storage classes a volume may ask for with
	// x-tycho.storageClass; empty allows any. A volume that asks for none
	// gets CompileOptions.StorageClass.
	StorageClasses []string
}

// Default resource limits, for a server of a small cluster: a container of four
// CPUs and 8 GiB, volumes of 10 GiB.
const (
	DefaultMaxCPUMilli   = 4000
	DefaultMaxMemory     = 8 << 30
	DefaultMaxVolumeSize = 10 << 30
)

// ParseCPULimit reads a CPU limit as tycho api's flags give it (4, 500m;
// none for no limit) into millicores.
func ParseCPULimit(s string) (int64, error) {
	return parseLimit(s, func(s string) (int64, error) {
		q, err := resource.ParseQuantity(s)
		if err != nil || q.Sign() <= 0 {
			return 0, fmt.Errorf("want a number of CPUs such as 4 or 500m, or none, not %q", s)
		}
		return q.MilliValue(), nil
	})
}

// ParseSizeLimit reads a size limit as tycho api's flags give it (8Gi,
// 500M; none for no limit) into bytes.
func ParseSizeLimit(s string) (int64, error) {
	return parseLimit(s, func(s string) (int64, error) {
		n, err := compiler.ParseSize(s)
		if err != nil {
			return 0, fmt.Errorf("want a size such as 10Gi or 500M, or none, not %q", s)
		}
		return n, nil
	})
}

// parseLimit is none: -1, "": 0 (the default), else parse's.
func parseLimit(s string, parse func(string) (int64, error)) (int64, error) {
	switch s = strings.TrimSpace(s); s {
	case "":
		return 0, nil
	case "none":
		return -1, nil
	}
	return parse(s)
}

// withDefaults fills the zero limits with the defaults.
func (l ResourceLimits) withDefaults() ResourceLimits {
	if l.MaxCPUMilli == 0 {
		l.MaxCPUMilli = DefaultMaxCPUMilli
	}
	if l.MaxMemory == 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	if l.MaxVolumeSize == 0 {
		l.MaxVolumeSize = DefaultMaxVolumeSize
	}
	return l
}

// checkOptions refuses compile options beyond the limits: every bind
// mount would be refused.
func (l ResourceLimits) checkOptions(o CompileOptions) error {
	if l.MaxVolumeSize > 0 && o.VolumeSize > l.MaxVolumeSize {
		return fmt.Errorf("server: the default volume size %s is over the largest volume allowed, %s", bytesText(o.VolumeSize), bytesText(l.MaxVolumeSize))
	}
	if o.StorageClass != "" && len(l.StorageClasses) > 0 && !slices.Contains(l.StorageClasses, o.StorageClass) {
		return fmt.Errorf("server: the storage class %q is not one of the allowed %s", o.StorageClass, strings.Join(l.StorageClasses, ", "))
	}
	return nil
}

// overCPU and overMemory say why a value is over the limit ("" when it is
// not).
func (l ResourceLimits) overCPU(milli int64) string {
	if l.MaxCPUMilli < 0 || milli <= l.MaxCPUMilli {
		return ""
	}
	return fmt.Sprintf("%s CPUs is over this server's limit of %s", cpuText(milli), cpuText(l.MaxCPUMilli))
}

func (l ResourceLimits) overMemory(n int64) string {
	if l.MaxMemory < 0 || n <= l.MaxMemory {
		return ""
	}
	return fmt.Sprintf("%s is over this server's memory limit of %s", bytesText(n), bytesText(l.MaxMemory))
}

func (l ResourceLimits) overVolume(n int64) string {
	if l.MaxVolumeSize < 0 || n <= l.MaxVolumeSize {
		return ""
	}
	return fmt.Sprintf("%s is over this server's largest volume, %s", bytesText(n), bytesText(l.MaxVolumeSize))
}

// check reports, as errors, every value of sys beyond the limits and
// every image name that is not a valid reference, naming the service or
// volume and positioned at its key.
func (l ResourceLimits) check(sys *ast.System) diag.List {
	var d diag.List
	for _, s := range sys.Services {
		p := "services." + s.Name
		if img := s.Container.Image; img != "" {
			if _, err := reference.ParseNormalizedNamed(img); err != nil {
				d.Errorf("image-name", s.Container.ImagePos, p+".image", "service %s: image %q is not a valid image reference: %v", s.Name, img, err).
					Note("write [registry/]name[:tag][@digest] in lower case, e.g. nginx:1.27 or ghcr.io/org/app:v1")
			}
		}
		r := s.Resources
		rp := p + ".deploy.resources"
		for _, v := range []struct {
			what  string
			milli int64
		}{{"CPU limit", r.CPULimitMilli}, {"CPU reservation", r.CPURequestMilli}} {
			if why := l.overCPU(v.milli); why != "" {
				d.Errorf("limit-cpu", r.Pos, rp, "service %s: a %s of %s", s.Name, v.what, why)
			}
		}
		for _, v := range []struct {
			what string
			n    int64
		}{{"memory limit", r.MemoryLimit}, {"memory reservation", r.MemoryRequest}} {
			if why := l.overMemory(v.n); why != "" {
				d.Errorf("limit-memory", r.Pos, rp, "service %s: a %s of %s", s.Name, v.what, why)
			}
		}
		if why := l.overMemory(s.ShmSize); why != "" {
			d.Errorf("limit-memory", s.ShmSizePos, p+".shm_size", "service %s: shm_size %s", s.Name, why)
		}
		for _, m := range s.Mounts {
			switch m.Kind {
			case ast.MountMemory:
				if why := l.overMemory(m.SizeLimit); why != "" {
					d.Errorf("limit-memory", m.Pos, p+".tmpfs", "service %s: tmpfs at %s: %s", s.Name, m.Target, why)
				}
			case ast.MountScratch:
				if why := l.overVolume(m.SizeLimit); why != "" {
					d.Errorf("limit-volume-size", m.Pos, p+".volumes", "service %s: scratch storage at %s: %s", s.Name, m.Target, why)
				}
			}
		}
	}
	for _, v := range sys.Volumes {
		if v.External {
			continue
		}
		p := "volumes." + v.Name
		if why := l.overVolume(v.Size); why != "" {
			d.Errorf("limit-volume-size", v.Pos, p+".x-tycho.size", "volume %s: %s", v.Name, why)
		}
		if v.StorageClass != "" && len(l.StorageClasses) > 0 && !slices.Contains(l.StorageClasses, v.StorageClass) {
			d.Errorf("limit-storage-class", v.Pos, p+".x-tycho.storageClass", "volume %s: storage class %q is not allowed on this server", v.Name, v.StorageClass).
				Note("use one of %s, or none for the default", strings.Join(l.StorageClasses, ", "))
		}
	}
	return d
}

// cpuText writes millicores as a number of CPUs (1.5).
func cpuText(milli int64) string {
	return strconv.FormatFloat(float64(milli)/1000, 'f', -1, 64)
}

// bytesText writes a size as a binary quantity (8Gi).
func bytesText(n int64) string {
	return resource.NewQuantity(n, resource.BinarySI).String()
}
