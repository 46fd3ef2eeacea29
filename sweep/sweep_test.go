package sweep

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every group falls in exactly one shard of N.
func TestShardsPartitionGroups(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for g := range 17 {
			owners := 0
			for i := range n {
				if (Shard{Index: i, Count: n}).Owns(g) {
					owners++
				}
			}
			if owners != 1 {
				t.Errorf("group %d has %d owners among %d shards", g, owners, n)
			}
		}
	}
	if got := (Shard{Index: 2, Count: 3}).FileName("progress", ".jsonl"); got != "progress.shard-2-of-3.jsonl" {
		t.Errorf("file name %q", got)
	}
	if got := (Shard{}).LockName(); got != "lock" {
		t.Errorf("whole lock %q", got)
	}
}

// A folder holds one mode: a whole run's file or shards of one count.
func TestCheckMode(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("r.shard-1-of-2.jsonl")
	for _, c := range []struct {
		s    Shard
		want string
	}{{Shard{}, "holds the results of shards (r.shard-1-of-2.jsonl)"}, {Shard{Index: 0, Count: 3}, "holds shards of 2"}, {Shard{Index: 0, Count: 2}, ""}} {
		err := CheckMode(dir, "r", ".jsonl", c.s, "tool collect")
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("shard %v: %v, want %q", c.s, err, c.want)
		}
	}
	write("r.jsonl")
	if err := CheckMode(dir, "r", ".jsonl", Shard{Index: 0, Count: 2}, "tool collect"); err == nil || !strings.Contains(err.Error(), "holds a whole run's r.jsonl") {
		t.Errorf("shards over a whole run: %v", err)
	}
}

type rec struct {
	ID string `json:"id"`
}

// A torn last line is dropped (and good stops before it); a damaged line before the last is an error;
// the same unit in two files is refused.
func TestRecords(t *testing.T) {
	dir := t.TempDir()
	valid := func(r rec) bool { return r.ID != "" }
	path := filepath.Join(dir, "r.jsonl")
	os.WriteFile(path, []byte("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\""), 0o644)
	rs, good, err := ReadRecords(path, valid)
	if err != nil || len(rs) != 2 || good != 22 {
		t.Fatalf("torn tail: %v %d %v", rs, good, err)
	}
	a, err := OpenAppender(path, good)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append(rec{"c"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if rs, _, _ := ReadRecords(path, valid); len(rs) != 3 || rs[2].ID != "c" {
		t.Fatalf("after append: %v", rs)
	}
	os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("{\"id\":\"a\"}\nnot json\n{\"id\":\"b\"}\n"), 0o644)
	if _, _, err := ReadRecords(filepath.Join(dir, "bad.jsonl"), valid); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("damaged middle line: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "r.shard-0-of-2.jsonl"), []byte("{\"id\":\"b\"}\n"), 0o644)
	_, err = ReadAllRecords(dir, "r", ".jsonl", valid, func(r rec) string { return r.ID },
		func(r rec, first, second string) error { return os.ErrExist })
	if err != os.ErrExist {
		t.Errorf("a unit in two files: %v", err)
	}
}

func TestJobArray(t *testing.T) {
	s := JobArray{Name: "exp a/b", About: []string{"hello"}, Dir: "/d", Workdir: "/w x", Tasks: 3, Args: []string{"/bin/l", "run", "it's"}}.Script()
	for _, want := range []string{"# hello\n", "#SBATCH --job-name=exp_a_b\n", "#SBATCH --array=0-2\n", "cd '/w x'\n",
		`exec /bin/l run 'it'\''s' --shard "${SLURM_ARRAY_TASK_ID}/3" --resume` + "\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
