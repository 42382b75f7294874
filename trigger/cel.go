package trigger

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hooktrigger/hooktrigger/extract"
)

// CELCostLimit bounds the work one CEL filter may do on one delivery.
const CELCostLimit = 1_000_000

// CELFilter is a CEL expression over the delivery: `body` (the decoded JSON
// body), `headers` (lower-case names to their first value), `query` (names to
// their first value), `vars` (the resolved variables) and `event` (the event
// name, with `.action` when there is one, e.g. "pull_request.opened").
type CELFilter struct {
	Expr string
	prg  cel.Program
}

// celEnv is built on first use: configs without CEL never pay for it.
var celEnv = sync.OnceValue(func() *cel.Env { return newCELEnv(cel.Variable("event", cel.StringType)) })

// celValueEnv is celEnv for variables, which are computed before the
// event is known to the trigger: no `event`.
var celValueEnv = sync.OnceValue(func() *cel.Env { return newCELEnv() })

func newCELEnv(more ...cel.EnvOption) *cel.Env {
	opts := append([]cel.EnvOption{
		cel.Variable("body", cel.DynType),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("query", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("vars", cel.MapType(cel.StringType, cel.StringType)),
		ext.Strings(), // substring, split, lowerAscii, replace, join, format …
	}, more...)
	env, err := cel.NewEnv(opts...)
	if err != nil {
		panic(err)
	}
	return env
}

// CompileCEL parses and checks expr; it must yield a bool.
func CompileCEL(expr string) (*CELFilter, error) {
	ast, iss := celEnv().Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL: %s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("CEL expression must yield a bool, not %s", ast.OutputType())
	}
	prg, err := celEnv().Program(ast, cel.CostLimit(CELCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("invalid CEL: %v", err)
	}
	return &CELFilter{Expr: expr, prg: prg}, nil
}

// Match evaluates the expression on the delivery.
func (f *CELFilter) Match(d *Delivery) (bool, string, error) {
	event := ""
	if d.Info != nil {
		event = d.Info.EventAction()
	}
	out, _, err := f.prg.Eval(map[string]any{
		"body":    d.Input.Decoded(),
		"headers": firstValues(d.Request.Header, true),
		"query":   firstValues(d.Request.Query, false),
		"vars":    d.Vars,
		"event":   event,
	})
	if err != nil {
		return false, fmt.Sprintf("CEL %q: %v", f.Expr, err), nil
	}
	ok, isBool := out.Value().(bool)
	if !isBool {
		return false, fmt.Sprintf("CEL %q gave %v, not a bool", f.Expr, out.Value()), nil
	}
	if !ok {
		return false, fmt.Sprintf("CEL %q is false", f.Expr), nil
	}
	return true, "", nil
}

func firstValues(m map[string][]string, lower bool) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) == 0 {
			continue
		}
		if lower {
			k = strings.ToLower(k)
		}
		out[k] = v[0]
	}
	return out
}

// CompileCELValue compiles expr as a variable's source (variables[].cel):
// it sees body, headers, query and the variables of every other source,
// and may give any value. A string becomes the variable as it is; a
// number or a bool its JSON text; a list or a map is flattened as a
// JSONPath result is. An evaluation error or null leaves the variable
// unset, so its default applies.
func CompileCELValue(expr string) (extract.Evaluator, error) {
	ast, iss := celValueEnv().Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL: %s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
	}
	prg, err := celValueEnv().Program(ast, cel.CostLimit(CELCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("invalid CEL: %v", err)
	}
	return func(in *extract.Input, vars map[string]string) ([]byte, bool) {
		out, _, err := prg.Eval(map[string]any{
			"body":    in.Decoded(),
			"headers": firstValues(in.Header(), true),
			"query":   firstValues(in.Query(), false),
			"vars":    vars,
		})
		if err != nil {
			return nil, false
		}
		v, err := out.ConvertToNative(reflect.TypeFor[*structpb.Value]())
		if err != nil {
			return nil, false
		}
		js, err := json.Marshal(v.(*structpb.Value).AsInterface())
		if err != nil || string(js) == "null" {
			return nil, false
		}
		return js, true
	}, nil
}
