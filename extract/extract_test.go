package extract_test

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
)

func ptr(s string) *string { return &s }

// resolveCase is one row of the GWT rule tables: a variable, a delivery,
// and the variables expected (exactly, unless want is nil) or some of them.
type resolveCase struct {
	name    string
	spec    extract.Spec
	body    string
	header  http.Header
	query   url.Values
	want    map[string]string // the exact result
	has     map[string]string // entries that must be present
	absent  []string          // names that must be absent
	wantErr error
}

func runResolveCases(t *testing.T, cases []resolveCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := MustCompile(t, tc.spec)
			got := map[string]string{}
			err := v.Resolve(extract.NewInput([]byte(tc.body), tc.header, tc.query), got)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Resolve error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if tc.want != nil && !maps.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			for k, w := range tc.has {
				if g, ok := got[k]; !ok || g != w {
					t.Errorf("%s = %q (present %v), want %q; all: %q", k, g, ok, w, got)
				}
			}
			for _, k := range tc.absent {
				if g, ok := got[k]; ok {
					t.Errorf("%s = %q, want absent", k, g)
				}
			}
		})
	}
}

// TestResolve_Flattening covers GWT.md §2.2 and §2.6.
func TestResolve_Flattening(t *testing.T) {
	runResolveCases(t, []resolveCase{
		{name: "String", spec: extract.Spec{Name: "ref", JSONPath: "$.ref"}, body: `{"ref":"refs/heads/main"}`,
			want: map[string]string{"ref": "refs/heads/main"}},
		{name: "NumberAndBool", spec: extract.Spec{Name: "v", JSONPath: "$.a"}, body: `{"a":[28,1.50,true,false]}`,
			want: map[string]string{"v": "[28,1.50,true,false]", "v_0": "28", "v_1": "1.50", "v_2": "true", "v_3": "false"}},
		{name: "ObjectKeepsSourceOrderAndEscapes", spec: extract.Spec{Name: "o", JSONPath: "$.o"},
			body: "{\"o\": {\"z\": 1, \"a\": \"x=y&<\\u00e9>\", \"m\": {\"k\": \"v\"}}}",
			want: map[string]string{"o": `{"z":1,"a":"x=y&<\u00e9>","m":{"k":"v"}}`, "o_z": "1", "o_a": "x=y&<é>",
				"o_m": `{"k":"v"}`, "o_m_k": "v"}},
		{name: "NestedArrays", spec: extract.Spec{Name: "payload", JSONPath: "$.user"},
			body: `{"user":[{"name":"a"},{"name":"b","tags":["x"]}]}`,
			has:  map[string]string{"payload_0_name": "a", "payload_1_name": "b", "payload_1_tags_0": "x", "payload_1_tags": `["x"]`}},
		{name: "NullLeavesProduceNothing", spec: extract.Spec{Name: "o", JSONPath: "$.o"}, body: `{"o":{"a":null,"b":1}}`,
			want: map[string]string{"o": `{"a":null,"b":1}`, "o_b": "1"}},
		{name: "NullResult", spec: extract.Spec{Name: "o", JSONPath: "$.o"}, body: `{"o":null}`, want: map[string]string{}},
		{name: "NamesSanitised", spec: extract.Spec{Name: "my-var", JSONPath: "$.o"}, body: `{"o":{"a number":1,"x.y":2,"é":3}}`,
			has: map[string]string{"my_var_a_number": "1", "my_var_x_y": "2", "my_var__": "3"}},
		{name: "IndefiniteList", spec: extract.Spec{Name: "ids", JSONPath: "$..id"},
			body: `{"id":28,"a":{"id":1},"b":[{"id":"1c3e"}]}`,
			want: map[string]string{"ids": `[28,1,"1c3e"]`, "ids_0": "28", "ids_1": "1", "ids_2": "1c3e"}},
		{name: "UnionConcatenatesInListedOrder", spec: extract.Spec{Name: "f", JSONPath: "$.commits[*]['modified','added','removed'][*]"},
			body: `{"commits":[{"added":["a1"],"removed":["r1"],"modified":["m1"]},{"added":[],"removed":[],"modified":["m2"]}]}`,
			has:  map[string]string{"f": `["m1","a1","r1","m2"]`}},
		{name: "GJSONModifier", spec: extract.Spec{Name: "changed", GJSON: "commits.#.modified|@flatten"},
			body: `{"commits":[{"modified":["a","b"]},{"modified":["c"]}]}`,
			want: map[string]string{"changed": `["a","b","c"]`, "changed_0": "a", "changed_1": "b", "changed_2": "c"}},
		{name: "GJSONMissing", spec: extract.Spec{Name: "g", GJSON: "nope", Default: ptr("d")}, body: `{}`,
			want: map[string]string{"g": "d"}},
	})
}

// TestResolve_RawBody covers the expression "$" (GWT.md §2.2).
func TestResolve_RawBody(t *testing.T) {
	body := "{\n  \"a\": {\"b\": \"x\"}\n}"
	runResolveCases(t, []resolveCase{
		{name: "RawVerbatimAndSubVariables", spec: extract.Spec{Name: "p", JSONPath: "$", RegexpFilter: "x"}, body: body,
			want: map[string]string{"p": body, "p_a": `{"b":""}`, "p_a_b": ""}},
		{name: "ShouldNotFlatten", spec: extract.Spec{Name: "p", JSONPath: "$", ShouldNotFlatten: true}, body: body,
			want: map[string]string{"p": body}},
		{name: "NotJSON", spec: extract.Spec{Name: "p", JSONPath: "$"}, body: "plain text",
			want: map[string]string{"p": "plain text"}},
	})
}

// TestResolve_ShouldNotFlatten covers GWT.md §2.3.
func TestResolve_ShouldNotFlatten(t *testing.T) {
	runResolveCases(t, []resolveCase{
		{name: "Object", spec: extract.Spec{Name: "o", JSONPath: "$.o", ShouldNotFlatten: true}, body: `{"o":{"a":[1]}}`,
			want: map[string]string{"o": `{"a":[1]}`}},
		{name: "String", spec: extract.Spec{Name: "s", JSONPath: "$.s", ShouldNotFlatten: true}, body: `{"s":"v"}`,
			want: map[string]string{"s": "v"}},
		{name: "Indefinite", spec: extract.Spec{Name: "s", JSONPath: "$..a", ShouldNotFlatten: true}, body: `{"a":{"a":2}}`,
			want: map[string]string{"s": `[{"a":2},2]`}},
	})
}

// TestResolve_RegexpFilter covers GWT.md §2.4.
func TestResolve_RegexpFilter(t *testing.T) {
	runResolveCases(t, []resolveCase{
		{name: "RemovesEveryMatch", spec: extract.Spec{Name: "ref", JSONPath: "$.ref", RegexpFilter: "^refs/heads/"},
			body: `{"ref":"refs/heads/main"}`, want: map[string]string{"ref": "main"}},
		{name: "KeepDigits", spec: extract.Spec{Name: "n", JSONPath: "$.t", RegexpFilter: "[^0-9]"},
			body: `{"t":"PR-12 (v3)"}`, want: map[string]string{"n": "123"}},
		{name: "NegativeLookaheadMatches", spec: extract.Spec{Name: "t", JSONPath: "$.t", RegexpFilter: `^push\s(?!0{40}).{40}`},
			body: `{"t":"push 1234567890123456789012345678901234567890 rest"}`, want: map[string]string{"t": " rest"}},
		{name: "NegativeLookaheadRejects", spec: extract.Spec{Name: "t", JSONPath: "$.t", RegexpFilter: `^push\s(?!0{40}).{40}`},
			body: `{"t":"push 0000000000000000000000000000000000000000"}`,
			want: map[string]string{"t": "push 0000000000000000000000000000000000000000"}},
		{name: "LeavesAndRootJSON", spec: extract.Spec{Name: "o", JSONPath: "$.o", RegexpFilter: "[0-9]"},
			body: `{"o":{"a":"x1","b":2}}`, want: map[string]string{"o": `{"a":"x","b":}`, "o_a": "x", "o_b": ""}},
		{name: "NotTheDefault", spec: extract.Spec{Name: "o", JSONPath: "$.none", RegexpFilter: "d", Default: ptr("dd")},
			body: `{}`, want: map[string]string{"o": "dd"}},
		{name: "Header", spec: extract.Spec{Header: "X-Ref", RegexpFilter: "^refs/tags/"},
			header: http.Header{"X-Ref": {"refs/tags/v1", "refs/tags/v2"}},
			want:   map[string]string{"x_ref": "v1", "x_ref_0": "v1", "x_ref_1": "v2"}},
	})
	t.Run("Invalid", func(t *testing.T) {
		_, err := extract.Compile(extract.Spec{Name: "x", JSONPath: "$.a", RegexpFilter: "(unclosed"})
		if !errors.Is(err, extract.ErrInvalidExpression) {
			t.Fatalf("Compile = %v, want ErrInvalidExpression", err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		v := MustCompile(t, extract.Spec{Name: "x", JSONPath: "$.a", RegexpFilter: `^(a+)+$`})
		body := `{"a":"` + strings.Repeat("a", 40) + `!"}`
		err := v.Resolve(extract.NewInput([]byte(body), nil, nil), map[string]string{})
		if !errors.Is(err, extract.ErrTimeout) {
			t.Fatalf("Resolve = %v, want ErrTimeout", err)
		}
		if strings.Contains(err.Error(), "aaaa") {
			t.Errorf("error %q quotes the input", err)
		}
	})
}

// TestResolve_Defaults covers GWT.md §2.5.
func TestResolve_Defaults(t *testing.T) {
	runResolveCases(t, []resolveCase{
		{name: "MissingDefinite", spec: extract.Spec{Name: "v", JSONPath: "$.a.b", Default: ptr("d")}, body: `{"a":{}}`,
			want: map[string]string{"v": "d"}},
		{name: "MissingNoDefaultAbsent", spec: extract.Spec{Name: "v", JSONPath: "$.a.b"}, body: `{"a":{}}`,
			want: map[string]string{}},
		{name: "Null", spec: extract.Spec{Name: "v", JSONPath: "$.a", Default: ptr("d")}, body: `{"a":null}`,
			want: map[string]string{"v": "d"}},
		{name: "EmptyString", spec: extract.Spec{Name: "v", JSONPath: "$.a", Default: ptr("d")}, body: `{"a":""}`,
			want: map[string]string{"v": "d"}},
		{name: "FilteredEmpty", spec: extract.Spec{Name: "v", JSONPath: "$.a", RegexpFilter: ".*", Default: ptr("d")},
			body: `{"a":"xyz"}`, want: map[string]string{"v": "d"}},
		{name: "EmptyDefault", spec: extract.Spec{Name: "v", JSONPath: "$.a", Default: ptr("")}, body: `{}`,
			want: map[string]string{"v": ""}},
		{name: "IndefiniteNoMatchIsEmptyList", spec: extract.Spec{Name: "v", JSONPath: "$..nope", Default: ptr("d")},
			body: `{"a":1}`, want: map[string]string{"v": "[]"}},
		{name: "XPathNoNode", spec: extract.Spec{Name: "v", XPath: "/a/@nope"}, body: `<a x="1"/>`,
			want: map[string]string{"v": ""}},
		{name: "XPathNoNodeDefault", spec: extract.Spec{Name: "v", XPath: "/a/@nope", Default: ptr("d")}, body: `<a x="1"/>`,
			want: map[string]string{"v": "d"}},
		{name: "MalformedJSON", spec: extract.Spec{Name: "v", JSONPath: "$.a", Default: ptr("d")}, body: `{"a":1,}`,
			wantErr: extract.ErrMalformedBody},
		{name: "MalformedJSONFastPathStillChecked", spec: extract.Spec{Name: "v", JSONPath: "$.a"}, body: `{"a":1} x`,
			wantErr: extract.ErrMalformedBody},
	})
	t.Run("MalformedMessageNamesOffset", func(t *testing.T) {
		v := MustCompile(t, extract.Spec{Name: "v", JSONPath: "$.a"})
		err := v.Resolve(extract.NewInput([]byte(`{"a": [1, 2,, 3]}`), nil, nil), map[string]string{})
		if err == nil || !strings.HasPrefix(err.Error(), "extract: malformed body: invalid JSON at offset 13: ") {
			t.Fatalf("error = %v", err)
		}
	})
}

// TestResolve_Request covers GWT.md §2.8 and §2.9 and form posts.
func TestResolve_Request(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	runResolveCases(t, []resolveCase{
		{name: "HeaderNamedLowerCase", spec: extract.Spec{Header: "X-GitHub-Event"},
			header: http.Header{"X-Github-Event": {"push"}}, want: map[string]string{"x_github_event": "push", "x_github_event_0": "push"}},
		{name: "HeaderCaseInsensitive", spec: extract.Spec{Name: "ev", Header: "x-github-event"},
			header: http.Header{"X-GITHUB-EVENT": {"push"}}, want: map[string]string{"ev": "push", "ev_0": "push"}},
		{name: "HeaderMultiValueBareIsFirst", spec: extract.Spec{Header: "Accept"},
			header: http.Header{"Accept": {"a", "b"}}, want: map[string]string{"accept": "a", "accept_0": "a", "accept_1": "b"}},
		{name: "HeaderAbsent", spec: extract.Spec{Header: "X-None"}, header: http.Header{}, want: map[string]string{}},
		{name: "HeaderAbsentDefault", spec: extract.Spec{Header: "X-None", Default: ptr("d")}, want: map[string]string{"x_none": "d"}},
		{name: "QuerySingle", spec: extract.Spec{Query: "env"}, query: url.Values{"env": {"prod"}},
			want: map[string]string{"env": "prod", "env_0": "prod"}},
		{name: "QueryMultiNoBare", spec: extract.Spec{Query: "r"}, query: url.Values{"r": {"a", "b"}},
			want: map[string]string{"r_0": "a", "r_1": "b"}},
		{name: "QueryCaseSensitive", spec: extract.Spec{Query: "Env", Default: ptr("staging")}, query: url.Values{"env": {"prod"}},
			want: map[string]string{"Env": "staging"}},
		{name: "Form", spec: extract.Spec{Name: "f", Form: "field"}, header: form, body: "field=1&field=2",
			want: map[string]string{"f_0": "1", "f_1": "2"}},
		{name: "FormPayloadIsTheJSONBody", spec: extract.Spec{Name: "ref", JSONPath: "$.ref"}, header: form,
			body: "payload=" + url.QueryEscape(`{"ref":"refs/heads/x"}`), want: map[string]string{"ref": "refs/heads/x"}},
	})
}

// TestResolveAll_MergeOrder covers GWT.md §2.10: headers, then query, then
// body; later sources overwrite earlier ones.
func TestResolveAll_MergeOrder(t *testing.T) {
	vars := []*extract.Variable{
		MustCompile(t, extract.Spec{Name: "x", JSONPath: "$.x"}),
		MustCompile(t, extract.Spec{Name: "x", Query: "x"}),
		MustCompile(t, extract.Spec{Name: "x", Header: "X"}),
		MustCompile(t, extract.Spec{Name: "y", Header: "Y"}),
		MustCompile(t, extract.Spec{Name: "y", Query: "y"}),
	}
	in := extract.NewInput([]byte(`{"x":"body"}`), http.Header{"X": {"header"}, "Y": {"header"}}, url.Values{"x": {"query"}, "y": {"query"}})
	got, err := extract.ResolveAll(vars, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"x": "body", "x_0": "query", "y": "query", "y_0": "query"}
	if !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRender(t *testing.T) {
	vars := map[string]string{"ref": "main", "refs": "all", "a": "$refs", "x_y": "1", "empty": ""}
	for _, tc := range []struct {
		name, text, want string
	}{
		{name: "Plain", text: "$ref", want: "main"},
		{name: "LongestFirst", text: "$refs/$ref", want: "all/main"},
		{name: "LongerSuffixUnknown", text: "$refx", want: "mainx"},
		{name: "Braces", text: "${ref}s", want: "mains"},
		{name: "AbsentLiteral", text: "$none ${none} $", want: "$none ${none} $"},
		{name: "ValuesNotRescanned", text: "$a", want: "$refs"},
		{name: "Empty", text: "[$empty]", want: "[]"},
		{name: "Underscore", text: "$x_y-$x", want: "1-$x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := extract.Render(tc.text, vars); got != tc.want {
				t.Errorf("Render(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{in: "a b-c", want: "a_b_c"}, {in: "x.y:z", want: "x_y_z"}, {in: "é1", want: "_1"}, {in: "ok_9", want: "ok_9"},
	} {
		if got := extract.SanitizeName(tc.in); got != tc.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestResolve_XPath covers GWT.md §2.7 with hooktrigger's fixed indexing.
func TestResolve_XPath(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	two, nested, one := read("two-list-items.xml"), read("two-list-list-items.xml"), read("one-list-item.xml")
	runResolveCases(t, []resolveCase{
		{name: "LeafText", spec: extract.Spec{Name: "book", XPath: "/bookstore/book[1]/title"}, body: two,
			want: map[string]string{"book": "Harry Potter"}},
		{name: "OneNode", spec: extract.Spec{Name: "book", XPath: "/bookstore/book[1]"}, body: two,
			has: map[string]string{"book_title": "Harry Potter", "book_price": "29.99"}},
		{name: "SeveralNodes", spec: extract.Spec{Name: "book", XPath: "/bookstore/book[*]"}, body: two,
			has: map[string]string{"book_0_title": "Harry Potter", "book_1_title": "Learning XML", "book_1_price": "39.95"}},
		{name: "SeveralLeavesIndexed", spec: extract.Spec{Name: "t", XPath: "//title", RegexpFilter: " "}, body: two,
			want: map[string]string{"t": "HarryPotter", "t_0": "HarryPotter", "t_1": "LearningXML"}},
		{name: "Nested", spec: extract.Spec{Name: "book", XPath: "/bookstore"}, body: nested,
			has: map[string]string{"book_book_0_page_0_content": "content 1", "book_book_0_page_1_number": "2",
				"book_book_1_page_0_number": "21"}},
		{name: "RootWildcardSingleBook", spec: extract.Spec{Name: "payload", XPath: "/*"}, body: one,
			has: map[string]string{"payload_book_0_title": "Harry Potter", "payload_book_0_price": "29.99"}},
		{name: "IndexIndependentOfWhitespace", spec: extract.Spec{Name: "payload", XPath: "/*"},
			body: strings.ReplaceAll(strings.ReplaceAll(two, "\n", ""), "  ", ""),
			has:  map[string]string{"payload_book_1_title": "Learning XML"}},
		{name: "Attribute", spec: extract.Spec{Name: "v", XPath: "/attribute[@name='thekey']/@value"},
			body: `<attribute name="thekey" value="thevalue"/>`, want: map[string]string{"v": "thevalue"}},
		{name: "StringFunction", spec: extract.Spec{Name: "n", XPath: "count(//book)"}, body: two,
			want: map[string]string{"n": "2"}},
	})
	t.Run("FirstNodeXMLUnfiltered", func(t *testing.T) {
		got := map[string]string{}
		v := MustCompile(t, extract.Spec{Name: "book", XPath: "/bookstore/book[1]", RegexpFilter: "Harry"})
		if err := v.Resolve(extract.NewInput([]byte(two), nil, nil), got); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got["book"], "<title") || !strings.Contains(got["book"], "Harry Potter") || got["book_title"] != " Potter" {
			t.Errorf("got %q", got)
		}
	})
}

func TestCompile_Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec extract.Spec
	}{
		{name: "NoSource", spec: extract.Spec{Name: "x"}},
		{name: "TwoSources", spec: extract.Spec{Name: "x", JSONPath: "$.a", GJSON: "a"}},
		{name: "BadJSONPath", spec: extract.Spec{Name: "x", JSONPath: "$.a["}},
		{name: "BadXPath", spec: extract.Spec{Name: "x", XPath: "/a["}},
		{name: "EmptyGJSON", spec: extract.Spec{Name: "x", GJSON: " "}},
		{name: "NoName", spec: extract.Spec{JSONPath: "$.a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := extract.Compile(tc.spec); !errors.Is(err, extract.ErrInvalidExpression) {
				t.Fatalf("Compile = %v, want ErrInvalidExpression", err)
			}
		})
	}
}

// TestDecodeOnce checks that ten triggers with non-singular queries on one
// delivery decode the body once, and singular ones never.
func TestDecodeOnce(t *testing.T) {
	body := MustReadCorpus(t, benchPayload)
	in := extract.NewInput(body, nil, nil)
	for range 10 {
		vars := []*extract.Variable{
			MustCompile(t, extract.Spec{Name: "ids", JSONPath: "$..id"}),
			MustCompile(t, extract.Spec{Name: "ref", JSONPath: "$.ref"}),
		}
		if _, err := extract.ResolveAll(vars, in); err != nil {
			t.Fatal(err)
		}
	}
	if n := in.DecodeCount(); n != 1 {
		t.Errorf("DecodeCount = %d, want 1", n)
	}
	in = extract.NewInput(body, nil, nil)
	if _, err := extract.ResolveAll([]*extract.Variable{MustCompile(t, extract.Spec{Name: "ref", JSONPath: "$.commits[0].id"})}, in); err != nil {
		t.Fatal(err)
	}
	if n := in.DecodeCount(); n != 0 {
		t.Errorf("singular query decoded the body %d times", n)
	}
}

// TestCorpus_FlattenAll resolves "$" and "$..*" on every GitHub payload of
// the corpus: real payloads stay far inside the flattening bounds.
func TestCorpus_FlattenAll(t *testing.T) {
	all := MustCompile(t, extract.Spec{Name: "p", JSONPath: "$"})
	desc := MustCompile(t, extract.Spec{Name: "d", JSONPath: "$..*"})
	for _, body := range corpusPayloads(t) {
		in := extract.NewInput(body, nil, nil)
		if _, err := extract.ResolveAll([]*extract.Variable{all, desc}, in); err != nil {
			t.Fatalf("%.80s…: %v", body, err)
		}
	}
}
