// Package extract turns one webhook delivery into build variables, the way
// Jenkins' Generic Webhook Trigger (GWT) does, from compiled expressions:
// RFC 9535 JSONPath, gjson paths, XPath 1.0, headers, query parameters and
// form fields, with GWT's regexp filter, default and flattening.
//
// A Spec is compiled once, at config load (Compile rejects every invalid
// JSONPath, XPath and regexp with ErrInvalidExpression); each delivery is
// wrapped in one Input, shared by all variables of all triggers, and
// ResolveAll (or Variable.Resolve) fills a map of variables.
//
// # JSONPath evaluation
//
// Singular queries (only name and index selectors, e.g. $.commits[0].id,
// $['a.b'], $.a[-1]) are answered by gjson on the raw bytes, starting from
// an index of the top-level members built while validating the body; the
// body is never decoded for them. Every other query decodes the body once
// per Input and is evaluated with github.com/theory/jsonpath's selectors,
// visiting object members in document order so that results, and the
// name_0, name_1 … variables made from them, are deterministic. Both paths
// give identical results (a differential fuzz test checks it); duplicate
// member names resolve to their first occurrence on both.
//
// The body is validated strictly (RFC 8259) once per Input; nesting deeper
// than 1000 is rejected. A body that is not valid JSON makes every JSON
// variable fail with ErrMalformedBody naming the offset, except the
// expression "$", which yields the raw body whatever it is.
//
// # Flattening (GWT)
//
// A string result gives name = the string; a number or boolean its JSON
// text as written in the source; an object name_key for each member and an
// array name_i for each element, recursively, plus name = the compact JSON
// of the whole value; null leaves give nothing. An indefinite query gives
// the list of its nodes as an array ("[]" when nothing matched, and then the
// default does not apply). JSON text is emitted as the source had it:
// member order, string escapes and number spelling are kept and only
// insignificant whitespace is removed. GWT's Gson HTML escaping (= as
// \u003d, & as \u0026, < > ') is deliberately not copied: it is an
// artefact of Gson's defaults, not something users rely on, and it would
// corrupt values that are compared or passed on.
//
// Names are sanitised to [A-Za-z0-9_] (SanitizeName). Header variables
// without an explicit name are named as GWT does (X-GitHub-Event →
// x_github_event). Flattening one variable may write at most 1 MiB + 16
// times the body size (ErrTooLarge), which bounds nesting bombs.
//
// # XPath
//
// XML bodies are parsed once per Input. A DOCTYPE is rejected, so no DTD,
// external entity or entity expansion is ever processed (GWT's
// CVE-2021-21669); size (8 MiB), depth (1000) and element count are
// bounded. Flattening follows GWT minus its defects: several leaf matches
// give name_0, name_1 … (name = the first), and child indices count element
// children only, independent of whitespace.
//
// # Regexp filter
//
// regexp_filter uses github.com/dlclark/regexp2 (Java-like syntax with
// lookaround), compiled at Compile, with a 100 ms match timeout
// (ErrTimeout). Every match is removed from every value, except from the
// default, the raw body of "$" and the XML of an XPath node.
//
// Decoding for indefinite queries is refused (ErrTooLarge) when the body
// has more than 250,000 objects and arrays, and a query may select at most
// (1 MiB + 16 times the body size)/128 nodes.
//
// All exported functions and types are safe for concurrent use.
package extract
