package extract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/tidwall/gjson"
)

// specialDoc has member names that need escaping in gjson paths, digit
// names, duplicates and escapes.
const specialDoc = `{"a.b":1,"*":2,"?":3,"|":4,"#":5,"@":6,"\\":7,"!":8,"=":9,"<":10,">":11,"%":12,
"":13,"0":14,"01":15,"a":[1,{"b":2,"c":[true,null,"x"]}],"dup":1,"dup":2,"esc\u0041":"x\u00e9\ud800\/",
"a*":{"b?":{"#(c)":"deep"}},"@this":"at","sp ace":"s","-1":"neg","f":1.50e+3,"n":null,"arr":[[0,1],[2,[3,4]]],
"uni\u00e9":"é","ctl\n":"nl","x\"y":"q","back\\slash":"b"}`

// interesting member names for generated queries.
var fuzzNames = []string{"a", "b", "c", "a.b", "*", "?", "|", "#", "@", "\\", "!", "=", "<", ">", "%", "",
	"0", "01", "-1", "dup", "escA", "a*", "b?", "#(c)", "@this", "sp ace", "f", "n", "arr", "unié", "ctl\n",
	"x\"y", "back\\slash", "ref", "repository", "owner", "login", "commits", "id", "sender", "pull_request",
	"head", "sha", "user", "name", "labels", "issue", "#.id", "a|b", "@reverse"}

// quoteName writes n as an RFC 9535 single-quoted name selector.
func quoteName(n string) string {
	var b strings.Builder
	b.WriteString("['")
	for _, r := range n {
		switch {
		case r == '\'':
			b.WriteString(`\'`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString("']")
	return b.String()
}

// singularFromBytes builds a singular query from fuzz bytes, using the
// body's own member names where it has some.
func singularFromBytes(body []byte, q []byte) string {
	var keys []string
	if gjson.ValidBytes(body) {
		var walk func(r gjson.Result, depth int)
		walk = func(r gjson.Result, depth int) {
			if depth > 6 || len(keys) > 200 {
				return
			}
			r.ForEach(func(k, v gjson.Result) bool {
				if k.Type == gjson.String {
					keys = append(keys, k.Str)
				}
				walk(v, depth+1)
				return true
			})
		}
		walk(gjson.ParseBytes(body), 0)
	}
	var b strings.Builder
	b.WriteString("$")
	for i := 0; i < len(q) && i < 24; i++ {
		c := q[i]
		switch c % 5 {
		case 0, 1:
			if len(keys) > 0 {
				b.WriteString(quoteName(keys[int(c/5)%len(keys)]))
				continue
			}
			fallthrough
		case 2:
			b.WriteString(quoteName(fuzzNames[int(c/5)%len(fuzzNames)]))
		case 3:
			fmt.Fprintf(&b, "[%d]", int(int8(c))/5)
		case 4:
			n := int(c/5) % 4
			if i+1+n > len(q) {
				n = len(q) - i - 1
			}
			b.WriteString(quoteName(strings.ToValidUTF8(string(q[i+1:i+1+n]), "?")))
			i += n
		}
	}
	return b.String()
}

func corpusPayloads(tb testing.TB) [][]byte {
	dir := filepath.Join(corpusDir(tb), "github")
	var out [][]byte
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			out = append(out, MustReadCorpus(tb, strings.TrimPrefix(p, corpusDir(tb)+"/")))
		}
		return nil
	})
	return out
}

// FuzzSingularFastPath proves that singular JSONPath queries answered by
// gjson on the raw bytes give exactly what the decoding path gives: the
// same variables, the same nodes and the same errors.
func FuzzSingularFastPath(f *testing.F) {
	seeds := [][]byte{{0}, {1, 1, 3}, {2, 8, 3, 13}, {10, 15, 20}, {4, 'a', 'b', 3}, {5, 0, 1, 13}, {250, 3}}
	for _, p := range corpusPayloads(f) {
		for _, s := range seeds[:3] {
			f.Add(p, s)
		}
	}
	for _, s := range seeds {
		f.Add([]byte(specialDoc), s)
	}
	for i := range fuzzNames {
		f.Add([]byte(specialDoc), []byte{byte(i*5 + 2)})
		f.Add([]byte(specialDoc), []byte{byte(i*5 + 2), 3, 8})
	}
	f.Add([]byte(`[1,[2,3],{"0":"o"}]`), []byte{3, 253, 3})
	f.Add([]byte(`{"a":1,"a":2}`), []byte{2})
	f.Add([]byte(`{"a":`), []byte{2})
	f.Add([]byte(`"str"`), []byte{2})
	f.Fuzz(func(t *testing.T, body, q []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("WATCHDOG %q %q", body, q))
			}
		}()
		query := singularFromBytes(body, q)
		v, err := extract.Compile(extract.Spec{Name: "x", JSONPath: query})
		if err != nil {
			t.Fatalf("Compile(%q): %v", query, err)
		}
		if !extract.IsSingular(v) {
			t.Fatalf("%q not compiled as singular", query)
		}
		fast, slow := map[string]string{}, map[string]string{}
		errFast := v.Resolve(extract.NewInput(body, nil, nil), fast)
		errSlow := extract.ForceSlow(v).Resolve(extract.NewInput(body, nil, nil), slow)
		if fmt.Sprint(errFast) != fmt.Sprint(errSlow) {
			t.Fatalf("%q on %q: fast error %v, slow error %v", query, body, errFast, errSlow)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q on %q:\nfast %q\nslow %q", query, body, fast, slow)
		}
		in := extract.NewInput(body, nil, nil)
		nf, errF := extract.Nodes(extract.KindJSONPath, query, in)
		ns, errS := extract.NodesSlow(query, in)
		if fmt.Sprint(errF) != fmt.Sprint(errS) || !reflect.DeepEqual(nf, ns) {
			t.Fatalf("%q on %q: Nodes fast %#v (%v), slow %#v (%v)", query, body, nf, errF, ns, errS)
		}
	})
}

// FuzzCompile checks that Compile never panics, that its errors wrap
// ErrInvalidExpression, and that a compiled variable resolves without
// panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"$.a", "$..a", "$[?@.a == 1]", "$['a'", "a.b|@flatten", "/a/b", "//a[@x]",
		"X-GitHub-Event", "[", "$[1:2:0]", "count(//a)", "(?!x)", `^push\s(?!0{40}).{40}`} {
		for kind := range byte(6) {
			f.Add(kind, s, "")
			f.Add(kind, s, "[^0-9]")
		}
	}
	f.Fuzz(func(t *testing.T, kind byte, expr, filter string) {
		s := extract.Spec{Name: "v", RegexpFilter: filter}
		switch kind % 6 {
		case 0:
			s.JSONPath = expr
		case 1:
			s.GJSON = expr
		case 2:
			s.XPath = expr
		case 3:
			s.Header = expr
		case 4:
			s.Query = expr
		case 5:
			s.Form = expr
		}
		v, err := extract.Compile(s)
		if err != nil {
			if !errors.Is(err, extract.ErrInvalidExpression) {
				t.Fatalf("Compile(%+v) = %v, not ErrInvalidExpression", s, err)
			}
			return
		}
		for _, body := range []string{`{"a":[1,{"b":"x"}]}`, `<a><b>x</b></a>`} {
			_ = v.Resolve(extract.NewInput([]byte(body), nil, nil), map[string]string{})
		}
	})
}

// FuzzResolve checks Resolve on arbitrary bodies: no panic, errors are one
// of the sentinels, and the JSON validity check agrees with encoding/json.
func FuzzResolve(f *testing.F) {
	for _, p := range corpusPayloads(f)[:20] {
		f.Add(p, "$..id")
	}
	for _, b := range []string{specialDoc, `[`, `{"a":1,}`, `{"a":"\ud800"}`, "\"\x01\"", `1e`, `-0.0E+1`,
		`<a><b>x</b><b>y</b></a>`, `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`} {
		f.Add([]byte(b), "$.a")
		f.Add([]byte(b), "$..*")
	}
	vars := func(q string) []*extract.Variable {
		var out []*extract.Variable
		for _, s := range []extract.Spec{
			{Name: "j", JSONPath: q}, {Name: "r", JSONPath: "$"}, {Name: "g", GJSON: "a|@this"},
			{Name: "x", XPath: "//b"}, {Name: "h", Header: "X-A"},
		} {
			if v, err := extract.Compile(s); err == nil {
				out = append(out, v)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, body []byte, q string) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("WATCHDOG %q %q", body, q))
			}
		}()
		for _, v := range vars(q) {
			err := v.Resolve(extract.NewInput(body, nil, nil), map[string]string{})
			if err != nil && !errors.Is(err, extract.ErrMalformedBody) && !errors.Is(err, extract.ErrTooLarge) && !errors.Is(err, extract.ErrTimeout) {
				t.Fatalf("Resolve(%s %q) on %q: unexpected error %v", v.Source(), v.Expression(), body, err)
			}
		}
		_, err := extract.Nodes(extract.KindJSONPath, "$", extract.NewInput(body, nil, nil))
		if valid := json.Valid(body); valid != (err == nil) && !strings.Contains(fmt.Sprint(err), "nesting depth") {
			t.Fatalf("json.Valid(%q) = %v but Nodes error = %v", body, valid, err)
		}
	})
}
