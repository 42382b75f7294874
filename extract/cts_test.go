package extract_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
)

type ctsCase struct {
	Name     string            `json:"name"`
	Selector string            `json:"selector"`
	Document json.RawMessage   `json:"document"`
	Result   json.RawMessage   `json:"result"`
	Results  []json.RawMessage `json:"results"`
	Invalid  bool              `json:"invalid_selector"`
}

// normalize re-decodes a JSON value with float64 numbers for comparison.
func normalize(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestCTS(t *testing.T) {
	var suite struct {
		Tests []ctsCase `json:"tests"`
	}
	if err := json.Unmarshal(MustReadCorpus(t, "jsonpath/cts.json"), &suite); err != nil {
		t.Fatal(err)
	}
	var valid, validPass, invalid, invalidPass int
	for _, tc := range suite.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			if tc.Invalid {
				invalid++
				_, err := extract.Compile(extract.Spec{Name: "v", JSONPath: tc.Selector})
				if !errors.Is(err, extract.ErrInvalidExpression) {
					t.Fatalf("Compile(%q) = %v, want ErrInvalidExpression", tc.Selector, err)
				}
				invalidPass++
				return
			}
			valid++
			if _, err := extract.Compile(extract.Spec{Name: "v", JSONPath: tc.Selector}); err != nil {
				t.Fatalf("Compile(%q): %v", tc.Selector, err)
			}
			in := extract.NewInput(tc.Document, nil, nil)
			got, err := extract.Nodes(extract.KindJSONPath, tc.Selector, in)
			if err != nil {
				t.Fatalf("Nodes(%q): %v", tc.Selector, err)
			}
			gotN := normalize(t, got)
			wants := tc.Results
			if tc.Result != nil {
				wants = append(wants, tc.Result)
			}
			for _, w := range wants {
				var want any
				if err := json.Unmarshal(w, &want); err != nil {
					t.Fatal(err)
				}
				if reflect.DeepEqual(gotN, want) {
					validPass++
					return
				}
			}
			t.Errorf("Nodes(%q) on %s = %s, want one of %s", tc.Selector, tc.Document, mustJSON(got), wants)
		})
	}
	t.Logf("CTS: %d/%d valid queries give the expected nodes, %d/%d invalid queries rejected, %d/%d total",
		validPass, valid, invalidPass, invalid, validPass+invalidPass, len(suite.Tests))
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
