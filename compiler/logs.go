package compiler

import (
	"io"
	"regexp"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// compose-go reports some findings (an unset variable, the obsolete
// version key) only as logrus lines on the global logger. A stage never
// prints: while a load runs, those lines are captured and become
// diagnostics. The logger is global, so loads take turns.
var (
	logOnce sync.Once
	logMu   sync.Mutex
	logSink *[]string
)

type logHook struct{}

func (logHook) Levels() []logrus.Level { return logrus.AllLevels }

func (logHook) Fire(e *logrus.Entry) error {
	if logSink != nil && e.Level <= logrus.WarnLevel {
		*logSink = append(*logSink, e.Message)
	}
	return nil
}

// captureLogs runs f with compose-go's log lines collected.
func captureLogs(f func()) []string {
	logOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.AddHook(logHook{})
	})
	logMu.Lock()
	defer logMu.Unlock()
	var lines []string
	logSink = &lines
	defer func() { logSink = nil }()
	f()
	return lines
}

var (
	reUnsetVar = regexp.MustCompile(`The "([^"]+)" variable is not set`)
	reObsolete = regexp.MustCompile("the attribute `version` is obsolete")
)

// logDiagnostics turns captured compose-go log lines into diagnostics.
func logDiagnostics(lines []string, m *srcmap.Map) diag.List {
	var diags diag.List
	for _, l := range lines {
		switch {
		case reUnsetVar.MatchString(l):
			v := reUnsetVar.FindStringSubmatch(l)[1]
			diags.Warnf("unset-variable", m.Find("${"+v, "$"+v), "", "variable %s is not set: it is replaced by an empty string", v).
				Note("set %s in the environment or in .env, or give a default with ${%s:-default}", v, v)
		case reObsolete.MatchString(l):
			diags.Infof("obsolete-version", m.Lookup("version"), "version", "the version key is obsolete and ignored")
		default:
			p := ast.Pos{}
			if len(m.Files) > 0 {
				p.File = m.Files[0].File
			}
			diags.Warnf("compose-go", p, "", "%s", l)
		}
	}
	return diags
}
