package extract_test

import (
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/tidwall/gjson"
)

// benchPaths are ten singular queries on a GitHub push and the same paths
// in gjson syntax.
var benchPaths = []struct{ jsonpath, gjson string }{
	{"$.ref", "ref"},
	{"$.before", "before"},
	{"$.after", "after"},
	{"$.repository.full_name", "repository.full_name"},
	{"$.repository.owner.login", "repository.owner.login"},
	{"$.repository.default_branch", "repository.default_branch"},
	{"$.pusher.name", "pusher.name"},
	{"$.sender.login", "sender.login"},
	{"$.head_commit.id", "head_commit.id"},
	{"$.commits[0].id", "commits.0.id"},
}

// benchPayload is the 8.8 KB push of the corpus that carries a commit
// (github/push/payload.json is a 7.3 KB tag deletion without commits).
const benchPayload = "github/push/with-new-branch.payload.json"

func MustCompile(tb testing.TB, s extract.Spec) *extract.Variable {
	tb.Helper()
	v, err := extract.Compile(s)
	if err != nil {
		tb.Fatalf("Compile(%+v): %v", s, err)
	}
	return v
}

func benchVars(b *testing.B) []*extract.Variable {
	var vars []*extract.Variable
	for i, p := range benchPaths {
		vars = append(vars, MustCompile(b, extract.Spec{Name: "v" + string(rune('a'+i)), JSONPath: p.jsonpath}))
	}
	return vars
}

// BenchmarkSingular10 resolves ten singular JSONPath variables on a fresh
// Input (validation included) per iteration.
func BenchmarkSingular10(b *testing.B) {
	body := MustReadCorpus(b, benchPayload)
	vars := benchVars(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := extract.ResolveAll(vars, extract.NewInput(body, nil, nil)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawGJSON10 is the baseline: ten gjson.GetBytes of the same paths.
func BenchmarkRawGJSON10(b *testing.B) {
	body := MustReadCorpus(b, benchPayload)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range benchPaths {
			if !gjson.GetBytes(body, p.gjson).Exists() {
				b.Fatal(p.gjson)
			}
		}
	}
}

// BenchmarkIndefinite10Triggers resolves, for ten triggers, a variable with
// a non-singular query on one delivery: the body is decoded once.
func BenchmarkIndefinite10Triggers(b *testing.B) {
	body := MustReadCorpus(b, benchPayload)
	var triggers [][]*extract.Variable
	for range 10 {
		triggers = append(triggers, []*extract.Variable{
			MustCompile(b, extract.Spec{Name: "ids", JSONPath: "$..id"}),
			MustCompile(b, extract.Spec{Name: "logins", JSONPath: "$..[?@.login].login"}),
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		in := extract.NewInput(body, nil, nil)
		for _, vars := range triggers {
			if _, err := extract.ResolveAll(vars, in); err != nil {
				b.Fatal(err)
			}
		}
		if in.DecodeCount() != 1 {
			b.Fatalf("decoded %d times", in.DecodeCount())
		}
	}
}

// BenchmarkSingularRatio interleaves the work of BenchmarkSingular10 and
// BenchmarkRawGJSON10 in one loop, so both see the same machine load, and
// reports their ratio (target ≤ 1.5).
func BenchmarkSingularRatio(b *testing.B) {
	body := MustReadCorpus(b, benchPayload)
	vars := benchVars(b)
	var ours, raw time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := extract.ResolveAll(vars, extract.NewInput(body, nil, nil)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for _, p := range benchPaths {
			gjson.GetBytes(body, p.gjson)
		}
		t2 := time.Now()
		ours += t1.Sub(t0)
		raw += t2.Sub(t1)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "singular-ns/op")
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "rawgjson-ns/op")
	b.ReportMetric(float64(ours)/float64(raw), "ratio")
}
