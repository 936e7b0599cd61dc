package compiler

import (
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

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
