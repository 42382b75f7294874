package payload

import (
	"testing"

	"github.com/hooktrigger/hooktrigger/providers"
)

func TestObject_UsesTheEarlierValidation(t *testing.T) {
	body := []byte(`{"a": [1, 2`) // not JSON: only a trusted "yes" accepts it
	r := &providers.Request{Body: body, ObjectBody: func() (bool, bool) { return true, true }}
	if !Object(r, body) {
		t.Fatal("an earlier validation's yes was not trusted")
	}
	r.ObjectBody = nil
	if Object(r, body) {
		t.Fatal("without an earlier validation, a broken body was accepted")
	}
}

func TestObject_ChecksEveryOtherAnswer(t *testing.T) {
	body := []byte(`{"a": 1}`)
	// A stricter validator (a nesting limit, say) said no: Valid decides.
	r := &providers.Request{Body: body, ObjectBody: func() (bool, bool) { return false, true }}
	if !Object(r, body) {
		t.Fatal("a valid object was rejected on the earlier validation's no")
	}
	r.ObjectBody = func() (bool, bool) { return true, false }
	if !Object(r, body) {
		t.Fatal("a valid object was rejected when the earlier validation could not tell")
	}
	if Object(r, []byte(`[1]`)) {
		t.Fatal("an array was accepted as an object")
	}
}

func TestObject_OtherBytesAreNotTheBody(t *testing.T) {
	body := []byte(`payload=%7B%7D`)
	r := &providers.Request{Body: body, ObjectBody: func() (bool, bool) {
		t.Fatal("the raw body's validation was consulted for a form field")
		return true, true
	}}
	if !Object(r, []byte(`{}`)) {
		t.Fatal("the form field's object was rejected")
	}
	if Object(r, []byte(`not json`)) {
		t.Fatal("a broken form field was accepted")
	}
}
