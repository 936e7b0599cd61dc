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
