package game

import (
	"slices"
	"testing"
)

// A drop note lists the dropped seqs as runs, the newest maxDropRuns,
// and counts every drop.
func TestDropNoteRuns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seqs  []uint32
		runs  []uint32
		count uint32
	}{
		{"one", []uint32{7}, []uint32{7, 7}, 1},
		{"a run", []uint32{7, 8, 9}, []uint32{7, 9}, 3},
		{"taken ones between", []uint32{3, 4, 6, 9, 10}, []uint32{3, 4, 6, 6, 9, 10}, 5},
		{"a resend dropped again", []uint32{3, 4, 5, 4}, []uint32{3, 5}, 4},
		{"across the wrap", []uint32{1<<32 - 2, 1<<32 - 1, 1, 2}, []uint32{1<<32 - 2, 2}, 4},
		{"the newest runs", []uint32{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 20}, []uint32{5, 5, 7, 7, 9, 9, 11, 11, 13, 13, 15, 15, 17, 17, 19, 20}, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n dropNote
			for _, s := range tc.seqs {
				n.add(s)
			}
			if got := n.runs[:2*n.n]; !slices.Equal(got, tc.runs) || n.count != tc.count {
				t.Fatalf("runs %v count %d, want %v count %d", got, n.count, tc.runs, tc.count)
			}
		})
	}
}
