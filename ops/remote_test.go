package ops

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUsedEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "1", "B": "2", "C": "3", "D": "4", "E": "5", "F": "6", "G": "7", "SECRET": "s"}
	text := "a: $A\nb: ${B:-x}\nc: $$C\nd: ${D:-${E}}\nf: $$$F\nh: ${H}\n"
	want := map[string]string{"A": "1", "B": "2", "D": "4", "E": "5", "F": "6"}
	if diff := cmp.Diff(want, usedEnv([]byte(text), env)); diff != "" {
		t.Errorf("usedEnv (-want +got):\n%s", diff)
	}
}
