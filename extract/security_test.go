package extract_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
)

// heapGrowth runs fn and returns how many bytes it allocated in total.
func heapGrowth(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// billionLaughs returns an entity-expansion bomb with the given levels.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">`)
	for i := 1; i <= levels; i++ {
		b.WriteString(`<!ENTITY lol` + itoa(i) + ` "`)
		for range 10 {
			b.WriteString(`&lol` + itoa(i-1) + `;`)
		}
		b.WriteString(`">`)
	}
	b.WriteString(`]><lolz>&lol` + itoa(levels) + `;</lolz>`)
	return b.String()
}

func itoa(i int) string {
	return strings.TrimLeft(strings.Repeat("0", 0)+string(rune('0'+i/10))+string(rune('0'+i%10)), "0")
}

// TestSecurity_XML checks that XXE, parameter entities and entity bombs are
// rejected without expansion and that memory stays bounded.
func TestSecurity_XML(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
	}{
		{name: "ExternalEntity", body: `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>`},
		{name: "ParameterEntity", body: `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]><r>x</r>`},
		{name: "ExternalDTD", body: `<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/x.dtd"><r>x</r>`},
		{name: "BillionLaughs", body: billionLaughs(9)},
		{name: "NestedEntities20Levels", body: billionLaughs(20)},
		{name: "UndeclaredEntity", body: `<r>&xxe;</r>`},
		{name: "DeepNesting", body: strings.Repeat("<a>", 100_000) + strings.Repeat("</a>", 100_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := MustCompile(t, extract.Spec{Name: "x", XPath: "//r"})
			var err error
			got := map[string]string{}
			alloc := heapGrowth(func() { err = v.Resolve(extract.NewInput([]byte(tc.body), nil, nil), got) })
			if !errors.Is(err, extract.ErrMalformedBody) {
				t.Errorf("Resolve = %v (vars %q), want ErrMalformedBody", err, got)
			}
			if limit := uint64(64*len(tc.body) + 1<<20); alloc > limit {
				t.Errorf("allocated %d bytes, limit %d", alloc, limit)
			}
		})
	}
}

// TestSecurity_JSON checks deep nesting and a flattening bomb: a 20-level
// nest whose every level repeats the one below would make GWT write the
// JSON of every level; the result is bounded or rejected.
func TestSecurity_JSON(t *testing.T) {
	nest := "1"
	for range 20 {
		nest = `{"a":` + nest + `,"b":` + nest + `}`
		if len(nest) > 4<<20 {
			break
		}
	}
	for _, tc := range []struct {
		name    string
		body    string
		expr    string
		wantErr error
	}{
		{name: "Deep", body: strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000), expr: "$..*", wantErr: extract.ErrMalformedBody},
		{name: "DeepSingular", body: strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000), expr: "$.a", wantErr: extract.ErrMalformedBody},
		{name: "Nest20Flatten", body: nest, expr: "$"},
		{name: "Nest20Descendants", body: nest, expr: "$..*", wantErr: extract.ErrTooLarge},
		{name: "DeepChainFlatten", body: strings.Repeat("[", 999) + strings.Repeat(" ", 1<<20) + strings.Repeat("]", 999), expr: "$", wantErr: extract.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := MustCompile(t, extract.Spec{Name: "x", JSONPath: tc.expr})
			var err error
			alloc := heapGrowth(func() { err = v.Resolve(extract.NewInput([]byte(tc.body), nil, nil), map[string]string{}) })
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil && !errors.Is(err, extract.ErrTooLarge) {
				t.Errorf("Resolve = %v, want %v", err, tc.wantErr)
			}
			if limit := uint64(40*len(tc.body) + 4<<20); alloc > limit {
				t.Errorf("allocated %d bytes for a %d-byte body, limit %d", alloc, len(tc.body), limit)
			}
			t.Logf("%d-byte body: %v, %d bytes allocated", len(tc.body), err, alloc)
		})
	}
}
