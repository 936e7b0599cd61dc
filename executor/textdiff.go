package executor

import (
	"fmt"
	"strings"
)

// splitLines splits a text into its lines, without the line ends.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// edit is one line of a line diff: ' ' kept, '-' removed, '+' added.
type edit struct {
	op   byte
	line string
}

// maxLCS bounds the table of lcsEdits (lines of a × lines of b): past it,
// the differing middle is shown as removed, then added.
const maxLCS = 4 << 20

// lineEdits is a shortest line diff of a and b. The common head and tail
// are cut first: an update changes a few lines of an object.
func lineEdits(a, b []string) []edit {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	out := make([]edit, 0, len(a)+len(b)-p-s)
	for _, l := range a[:p] {
		out = append(out, edit{' ', l})
	}
	out = append(out, lcsEdits(a[p:len(a)-s], b[p:len(b)-s])...)
	for _, l := range a[len(a)-s:] {
		out = append(out, edit{' ', l})
	}
	return out
}

// lcsEdits diffs a and b by their longest common subsequence, removals
// before additions.
func lcsEdits(a, b []string) []edit {
	n, m := len(a), len(b)
	var out []edit
	if n*m > maxLCS {
		for _, l := range a {
			out = append(out, edit{'-', l})
		}
		for _, l := range b {
			out = append(out, edit{'+', l})
		}
		return out
	}
	// lcs[i*(m+1)+j] is the length of the LCS of a[i:] and b[j:]
	lcs := make([]int32, (n+1)*(m+1))
	at := func(i, j int) int32 { return lcs[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case a[i] == b[j]:
				lcs[i*(m+1)+j] = at(i+1, j+1) + 1
			case at(i+1, j) >= at(i, j+1):
				lcs[i*(m+1)+j] = at(i+1, j)
			default:
				lcs[i*(m+1)+j] = at(i, j+1)
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, edit{' ', a[i]})
			i++
			j++
		case at(i+1, j) >= at(i, j+1):
			out = append(out, edit{'-', a[i]})
			i++
		default:
			out = append(out, edit{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, edit{'-', a[i]})
	}
	for ; j < m; j++ {
		out = append(out, edit{'+', b[j]})
	}
	return out
}

// unified prints the diff of a and b as the hunks of a unified diff with
// context lines around each change; "" when they are the same.
func unified(a, b []string, context int) string {
	edits := lineEdits(a, b)
	// aBefore[k] and bBefore[k] count the lines of a and b before edit k
	aBefore := make([]int, len(edits)+1)
	bBefore := make([]int, len(edits)+1)
	for k, e := range edits {
		aBefore[k+1], bBefore[k+1] = aBefore[k], bBefore[k]
		if e.op != '+' {
			aBefore[k+1]++
		}
		if e.op != '-' {
			bBefore[k+1]++
		}
	}
	var sb strings.Builder
	for i := 0; i < len(edits); {
		for i < len(edits) && edits[i].op == ' ' {
			i++
		}
		if i == len(edits) {
			break
		}
		start := max(i-context, 0)
		end := i
		for {
			for end < len(edits) && edits[end].op != ' ' {
				end++
			}
			k := end
			for k < len(edits) && edits[k].op == ' ' {
				k++
			}
			if k < len(edits) && k-end <= 2*context {
				end = k // the next change is close: one hunk
				continue
			}
			end = min(end+context, len(edits))
			break
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n",
			hunkRange(aBefore[start], aBefore[end]-aBefore[start]),
			hunkRange(bBefore[start], bBefore[end]-bBefore[start]))
		for _, e := range edits[start:end] {
			sb.WriteByte(e.op)
			sb.WriteString(e.line)
			sb.WriteByte('\n')
		}
		i = end
	}
	return sb.String()
}

// hunkRange is "start,count" of a hunk that follows line before; an
// empty range starts at the line before it, as diff -u prints it.
func hunkRange(before, count int) string {
	if count == 0 {
		return fmt.Sprintf("%d,0", before)
	}
	return fmt.Sprintf("%d,%d", before+1, count)
}
