package script

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/dop251/goja"
)

// The guarded built-in functions: each one works out, before the original
// runs (or instead of it), how large its result or how long its walk would
// be, refuses what is over the limits of limits.go, and charges what it
// allocates to the call.

// guardTable lists the guarded built-ins by path from the global object
// ("@@split" is the symbol Symbol.split).
var guardTable = []struct {
	path string
	g    guardFunc
}{
	{"String.prototype.repeat", guardRepeat},
	{"String.prototype.padStart", guardPad("String.prototype.padStart")},
	{"String.prototype.padEnd", guardPad("String.prototype.padEnd")},
	{"String.prototype.concat", guardStringConcat},
	{"String.prototype.replace", guardStringReplace("String.prototype.replace")},
	{"String.prototype.replaceAll", guardStringReplace("String.prototype.replaceAll")},
	{"String.prototype.split", guardStringSplit},
	{"String.prototype.normalize", guardGrowing("String.prototype.normalize", 18)},
	{"String.prototype.toLowerCase", guardGrowing("String.prototype.toLowerCase", 3)},
	{"String.prototype.toUpperCase", guardGrowing("String.prototype.toUpperCase", 3)},
	{"String.prototype.toLocaleLowerCase", guardGrowing("String.prototype.toLocaleLowerCase", 3)},
	{"String.prototype.toLocaleUpperCase", guardGrowing("String.prototype.toLocaleUpperCase", 3)},
	{"String.prototype.toWellFormed", guardGrowing("String.prototype.toWellFormed", 1)},
	{"String.prototype.match", guardStringPattern("String.prototype.match")},
	{"String.prototype.matchAll", guardStringPattern("String.prototype.matchAll")},
	{"String.prototype.search", guardStringPattern("String.prototype.search")},
	{"String.raw", guardRaw},
	{"encodeURI", guardGrowingArg("encodeURI", 9)},
	{"encodeURIComponent", guardGrowingArg("encodeURIComponent", 9)},
	{"escape", guardGrowingArg("escape", 6)},

	{"Array.from", guardArrayFrom},
	{"Array.prototype.concat", guardArrayConcat},
	{"Array.prototype.join", guardJoin},
	{"Array.prototype.toLocaleString", guardToLocaleString},
	{"Array.prototype.flat", guardFlat},
	{"Array.prototype.flatMap", guardFlatMap},
	{"Array.prototype.sort", guardLength("Array.prototype.sort", maxSortLen, 16)},
	{"Array.prototype.toSorted", guardLength("Array.prototype.toSorted", maxSortLen, 32)},
	{"Array.prototype.fill", guardLength("Array.prototype.fill", maxArrayLen, 16)},
	{"Array.prototype.map", guardLength("Array.prototype.map", maxArrayWalk, 16)},
	{"Array.prototype.filter", guardLength("Array.prototype.filter", maxArrayWalk, 16)},
	{"Array.prototype.slice", guardLength("Array.prototype.slice", maxArrayLen, 16)},
	{"Array.prototype.splice", guardLength("Array.prototype.splice", maxArrayLen, 16)},
	{"Array.prototype.toReversed", guardLength("Array.prototype.toReversed", maxArrayLen, 16)},
	{"Array.prototype.toSpliced", guardLength("Array.prototype.toSpliced", maxArrayLen, 16)},
	{"Array.prototype.with", guardLength("Array.prototype.with", maxArrayLen, 16)},
	{"Array.prototype.copyWithin", guardLength("Array.prototype.copyWithin", maxArrayWalk, 0)},
	{"Array.prototype.every", guardLength("Array.prototype.every", maxArrayWalk, 0)},
	{"Array.prototype.some", guardLength("Array.prototype.some", maxArrayWalk, 0)},
	{"Array.prototype.forEach", guardLength("Array.prototype.forEach", maxArrayWalk, 0)},
	{"Array.prototype.find", guardLength("Array.prototype.find", maxArrayWalk, 0)},
	{"Array.prototype.findIndex", guardLength("Array.prototype.findIndex", maxArrayWalk, 0)},
	{"Array.prototype.findLast", guardLength("Array.prototype.findLast", maxArrayWalk, 0)},
	{"Array.prototype.findLastIndex", guardLength("Array.prototype.findLastIndex", maxArrayWalk, 0)},
	{"Array.prototype.includes", guardLength("Array.prototype.includes", maxArrayWalk, 0)},
	{"Array.prototype.indexOf", guardLength("Array.prototype.indexOf", maxArrayWalk, 0)},
	{"Array.prototype.lastIndexOf", guardLength("Array.prototype.lastIndexOf", maxArrayWalk, 0)},
	{"Array.prototype.reduce", guardLength("Array.prototype.reduce", maxArrayWalk, 0)},
	{"Array.prototype.reduceRight", guardLength("Array.prototype.reduceRight", maxArrayWalk, 0)},
	{"Array.prototype.reverse", guardLength("Array.prototype.reverse", maxArrayWalk, 0)},
	{"Array.prototype.shift", guardLength("Array.prototype.shift", maxArrayWalk, 0)},
	{"Array.prototype.unshift", guardLength("Array.prototype.unshift", maxArrayWalk, 0)},

	{"Object.keys", guardKeys("Object.keys", 64, 0, 1)},
	{"Object.values", guardKeys("Object.values", 32, 0, 1)},
	{"Object.entries", guardKeys("Object.entries", 256, 0, 1)},
	{"Object.getOwnPropertyNames", guardKeys("Object.getOwnPropertyNames", 64, 0, 1)},
	{"Object.getOwnPropertyDescriptors", guardKeys("Object.getOwnPropertyDescriptors", 512, 0, 1)},
	{"Object.assign", guardKeys("Object.assign", 128, 1, -1)},
	{"Object.freeze", guardKeys("Object.freeze", 128, 0, 1)},
	{"Object.seal", guardKeys("Object.seal", 128, 0, 1)},
	{"Reflect.ownKeys", guardKeys("Reflect.ownKeys", 64, 0, 1)},

	{"Function.prototype.apply", guardApply("Function.prototype.apply", 1)},
	{"Reflect.apply", guardApply("Reflect.apply", 2)},
	{"Reflect.construct", guardApply("Reflect.construct", 1)},
	{"eval", guardEval},

	{"JSON.stringify", guardStringify},
	{"JSON.parse", guardParse},

	{"RegExp.prototype.exec", guardRegexpExec},
	{"RegExp.prototype.test", guardRegexpTest},
	{"RegExp.prototype.compile", guardRegexpCompile},
	{"RegExp.prototype.@@split", guardRegexpSplit},
	{"RegExp.prototype.@@replace", guardRegexpReplace},
}

var wellKnownSymbols = map[string]*goja.Symbol{
	"@@split":    goja.SymSplit,
	"@@replace":  goja.SymReplace,
	"@@match":    goja.SymMatch,
	"@@matchAll": goja.SymMatchAll,
	"@@search":   goja.SymSearch,
}

// resolveGuards finds the original built-ins of guardTable (and the
// originals the guards call) before anything is replaced.
func (sb *sandbox) resolveGuards() error {
	global := sb.vm.GlobalObject()
	for _, e := range guardTable {
		var v goja.Value = global
		for _, seg := range strings.Split(e.path, ".") {
			o, ok := v.(*goja.Object)
			if !ok {
				break
			}
			if sym, ok := wellKnownSymbols[seg]; ok {
				v = o.GetSymbol(sym)
			} else {
				v = o.Get(seg)
			}
		}
		fn, ok := v.(*goja.Object)
		if _, callable := goja.AssertFunction(v); !ok || !callable {
			continue // not in this version of goja
		}
		sb.guards[fn] = e.g
	}
	rxProto := global.Get("RegExp").(*goja.Object).Get("prototype").(*goja.Object)
	getter := func(name string) (goja.Callable, error) {
		d, ok := sb.describe(rxProto, sb.vm.ToValue(name))
		if !ok || !d.accessor {
			return nil, fmt.Errorf("RegExp.prototype.%s is not an accessor", name)
		}
		return callable(d.get)
	}
	var err error
	if sb.rxSource, err = getter("source"); err != nil {
		return err
	}
	for _, name := range regexpFlagNames {
		if sb.rxFlags[name], err = getter(name); err != nil {
			return err
		}
	}
	sb.origExecObj, _ = rxProto.Get("exec").(*goja.Object)
	if sb.origExec, err = callable(sb.origExecObj); err != nil {
		return err
	}
	var ok bool
	if sb.regExpCtor, ok = goja.AssertConstructor(global.Get("RegExp")); !ok {
		return fmt.Errorf("RegExp is not a constructor")
	}
	return nil
}

// Conversions, as the ECMAScript abstract operations do them (they may run
// the script's valueOf and toString).

// str is ToString.
func (sb *sandbox) str(v goja.Value) goja.String {
	if o, ok := v.(*goja.Object); ok {
		v = o.ToString() // ToPrimitive with the hint string: a primitive
	}
	switch x := v.(type) {
	case goja.String:
		return x
	case *goja.Symbol:
		panic(sb.vm.NewTypeError("Cannot convert a Symbol value to a string"))
	}
	s, ok := sb.vm.ToValue(v.String()).(goja.String)
	if !ok {
		panic(sb.vm.NewTypeError("cannot convert to a string"))
	}
	return s
}

// thisString is RequireObjectCoercible(this) then ToString; ok is false for
// null and undefined (the caller lets the original throw).
func (sb *sandbox) thisString(c goja.FunctionCall) (goja.String, bool) {
	if isNothing(c.This) || goja.IsNull(c.This) {
		return nil, false
	}
	return sb.str(c.This), true
}

// toInteger is ToIntegerOrInfinity.
func toInteger(v goja.Value) float64 {
	if v == nil {
		return 0
	}
	f := v.ToNumber().ToFloat()
	if math.IsNaN(f) {
		return 0
	}
	return math.Trunc(f)
}

// toLength is ToLength.
func toLength(v goja.Value) float64 {
	f := toInteger(v)
	if f <= 0 {
		return 0
	}
	return math.Min(f, 1<<53-1)
}

// lengthOf is LengthOfArrayLike(ToObject(v)).
func (sb *sandbox) lengthOf(v goja.Value) float64 {
	return toLength(v.ToObject(sb.vm).Get("length"))
}

// isASCII reports whether s is goja's one-byte-per-character string (for
// others it answers false, which only makes a guard more careful).
func isASCII(s goja.String) bool {
	return reflect.TypeOf(s).Kind() == reflect.String
}

func isArray(v goja.Value) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == "Array"
}

// Strings.
