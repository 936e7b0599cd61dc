package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Label keys Tycho writes.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelGUID      = "tycho-guid"
	LabelExecutor  = "executor"
	ManagedBy      = "tycho"
)

// DNSLabel normalises s to a DNS-1123 label: lower case, '_' and '.' and
// other invalid characters become '-', at most max characters; a name that
// had to be cut gets a short stable hash suffix so that two long names stay
// apart.
func DNSLabel(s string, max int) string {
	if isDNSLabel(s, max) {
		// most names are already labels: they are returned as they are
		return s
	}
	var b strings.Builder
	// every rune becomes one byte, so the label is at most len(s) long
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteByte(byte(r))
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "x"
	}
	if len(out) > max {
		sum := sha256.Sum256([]byte(s))
		suffix := hex.EncodeToString(sum[:])[:6]
		out = strings.TrimRight(out[:max-7], "-") + "-" + suffix
	}
	return out
}

// isDNSLabel reports whether DNSLabel(s, max) is s itself: s is 1 to max
// lower-case letters, digits and '-', and neither starts nor ends with '-'.
func isDNSLabel(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// DNS1035 is DNSLabel that also starts with a letter, as Service names
// must.
func DNS1035(s string, max int) string {
	out := DNSLabel(s, max)
	if out[0] < 'a' || out[0] > 'z' {
		out = DNSLabel("s-"+out, max)
	}
	return out
}

// portName makes an IANA_SVC_NAME (at most 15 characters, lower case
// letters, digits and single '-', at least one letter) for a port.
func portName(name, proto string, port uint16) string {
	if name != "" {
		n := DNSLabel(name, 15)
		n = strings.ReplaceAll(n, "--", "-")
		if hasLetter(n) && len(n) <= 15 && !strings.Contains(n, "--") {
			return n
		}
	}
	return proto + "-" + strconv.Itoa(int(port))
}

func hasLetter(s string) bool {
	for _, r := range s {
		if r >= 'a' && r <= 'z' {
			return true
		}
	}
	return false
}
