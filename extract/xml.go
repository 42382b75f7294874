package extract

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
)

// Bounds for XML bodies: XPath variables build a DOM, which costs far more
// memory than the text, so the body size and the element count are bounded
// as well as the depth.
const (
	maxXMLSize     = 8 << 20
	maxXMLElements = 200_000
)

// xmlTree parses the body once. Documents with a DOCTYPE are rejected (as
// GWT's disallow-doctype-decl), so no DTD, external entity or entity
// expansion is ever processed; depth, size and element count are bounded.
func (in *Input) xmlTree() (*xmlquery.Node, error) {
	in.xmlOnce.Do(func() {
		if err := checkXML(in.body); err != nil {
			in.xmlErr = err
			return
		}
		root, err := xmlquery.ParseWithOptions(strings.NewReader(in.body), xmlquery.ParserOptions{
			Decoder: &xmlquery.DecoderOptions{Strict: true},
		})
		if err != nil {
			in.xmlErr = fmt.Errorf("%w: invalid XML: %v", ErrMalformedBody, err)
			return
		}
		in.xmlRoot = root
	})
	return in.xmlRoot, in.xmlErr
}

// checkXML makes a token pass over s before any tree is built.
func checkXML(s string) error {
	if len(s) > maxXMLSize {
		return fmt.Errorf("%w: XML body larger than %d bytes", ErrMalformedBody, maxXMLSize)
	}
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	depth, elems, root := 0, 0, false
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			if !root {
				return fmt.Errorf("%w: invalid XML at offset %d: no root element", ErrMalformedBody, off)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: invalid XML at offset %d: %v", ErrMalformedBody, d.InputOffset(), err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.HasPrefix(bytes.TrimSpace(t), []byte("DOCTYPE")) {
				return fmt.Errorf("%w: XML at offset %d: DOCTYPE is not allowed", ErrMalformedBody, off)
			}
		case xml.StartElement:
			root = true
			depth++
			elems++
			if depth > maxDepth {
				return fmt.Errorf("%w: XML at offset %d: exceeded maximum nesting depth %d", ErrMalformedBody, off, maxDepth)
			}
			if elems > maxXMLElements {
				return fmt.Errorf("%w: XML at offset %d: more than %d elements", ErrMalformedBody, off, maxXMLElements)
			}
		case xml.EndElement:
			depth--
		}
	}
}

func (v *Variable) resolveXPath(in *Input, e *emitter) error {
	root, err := in.xmlTree()
	if err != nil {
		return err
	}
	res := v.xp.Evaluate(xmlquery.CreateXPathNavigator(root))
	var nodes []*xmlquery.Node
	switch r := res.(type) {
	case *xpath.NodeIterator:
		for r.MoveNext() {
			nodes = append(nodes, currentNode(r))
		}
	default:
		// string, number or boolean results (GWT only takes node sets)
		return e.set(v.name, scalarString(r))
	}
	if len(nodes) == 0 {
		return e.setRaw(v.name, "")
	}
	single := len(nodes) == 1
	for i, n := range nodes {
		name := v.name
		if !single {
			name += "_" + strconv.Itoa(i)
		}
		if isXMLLeaf(n) {
			if err := e.set(name, n.InnerText()); err != nil {
				return err
			}
			if i == 0 && !single {
				if err := e.setRaw(v.name, e.vars[name]); err != nil {
					return err
				}
			}
			continue
		}
		if i == 0 {
			// the first node as XML, unfiltered
			if err := e.setRaw(v.name, n.OutputXMLWithOptions(xmlquery.WithOutputSelf(), xmlquery.WithIndentation("  "))); err != nil {
				return err
			}
		}
		if err := flattenXML(e, name, n); err != nil {
			return err
		}
	}
	return nil
}

func scalarString(r any) string {
	switch r := r.(type) {
	case string:
		return r
	case float64:
		return strconv.FormatFloat(r, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(r)
	}
	return fmt.Sprint(r)
}

// isXMLLeaf reports whether n is a leaf in GWT's sense: an element or
// attribute holding only text (comments and processing instructions are
// ignored), or a text node.
func isXMLLeaf(n *xmlquery.Node) bool {
	switch n.Type {
	case xmlquery.TextNode, xmlquery.CharDataNode, xmlquery.AttributeNode:
		return true
	case xmlquery.ElementNode:
		text := false
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case xmlquery.ElementNode:
				return false
			case xmlquery.TextNode, xmlquery.CharDataNode:
				text = true
			}
		}
		return text
	}
	return false
}

// flattenXML writes the children of the non-leaf node n under prefix:
// a leaf child c as prefix_c, a non-leaf child as prefix_c_j_… where j is
// its position among the element children of n (whitespace does not count,
// unlike GWT).
func flattenXML(e *emitter, prefix string, n *xmlquery.Node) error {
	j := 0
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != xmlquery.ElementNode {
			continue
		}
		name := prefix + "_" + SanitizeName(xmlName(c))
		if isXMLLeaf(c) {
			if err := e.set(name, c.InnerText()); err != nil {
				return err
			}
		} else if err := flattenXML(e, name+"_"+strconv.Itoa(j), c); err != nil {
			return err
		}
		j++
	}
	return nil
}

func xmlName(n *xmlquery.Node) string {
	if n.Prefix != "" {
		return n.Prefix + ":" + n.Data
	}
	return n.Data
}

// xmlNodes evaluates expr for Nodes: node sets as the text of each node,
// other results as their Go value.
func xmlNodes(x *xpath.Expr, in *Input) ([]any, error) {
	root, err := in.xmlTree()
	if err != nil {
		return nil, err
	}
	res := x.Evaluate(xmlquery.CreateXPathNavigator(root))
	it, ok := res.(*xpath.NodeIterator)
	if !ok {
		return []any{res}, nil
	}
	out := []any{}
	for it.MoveNext() {
		out = append(out, currentNode(it).InnerText())
	}
	return out, nil
}

// currentNode returns the node the iterator is on; an attribute becomes an
// attribute node holding its value as text.
func currentNode(it *xpath.NodeIterator) *xmlquery.Node {
	nav := it.Current().(*xmlquery.NodeNavigator)
	if nav.NodeType() == xpath.AttributeNode {
		n := &xmlquery.Node{Type: xmlquery.AttributeNode, Data: nav.LocalName(), Prefix: nav.Prefix()}
		xmlquery.AddChild(n, &xmlquery.Node{Type: xmlquery.TextNode, Data: nav.Value()})
		return n
	}
	return nav.Current()
}
