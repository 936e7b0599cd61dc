package compiler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// DefaultFileNames are the compose files looked for when none is given, in
// the order docker compose tries them.
var DefaultFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// StdinName is how a compose file read from standard input is named in
// diagnostics.
const StdinName = "<stdin>"

// Source is a compose document held in memory (e.g. sent to the API).
type Source struct {
	// Name is shown in diagnostics.
	Name    string
	Content []byte
}

// LoadOptions say which compose files to load and with which environment,
// as docker compose's flags do.
type LoadOptions struct {
	// Files are paths; "-" reads Stdin. Empty means COMPOSE_FILE, else
	// the default file names in WorkDir or its parents.
	Files []string
	Stdin io.Reader
	// Sources are in-memory documents, used instead of Files when set.
	Sources []Source
	// WorkDir is the directory relative paths start from (the process's
	// working directory for the CLI).
	WorkDir string
	// Env is the process environment; it wins over .env files.
	Env map[string]string
	// EnvFiles replace the .env beside the first compose file.
	EnvFiles []string
	// ProjectName overrides the name (-p); empty means compose's rules.
	ProjectName string
	// Profiles to enable (--profile); empty means COMPOSE_PROFILES.
	Profiles []string
	// SkipDotEnv ignores the .env file beside the first compose file.
	SkipDotEnv bool
	// KeepPaths leaves the paths of the files as written (./data,
	// ~/.kube) instead of resolving them against WorkDir and the process's
	// home directory, for sources that have no directory (the API):
	// there, resolving would only show the server's own paths.
	KeepPaths bool
}

// Loaded is a compose project with the positions of its keys.
type Loaded struct {
	Project *types.Project
	Map     *srcmap.Map
	// Env is the environment used for interpolation.
	Env map[string]string
	// WorkDir is the project's directory.
	WorkDir string
}

// maxNodeVisits lets compose-go's reset/override pass through files of
// thousands of services (its default of 100 000 refuses 5000 rich ones).
const maxNodeVisits = 1 << 30

// Load reads and loads the compose files of opts. User mistakes come back
// as diagnostics with positions; the error is for I/O failures only.
func Load(ctx context.Context, opts LoadOptions) (*Loaded, diag.List, error) {
	var diags diag.List
	files, workDir, err := readFiles(opts)
	if err != nil {
		return nil, nil, err
	}
	m := &srcmap.Map{}
	cfgs := make([]types.ConfigFile, len(files))
	names := map[string]string{}
	for i, f := range files {
		idx := srcmap.Parse(f.Display, f.Content)
		m.Files = append(m.Files, idx)
		cfgs[i] = types.ConfigFile{Filename: f.Name, Content: f.Content}
		names[f.Name] = f.Display
		// compose-go would expand the aliases and merge keys of the
		// file without bound: a file that crosses one is refused
		// before compose-go reads it.
		diags = append(diags, limitDiagnostics(idx)...)
	}
	if diags.HasErrors() {
		return nil, diags, nil
	}

	env := map[string]string{}
	for k, v := range opts.Env {
		env[k] = v
	}
	envFiles := opts.EnvFiles
	if len(envFiles) == 0 && !opts.SkipDotEnv {
		dot := filepath.Join(workDir, ".env")
		if st, err := os.Stat(dot); err == nil && !st.IsDir() {
			envFiles = []string{dot}
		}
	}
	if len(envFiles) > 0 {
		// dotenv reads without bound: a device or a huge file is refused
		// first, as the file it is (no key names it).
		for _, f := range envFiles {
			if msg, code := checkFile(f, displayPath(f, workDir), envFile); msg != "" {
				diags.Errorf(code, ast.Pos{File: displayPath(f, workDir)}, "", "%s", msg)
			}
		}
		if diags.HasErrors() {
			return nil, diags, nil
		}
		fromFiles, err := dotenv.GetEnvFromFile(env, envFiles)
		if err != nil {
			diags.Errorf("env-file", posOfFile(envFiles, nil), "", "%v", err)
			return nil, diags, nil
		}
		types.Mapping(env).Merge(fromFiles)
	}

	profiles := opts.Profiles
	if len(profiles) == 0 && env["COMPOSE_PROFILES"] != "" {
		for _, p := range strings.Split(env["COMPOSE_PROFILES"], ",") {
			if p = strings.TrimSpace(p); p != "" {
				profiles = append(profiles, p)
			}
		}
	}

	pre := precheck(m, workDir, env)
	diags = append(diags, pre...)
	if pre.HasErrors() {
		return nil, diags, nil
	}

	details := types.ConfigDetails{WorkingDir: workDir, ConfigFiles: cfgs, Environment: env}
	var project *types.Project
	logs := captureLogs(func() {
		defer func() {
			if r := recover(); r != nil {
				err = &loadPanic{value: r}
			}
		}()
		project, err = loader.LoadWithContext(ctx, details, func(o *loader.Options) {
			switch {
			case opts.ProjectName != "":
				o.SetProjectName(opts.ProjectName, true)
			case env["COMPOSE_PROJECT_NAME"] != "":
				o.SetProjectName(env["COMPOSE_PROJECT_NAME"], true)
			default:
				o.SetProjectName(loader.NormalizeProjectName(filepath.Base(workDir)), false)
			}
			o.Profiles = profiles
			// Tycho checks references and cycles itself, in linear time and
			// with positions (see check.go).
			o.SkipConsistencyCheck = true
			// env_file becomes a ConfigMap of its own, so compose-go must
			// not fold it into environment.
			o.SkipResolveEnvironment = true
			o.MaxNodeVisits = maxNodeVisits
			if opts.KeepPaths {
				o.ResolvePaths = false
			}
			narrowCasts(o, m)
			limitPortRanges(o)
		})
	})
	diags = append(diags, logDiagnostics(logs, m)...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if lp := (*loadPanic)(nil); errors.As(err, &lp) {
			pos := posOfFile(nil, m)
			pos.Line, pos.Col = 1, 1 // compose-go does not say where
			diags.Errorf("load-internal", pos, "", "the compose loader failed on a value of an unexpected type in this file").
				Note("check the types of the values (quote text that YAML could read as a number, a date or null); please report this file to Tycho")
			return nil, diags, nil
		}
		diags = append(diags, loadErrors(err, m, names)...)
		return nil, diags, nil
	}
	return &Loaded{Project: project, Map: m, Env: env, WorkDir: workDir}, diags, nil
}

// CheckLimits reports the bounds on expansion, nesting and key paths that
// the sources cross, as Load does before compose-go reads them (see
// internal/srcmap/bound.go), without loading them. It is for callers that
// decode a document themselves before compiling it: such a decode expands
// aliases and merge keys too.
func CheckLimits(sources []Source) diag.List {
	var diags diag.List
	for _, s := range sources {
		diags = append(diags, limitDiagnostics(srcmap.Parse(s.Name, s.Content))...)
	}
	return diags
}

func limitDiagnostics(idx *srcmap.Index) diag.List {
	var diags diag.List
	if l := idx.Limit(); l != nil {
		diags.Errorf(l.Code, l.Pos, "", "%s", l.Msg)
	}
	return diags
}

// posOfFile is the position of a file-level diagnostic: the first of
// files, else the first compose file.
func posOfFile(files []string, m *srcmap.Map) (p ast.Pos) {
	switch {
	case len(files) > 0:
		p.File = files[0]
	case m != nil && len(m.Files) > 0:
		p.File = m.Files[0].File
	}
	return p
}

// loadPanic is a panic of compose-go during a load, recovered: a value it
// casts without checking that precheck did not catch. The value is kept
// for debugging, never shown to the user.
type loadPanic struct {
	value any
}

func (p *loadPanic) Error() string { return fmt.Sprintf("compose-go panicked: %v", p.value) }

type file struct {
	// Name is the absolute path (given to compose-go), Display the name
	// shown in diagnostics (as the user wrote it).
	Name    string
	Display string
	Content []byte
}

// readFiles resolves and reads the compose files, and returns the project
// directory (that of the first file).
func readFiles(opts LoadOptions) ([]file, string, error) {
	workDir := opts.WorkDir
	if workDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, "", err
		}
		workDir = wd
	}
	if len(opts.Sources) > 0 {
		out := make([]file, len(opts.Sources))
		for i, s := range opts.Sources {
			out[i] = file{Name: s.Name, Display: s.Name, Content: s.Content}
		}
		return out, workDir, nil
	}
	paths := opts.Files
	if len(paths) == 0 {
		if cf := opts.Env["COMPOSE_FILE"]; cf != "" {
			sep := opts.Env["COMPOSE_PATH_SEPARATOR"]
			if sep == "" {
				sep = string(os.PathListSeparator)
			}
			paths = strings.Split(cf, sep)
		}
	}
	if len(paths) == 0 {
		found, err := findDefault(workDir)
		if err != nil {
			return nil, "", err
		}
		if rel, err := filepath.Rel(workDir, found); err == nil {
			found = rel
		}
		paths = []string{found}
	}
	out := make([]file, 0, len(paths))
	projectDir := ""
	stdinRead := false
	for _, p := range paths {
		if p == "-" {
			if stdinRead {
				return nil, "", errors.New("standard input (-f -) can be read only once")
			}
			stdinRead = true
			if opts.Stdin == nil {
				return nil, "", errors.New("-f -: no standard input")
			}
			b, err := io.ReadAll(opts.Stdin)
			if err != nil {
				return nil, "", fmt.Errorf("reading standard input: %w", err)
			}
			out = append(out, file{Name: "-", Display: StdinName, Content: b})
			if projectDir == "" {
				projectDir = workDir
			}
			continue
		}
		display := p
		if !filepath.IsAbs(p) {
			p = filepath.Join(workDir, p)
		}
		if msg, _ := checkFile(p, display, composeFile); msg != "" && p != os.DevNull {
			return nil, "", fmt.Errorf("reading compose file: %s", msg)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, "", fmt.Errorf("reading compose file: %w", err)
		}
		out = append(out, file{Name: p, Display: filepath.Clean(display), Content: b})
		if projectDir == "" {
			projectDir = filepath.Dir(p)
		}
	}
	return out, projectDir, nil
}

// findDefault looks for a default compose file in dir and its parents, as
// docker compose does.
func findDefault(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		for _, n := range DefaultFileNames {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("no compose file given with -f and none of %s found in %s or its parents", strings.Join(DefaultFileNames, ", "), dir)
}
