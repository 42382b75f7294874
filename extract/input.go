package extract

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/antchfx/xmlquery"
)

// Input is one delivery as extraction sees it: body, headers, query and,
// for form posts, form fields. The JSON validation, the decoded JSON document
// and the parsed XML tree are built lazily, at most once per Input, and
// shared by every Variable resolved on it. An Input is safe for concurrent
// use.
type Input struct {
	body   string // the body jsonpath/gjson/xpath see
	header http.Header
	query  url.Values
	form   url.Values // nil unless the body is x-www-form-urlencoded

	jsonOnce   sync.Once
	rootKind   byte // first byte of the JSON value: '{', '[', '"', ...
	top        []member
	topBuf     [16]member
	jsonErr    error
	containers int

	docOnce  sync.Once
	doc      *document
	decodes  atomic.Int32
	xmlOnce  sync.Once
	xmlRoot  *xmlquery.Node
	xmlErr   error
	bodyOnce sync.Once
	bodyB    []byte
	raw      bool // body is the request's raw body (not a form field)

	anyOnce sync.Once
	anyBody any // the JSON body decoded into Go values, for CEL
}

// Decoded returns the JSON body decoded into Go values (maps, slices,
// float64 …), or nil when it is not JSON. It is decoded once per delivery,
// however many CEL expressions read it.
func (in *Input) Decoded() any {
	in.anyOnce.Do(func() {
		if err := json.Unmarshal(in.Body(), &in.anyBody); err != nil {
			in.anyBody = nil
		}
	})
	return in.anyBody
}

// Header returns the request's headers.
func (in *Input) Header() http.Header { return in.header }

// Query returns the request's query parameters.
func (in *Input) Query() url.Values { return in.query }

// NewInput returns the Input for one delivery. When the Content-Type header
// is application/x-www-form-urlencoded, the form fields are parsed from body
// (for form variables), and if the form has a "payload" field (GitHub's form
// deliveries) its value is the body that jsonpath, gjson and xpath variables
// see. NewInput does not copy body: string values resolved from it share
// its memory, so the caller must not modify body (nor header and query)
// after the call.
func NewInput(body []byte, header http.Header, query url.Values) *Input {
	in := &Input{header: header, query: query}
	if isForm(header) {
		form, _ := url.ParseQuery(string(body)) // keeps the fields parsed before an error
		in.form = form
		if p, ok := form["payload"]; ok && len(p) > 0 {
			in.body = p[0]
			return in
		}
	}
	in.body = unsafe.String(unsafe.SliceData(body), len(body))
	in.bodyB = body
	in.raw = true
	in.bodyOnce.Do(func() {})
	return in
}

// ObjectBody reports whether the raw request body is one JSON object, from
// the validation extraction makes anyway (so a provider need not make its
// own). known is false when the input reads a form's payload field rather
// than the raw body.
func (in *Input) ObjectBody() (object, known bool) {
	if !in.raw {
		return false, false
	}
	_, err := in.validJSON()
	return err == nil && in.rootKind == '{', true
}

func isForm(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.Contains(strings.ToLower(ct), "application/x-www-form-urlencoded")
	}
	return mt == "application/x-www-form-urlencoded"
}

// Body returns the body that jsonpath, gjson and xpath variables see. The
// caller must not modify it.
func (in *Input) Body() []byte {
	in.bodyOnce.Do(func() { in.bodyB = []byte(in.body) })
	return in.bodyB
}

// JSON returns the body that jsonpath, gjson and xpath variables see, and
// whether it is valid JSON. The validation is made once per Input and
// shared with JSONPath variables.
func (in *Input) JSON() (body string, valid bool) {
	_, err := in.validJSON()
	return in.body, err == nil
}

// DecodeCount reports how many times the JSON body was decoded into a
// document (for tests and benchmarks; it is at most 1).
func (in *Input) DecodeCount() int { return int(in.decodes.Load()) }

// validJSON validates the body once and returns the top-level member index.
func (in *Input) validJSON() ([]member, error) {
	in.jsonOnce.Do(func() {
		in.top, in.containers, in.jsonErr = scanJSON(in.body, in.topBuf[:0])
		if in.jsonErr == nil {
			in.rootKind = in.body[skipWS(in.body, 0)]
		}
	})
	return in.top, in.jsonErr
}

// document decodes the (valid) body once.
func (in *Input) document() (*document, error) {
	if _, err := in.validJSON(); err != nil {
		return nil, err
	}
	if in.containers > maxDecodeContainers {
		return nil, fmt.Errorf("%w: the body has %d objects and arrays, more than %d can be decoded for an indefinite JSONPath query", ErrTooLarge, in.containers, maxDecodeContainers)
	}
	in.docOnce.Do(func() {
		in.decodes.Add(1)
		in.doc = decodeJSON(in.body, true)
	})
	return in.doc, nil
}
