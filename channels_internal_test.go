package tickroom

import (
	"slices"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestMergeWaiting: the lines waiting in the write queue join the store's
// lines once each, in time order, the newest n kept; a waiting line the
// store already holds (written between the two reads) is not repeated.
func TestMergeWaiting(t *testing.T) {
	line := func(from, text string, at int64) *tickroomv1.Chat {
		return &tickroomv1.Chat{Channel: "lobby", FromUserId: from, Text: text, SentAtMs: at}
	}
	for _, tc := range []struct {
		name          string
		kept, waiting []*tickroomv1.Chat
		n             int
		want          []string
	}{
		{"none waiting", []*tickroomv1.Chat{line("a", "1", 1)}, nil, 10, []string{"1"}},
		{"waiting after kept", []*tickroomv1.Chat{line("a", "1", 1)}, []*tickroomv1.Chat{line("a", "2", 2), line("b", "3", 3)}, 10, []string{"1", "2", "3"}},
		{"written meanwhile", []*tickroomv1.Chat{line("a", "1", 1), line("a", "2", 2)}, []*tickroomv1.Chat{line("a", "2", 2), line("b", "3", 3)}, 10, []string{"1", "2", "3"}},
		{"the same line twice, one written", []*tickroomv1.Chat{line("a", "hi", 5)}, []*tickroomv1.Chat{line("a", "hi", 5), line("a", "hi", 5)}, 10, []string{"hi", "hi"}},
		{"in time order", []*tickroomv1.Chat{line("a", "1", 1), line("a", "4", 4)}, []*tickroomv1.Chat{line("b", "3", 3)}, 10, []string{"1", "3", "4"}},
		{"the newest n", []*tickroomv1.Chat{line("a", "1", 1), line("a", "2", 2)}, []*tickroomv1.Chat{line("b", "3", 3), line("b", "4", 4)}, 3, []string{"2", "3", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waiting := slices.Clone(tc.waiting)
			var got []string
			for _, l := range mergeWaiting(tc.kept, tc.waiting, tc.n) {
				got = append(got, l.Text)
				if slices.Contains(waiting, l) {
					t.Errorf("line %q is the queue's own, not a copy", l.Text)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("merged %q, want %q", got, tc.want)
			}
		})
	}
}
