package compiler

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v4"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// precheck looks at the files as written, before compose-go sees them, for
// the values compose-go v2.16.2 cannot take: it casts them without checking
// and panics (pid: null, an ulimit of 1e9, a secret target that is not a
// string, a date where it wants a string), or it reads a file named by a
// key without bound (env_file: /dev/zero). Each is an error at the value
// that causes it; when there is one, the files are not given to compose-go.
//
// Load also recovers a panic of compose-go (loadPanic), so a value this
// check misses is still an error, not a crash; FuzzCompile looks for them.
func precheck(m *srcmap.Map, workDir string, env map[string]string) diag.List {
	var diags diag.List
	for _, f := range m.Files {
		c := &checker{file: f.File, workDir: workDir, env: env, seen: map[*yaml.Node]bool{}}
		for _, doc := range f.Docs() {
			c.scalars(doc, "", 0, false)
			c.root(doc)
		}
		diags = append(diags, c.diags...)
	}
	return diags
}

// Limits of the files read at compile time, by the object each becomes.
const (
	// maxObjectFile is what a ConfigMap or a Secret holds (the API
	// server's limit of 1 MiB): a secret, a config, an env_file.
	maxObjectFile = 1 << 20
	// maxComposeFile bounds a compose file (include, extends.file, -f):
	// far above any real one, far below what exhausts memory.
	maxComposeFile = 64 << 20
)

// checkerBudget bounds the nodes a check visits per file, aliases
// followed: a file of nested aliases cannot make the check explode.
const checkerBudget = 1 << 20

// checkerDepth bounds the nesting a check follows; compose keys are at
// most a dozen deep, and anything deeper is left to the loader.
const checkerDepth = 64

type checker struct {
	file    string
	workDir string
	env     map[string]string
	diags   diag.List
	visits  int
	// seen holds the scalars already reported, so that an anchored
	// value used by many aliases is reported once.
	seen map[*yaml.Node]bool
}

func (c *checker) pos(n *yaml.Node) ast.Pos {
	return ast.Pos{File: c.file, Line: n.Line, Col: n.Column}
}

func (c *checker) errorf(code string, n *yaml.Node, path, format string, args ...any) {
	c.diags.Errorf(code, c.pos(n), path, format, args...)
}

// deref follows aliases (boundedly: an alias of an alias of ...) and
// steps into a document.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < checkerDepth; i++ {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

type entry struct {
	key, val *yaml.Node
}

// entries are the keys of a mapping as compose-go reads them: merged
// mappings (<<) first, explicit keys over them.
func (c *checker) entries(n *yaml.Node) []entry {
	var out []entry
	index := map[string]int{}
	var add func(n *yaml.Node, depth int, merged bool)
	add = func(n *yaml.Node, depth int, merged bool) {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode || depth > checkerDepth || c.visits > checkerBudget {
			return
		}
		c.visits++
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				if v = deref(v); v != nil && v.Kind == yaml.SequenceNode {
					for _, s := range v.Content {
						add(s, depth+1, true)
					}
				} else {
					add(v, depth+1, true)
				}
				continue
			}
			if j, ok := index[k.Value]; ok {
				if !merged {
					out[j] = entry{k, v}
				}
				continue
			}
			index[k.Value] = len(out)
			out = append(out, entry{k, v})
		}
	}
	// explicit keys first, so that merged ones do not replace them
	n = deref(n)
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !(k.Value == "<<" && k.ShortTag() == "!!merge") {
				index[k.Value] = len(out)
				out = append(out, entry{k, n.Content[i+1]})
			}
		}
	}
	add(n, 0, true)
	return out
}

// items are the items of a sequence, or nil.
func items(n *yaml.Node) []*yaml.Node {
	if n = deref(n); n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isString(n *yaml.Node) bool {
	n = deref(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// scalars reports the scalars that compose-go cannot take whatever their
// key:
//   - an unquoted date or time outside extensions (x-*): YAML reads
//     2001-12-14 as a time, which compose-go either cannot take where it
//     wants a string (a panic in command, depends_on, networks,
//     build.context) or turns into "2001-12-14 00:00:00 +0000 UTC";
//   - .inf and .nan anywhere: the schema check cannot encode them.
func (c *checker) scalars(n *yaml.Node, path string, depth int, ext bool) {
	if n == nil || depth > checkerDepth || c.visits > checkerBudget {
		return
	}
	c.visits++
	switch n.Kind {
	case yaml.DocumentNode:
		for _, d := range n.Content {
			c.scalars(d, path, depth+1, ext)
		}
	case yaml.AliasNode:
		c.scalars(n.Alias, path, depth+1, ext)
	case yaml.SequenceNode:
		for i, s := range n.Content {
			c.scalars(s, join(path, strconv.Itoa(i)), depth+1, ext)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p, x := path, ext || strings.HasPrefix(k.Value, "x-")
			if !(k.Value == "<<" && k.ShortTag() == "!!merge") {
				p = join(path, k.Value)
				c.scalars(k, p, depth+1, x)
			}
			c.scalars(v, p, depth+1, x)
		}
	case yaml.ScalarNode:
		if c.seen[n] {
			return
		}
		switch tag := n.ShortTag(); {
		case tag == "!!timestamp" && !ext && stringified.MatchString(path):
			// docker compose runs such a file: say what it makes of it
			c.seen[n] = true
			var t time.Time
			if n.Decode(&t) == nil {
				c.diags.Warnf("yaml-timestamp", c.pos(n), path, "%s is read by YAML as a date: the value is %q, as docker compose makes it", n.Value, t.String()).
					Note("quote it (%q) to keep it as written", n.Value)
			}
		case tag == "!!timestamp" && !ext:
			c.seen[n] = true
			c.diags.Errorf("yaml-timestamp", c.pos(n), path, "%s is read by YAML as a date, not as text", n.Value).
				Note("quote it: %q", n.Value)
		case tag == "!!float":
			var f float64
			if n.Decode(&f) == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
				c.seen[n] = true
				c.diags.Errorf("yaml-number", c.pos(n), path, "%s is not a finite number", n.Value).
					Note("quote it (%q) if it is text", n.Value)
			}
		}
	}
}

// stringified are the mapping values that compose-go turns into text
// whatever YAML read them as (a date becomes "2001-12-14 00:00:00 +0000
// UTC"): there a date is docker's behaviour, not an error.
var stringified = regexp.MustCompile(`^services\.[^.]+\.(environment|labels|annotations|deploy\.labels|build\.args|build\.labels)\.[^.]+$`)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// root checks the top-level keys of a document.
func (c *checker) root(doc *yaml.Node) {
	for _, e := range c.entries(doc) {
		switch e.key.Value {
		case "services":
			for _, s := range c.entries(e.val) {
				c.service("services."+s.key.Value, s.val)
			}
		case "secrets", "configs":
			for _, o := range c.entries(e.val) {
				for _, k := range c.entries(o.val) {
					if k.key.Value == "file" {
						c.checkPath(e.key.Value+"."+o.key.Value+".file", k.val, fileObject)
					}
				}
			}
		case "include":
			c.include(e.val)
		}
	}
}

// namespaces are the service keys that name a namespace to share, which
// compose-go reads as strings (null included, where the schema allows it).
var namespaces = map[string]bool{"pid": true, "ipc": true, "uts": true, "cgroup": true, "network_mode": true}

func (c *checker) service(path string, svc *yaml.Node) {
	for _, e := range c.entries(svc) {
		key, p := e.key.Value, path+"."+e.key.Value
		switch {
		case namespaces[key]:
			if isNull(e.val) {
				c.errorf("wrong-type", valueNode(e), p, "%s has no value: write one (e.g. host) or remove the key", key)
			}
		case key == "ulimits":
			for _, u := range c.entries(e.val) {
				c.ulimit(p+"."+u.key.Value, u)
			}
		case key == "configs" || key == "secrets":
			for i, it := range items(e.val) {
				for _, k := range c.entries(it) {
					if k.key.Value == "target" && !isString(k.val) && !c.seen[deref(k.val)] {
						c.errorf("wrong-type", valueNode(k), fmt.Sprintf("%s.%d.target", p, i), "target must be a path, written as a string")
					}
				}
			}
		case key == "env_file":
			c.envFiles(p, e.val)
		case key == "label_file":
			if isString(e.val) {
				c.checkPath(p, e.val, labelFile)
			}
			for i, it := range items(e.val) {
				c.checkPath(fmt.Sprintf("%s.%d", p, i), it, labelFile)
			}
		case key == "extends":
			for _, k := range c.entries(e.val) {
				if k.key.Value == "file" {
					c.checkPath(p+".file", k.val, composeFile)
				}
			}
		}
	}
}

// valueNode is where a value is written, or its key when it is empty.
func valueNode(e entry) *yaml.Node {
	if v := deref(e.val); v != nil && v.Line > 0 && !(isNull(v) && v.Value == "") {
		return v
	}
	return e.key
}

// ulimit checks one ulimit: compose-go casts it to int unchecked.
func (c *checker) ulimit(path string, u entry) {
	if c.seen[deref(u.val)] {
		return
	}
	ok := ulimitInt(u.val)
	if v := deref(u.val); v != nil && v.Kind == yaml.MappingNode {
		ok = true
		for _, k := range c.entries(v) {
			if (k.key.Value == "soft" || k.key.Value == "hard") && !ulimitInt(k.val) {
				if !c.seen[deref(k.val)] {
					c.errorf("ulimit-value", valueNode(k), path+"."+k.key.Value, "must be an integer between -1 and 2^63-1")
				}
			}
		}
	}
	if !ok {
		c.errorf("ulimit-value", valueNode(u), path, "must be an integer between -1 and 2^63-1 or a {soft, hard} mapping")
	}
}

func ulimitInt(n *yaml.Node) bool {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	var i int64
	switch n.ShortTag() {
	case "!!int":
		return n.Decode(&i) == nil && i >= -1
	case "!!str":
		if strings.Contains(n.Value, "$") {
			return true // interpolated, then cast by compose-go with an error
		}
		i, err := strconv.ParseInt(n.Value, 10, 64)
		return err == nil && i >= -1
	}
	return false
}

func (c *checker) include(n *yaml.Node) {
	for i, it := range items(n) {
		p := fmt.Sprintf("include.%d", i)
		if isString(it) {
			c.checkPath(p, it, composeFile)
			continue
		}
		for _, k := range c.entries(it) {
			switch k.key.Value {
			case "path":
				if isString(k.val) {
					c.checkPath(p+".path", k.val, composeFile)
				}
				for j, s := range items(k.val) {
					c.checkPath(fmt.Sprintf("%s.path.%d", p, j), s, composeFile)
				}
			case "env_file":
				if isString(k.val) {
					c.checkPath(p+".env_file", k.val, envFile)
				}
				for j, s := range items(k.val) {
					c.checkPath(fmt.Sprintf("%s.env_file.%d", p, j), s, envFile)
				}
			}
		}
	}
}

// envFiles checks a service's env_file: a path, a list of paths, or of
// {path, required, format}. A missing file is Lower's to report (it knows
// whether it is required).
func (c *checker) envFiles(path string, n *yaml.Node) {
	if isString(n) {
		c.checkPath(path, n, serviceEnvFile)
	}
	for i, it := range items(n) {
		p := fmt.Sprintf("%s.%d", path, i)
		if isString(it) {
			c.checkPath(p, it, serviceEnvFile)
		}
		for _, k := range c.entries(it) {
			if k.key.Value != "path" {
				continue
			}
			if !isString(k.val) && !c.seen[deref(k.val)] {
				// compose-go casts it to a string without checking
				c.errorf("wrong-type", valueNode(k), p+".path", "path must be a file path, written as a string")
				continue
			}
			c.checkPath(p+".path", k.val, serviceEnvFile)
		}
	}
}

// fileKind is what a file named by a key becomes.
type fileKind int

const (
	fileObject     fileKind = iota // a secret or config: missing is Lower's
	serviceEnvFile                 // an env_file of a service: missing is Lower's
	envFile                        // an env_file of an include: must exist
	labelFile                      // must exist
	composeFile                    // include or extends.file: must exist
)

func (k fileKind) limit() (int64, string) {
	switch k {
	case composeFile:
		return maxComposeFile, "a compose file Tycho reads"
	case labelFile:
		return maxObjectFile, "the labels of an object"
	case fileObject:
		return maxObjectFile, "a ConfigMap or a Secret"
	}
	return maxObjectFile, "an env file (it becomes a ConfigMap)"
}

// file checks the file that n names, as compose-go will resolve it.
func (c *checker) checkPath(path string, n *yaml.Node, kind fileKind) {
	v := deref(n)
	if v != nil && v.Kind == yaml.ScalarNode && !isNull(v) && strings.TrimSpace(v.Value) == "" {
		// the loader would read the directory it resolves against
		c.errorf("wrong-type", v, path, "the file path is empty")
		return
	}
	if !isString(v) {
		return
	}
	name, err := template.Substitute(v.Value, func(k string) (string, bool) {
		val, ok := c.env[k]
		return val, ok
	})
	if err != nil || name == "" || strings.HasPrefix(name, "~") || strings.Contains(name, "://") {
		return // the loader reports bad interpolation; remote files are not read here
	}
	abs := name
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(c.workDir, abs)
	}
	msg, code := checkFile(abs, name, kind)
	if msg != "" {
		c.errorf(code, v, path, "%s", msg)
	}
}

// checkFile says why the file at abs (shown as name) cannot be read as
// kind, or "" when it can (or when it is missing and need not exist).
func checkFile(abs, name string, kind fileKind) (msg, code string) {
	if abs == os.DevNull {
		return "", "" // the empty file, as docker compose reads it
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if kind == fileObject || kind == serviceEnvFile {
			return "", ""
		}
		return "file not found: " + name, "file-not-found"
	case err != nil:
		return fmt.Sprintf("cannot read %s: %s", name, errorText(err)), "file-unreadable"
	case st.IsDir():
		return name + " is a directory, not a file", "file-type"
	case !st.Mode().IsRegular():
		return fmt.Sprintf("%s is %s, not a regular file", name, modeName(st.Mode())), "file-type"
	}
	if limit, what := kind.limit(); st.Size() > limit {
		return fmt.Sprintf("%s is %d bytes, more than %s can hold (%d MiB)", name, st.Size(), what, limit>>20), "file-too-large"
	}
	return "", ""
}

func modeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0, m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// readBounded reads a file that a key names, refusing what checkFile
// refuses: Tycho's own reads (secrets, configs, env_file) are bounded even
// for files that precheck did not see (those of an included file).
func readBounded(abs, name string, kind fileKind) ([]byte, error) {
	if msg, code := checkFile(abs, name, kind); msg != "" {
		return nil, &fileError{Code: code, Msg: msg}
	}
	return os.ReadFile(abs)
}

// fileError is a file that a key names and that cannot become what the
// key makes of it: a diagnostic with its code, at the key.
type fileError struct {
	Code, Msg string
}

func (e *fileError) Error() string { return e.Msg }
