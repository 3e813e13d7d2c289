package script

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"github.com/authority-server/authority/internal/apperr"
)

// The field names used by [CompileSet] for compile errors, as the API spells
// them.
const (
	FieldActive   = "activeScript"
	FieldOrgName  = "orgNameScript"
	FieldRoleName = "roleNameScript"
)

// DefaultActiveSource is the active script used when an administrator leaves
// the active script empty: every entry found is active.
const DefaultActiveSource = "function(entry) { return true; }"

// MaxSourceLen is the longest script Compile accepts, in bytes (64 KiB,
// docs/rules.md section 10).
const MaxSourceLen = 64 << 10

// expected is the hint every shape error ends with.
const expected = "it must be one function, such as function(entry) { return true; } or function isActive(entry) { ... }"

// Program is a compiled script. It is immutable and may be shared by any
// number of goroutines and Runners.
type Program struct {
	field   string
	source  string // the administrator's text, as given
	prog    *goja.Program
	wrapped *lineIndex // "(" + source (maybe cut) + "\n)"
	admin   *lineIndex // source
	// attrs are the entry attributes the script reads; allAttrs: it may read any.
	attrs    []string
	allAttrs bool
	// memo: the script answers with a function of the attributes it reads
	// (attrs), so that a Runner may remember its answers (memo.go).
	memo bool
}

// Field returns the field name the program was compiled for (for example
// "activeScript").
func (p *Program) Field() string { return p.field }

// Source returns the administrator's script text as it was given to Compile.
func (p *Program) Source() string { return p.source }

// Compile checks and compiles one administrator script. field names the
// script in errors (for example "activeScript"). A script that does not
// compile, or is not one function, is refused with an *apperr.Error of kind
// apperr.KindInvalid whose Field is field and whose Line and Column (1-based,
// columns counted in characters) point at the problem in source.
func Compile(field, source string) (*Program, error) {
	if len(source) > MaxSourceLen {
		e := apperr.Invalid(field, "the script is too long (%d bytes, at most %d)", len(source), MaxSourceLen)
		e.Line, e.Column = 1, 1
		return nil, e
	}
	if strings.TrimSpace(source) == "" {
		e := apperr.Invalid(field, "the script is empty: %s", expected)
		e.Line, e.Column = 1, 1
		return nil, e
	}
	admin := newLineIndex(source)

	src := source
	tree, perr := parseWrapped(field, src)
	if perr != nil {
		// "function(entry) {...};" — the wrapped form cannot end with ';'.
		if cut, ok := cutTrailingSemicolons(src, perr); ok {
			if t2, err2 := parseWrapped(field, cut); err2 == nil {
				src, tree, perr = cut, t2, nil
			}
		}
	}
	wrapped := newLineIndex(wrap(src))
	if perr != nil {
		// A script that is a valid program but not an expression (two
		// functions, a statement, only comments) gets a message that says
		// what is expected rather than the parser's "Unexpected token".
		if raw, rerr := parser.ParseFile(nil, field, source, 0, parser.WithDisableSourceMaps); rerr == nil {
			if e := shapeOfProgram(field, source, admin, raw); e != nil {
				return nil, e
			}
		}
		return nil, syntaxError(field, source, admin, wrapped, perr)
	}

	if _, e := shapeOfWrapped(field, source, admin, tree); e != nil {
		return nil, e
	}
	if idx, what, bad := forbiddenSyntax(tree); bad {
		line, col := admin.position(int(idx) - 2) // Idx is 1-based; "(" shifts by one
		e := apperr.Invalid(field, "%s at line %d, column %d is not supported in scripts", what, line, col)
		e.Line, e.Column = line, col
		return nil, e
	}

	if idx, what, bad := reservedSyntax(tree); bad {
		line, col := admin.position(int(idx) - 2)
		e := apperr.Invalid(field, "%s at line %d, column %d is not supported in scripts", what, line, col)
		e.Line, e.Column = line, col
		return nil, e
	}
	attrs, all := referencedAttributes(tree)
	memo := !all && isPure(tree)
	guardConcatenation(tree)

	prog, err := goja.CompileAST(tree, false)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		line, col := 1, 1
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Message
			if ce.File != nil {
				line, col = admin.position(ce.Offset - 1)
			}
		}
		e := apperr.Invalid(field, "syntax error at line %d, column %d: %s", line, col, msg)
		e.Line, e.Column = line, col
		return nil, e
	}
	return &Program{field: field, source: source, prog: prog, wrapped: wrapped, admin: admin, attrs: attrs, allAttrs: all, memo: memo}, nil
}

func wrap(src string) string { return "(" + src + "\n)" }

func parseWrapped(field, src string) (*ast.Program, error) {
	return parser.ParseFile(nil, field, wrap(src), 0, parser.WithDisableSourceMaps)
}

// firstParseError returns the first positioned error of a parser error.
func firstParseError(err error) (*parser.Error, bool) {
	var list parser.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return list[0], true
	}
	var one *parser.Error
	if errors.As(err, &one) {
		return one, true
	}
	return nil, false
}

// cutTrailingSemicolons: when the wrapped parse fails at a ';' and all that
// follows is semicolons, whitespace and comments, it returns src cut just
// before that ';'.
func cutTrailingSemicolons(src string, err error) (string, bool) {
	pe, ok := firstParseError(err)
	if !ok {
		return "", false
	}
	w := wrap(src)
	off := newLineIndex(w).offset(pe.Position.Line, pe.Position.Column)
	// The wrapped text is "(" + src + "\n)": the admin offset is off-1.
	aoff := off - 1
	if aoff < 0 || aoff >= len(src) || src[aoff] != ';' {
		return "", false
	}
	if !onlyJunk(src[aoff:]) {
		return "", false
	}
	return src[:aoff], true
}

// onlyJunk reports whether s holds nothing but whitespace, semicolons and
// comments.
func onlyJunk(s string) bool { return skipJunk(s) == len(s) }

// skipJunk returns the length of the whitespace, semicolons and comments s
// starts with. An unterminated block comment is not junk.
func skipJunk(all string) int {
	s := all
	for len(s) > 0 {
		switch {
		case s[0] == ';' || s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\f' || s[0] == '\v':
			s = s[1:]
		case strings.HasPrefix(s, "//"):
			i := strings.IndexAny(s, "\n\r")
			if i < 0 {
				return len(all)
			}
			s = s[i:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return len(all) - len(s)
			}
			s = s[2+i+2:]
		default:
			r, n := utf8.DecodeRuneInString(s)
			switch r {
			case '\u00a0', '\ufeff', '\u2028', '\u2029':
				s = s[n:]
			default:
				return len(all) - len(s)
			}
		}
	}
	return len(all)
}

// syntaxError turns a parse error of the wrapped source into an
// *apperr.Error located in the administrator's source.
func syntaxError(field, source string, admin, wrapped *lineIndex, err error) error {
	pe, ok := firstParseError(err)
	if !ok {
		e := apperr.Invalid(field, "syntax error: %v", err)
		e.Line, e.Column = 1, 1
		return e
	}
	off := wrapped.offset(pe.Position.Line, pe.Position.Column) - 1
	msg := pe.Message
	end := len(strings.TrimRight(source, " \t\r\n\f\v\u00a0\ufeff\u2028\u2029"))
	if off >= len(source) || (off >= end && strings.HasPrefix(msg, "Unexpected end of input")) {
		// The parser stumbled on the closing ")" the wrapping added.
		off = end
		msg = "unexpected end of script: a closing } or ) is probably missing"
	}
	if off == skipJunk(source) {
		// The very first token is wrong: the script is not a function.
		msg += " (" + expected + ")"
	}
	line, col := admin.position(off)
	e := apperr.Invalid(field, "syntax error at line %d, column %d: %s", line, col, msg)
	e.Line, e.Column = line, col
	return e
}

// shapeOfWrapped checks that the wrapped program is exactly one function
// expression and returns the function's name ("" if anonymous).
func shapeOfWrapped(field, source string, admin *lineIndex, tree *ast.Program) (string, error) {
	if len(tree.Body) != 1 {
		// A script that closes the wrapping parenthesis itself, such as
		// "function(e) {...}); while(true){}; (function(){}", parses as
		// several statements: refuse it, pointing after the first.
		off := 0
		if idx := int(tree.Body[0].Idx1()) - 2; idx > 0 {
			off = idx
		}
		return "", shapeError(field, admin, off, "found more than one statement")
	}
	es, ok := tree.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return "", shapeError(field, admin, 0, "found a statement")
	}
	off := int(es.Expression.Idx0()) - 2 // Idx is 1-based; "(" shifts by one
	switch fn := es.Expression.(type) {
	case *ast.FunctionLiteral:
		if fn.Async {
			return "", shapeError(field, admin, off, "found an async function (its result would be a promise)")
		}
		if fn.Generator {
			return "", shapeError(field, admin, off, "found a generator function")
		}
		name := ""
		if fn.Name != nil {
			name = fn.Name.Name.String()
		}
		return name, nil
	case *ast.ArrowFunctionLiteral:
		if fn.Async {
			return "", shapeError(field, admin, off, "found an async function (its result would be a promise)")
		}
		return "", nil
	case *ast.CallExpression:
		return "", shapeError(field, admin, off, "found a function call, not a function (remove the call)")
	case *ast.SequenceExpression:
		return "", shapeError(field, admin, off, "found several expressions separated by commas")
	default:
		return "", shapeError(field, admin, off, "found %s", describeExpr(es.Expression))
	}
}

// shapeOfProgram explains why a script that parses as a program (but not as
// one function expression) is refused. It returns nil when it has nothing
// better to say than the parser's error.
func shapeOfProgram(field, source string, admin *lineIndex, tree *ast.Program) error {
	var stmts []ast.Statement
	for _, s := range tree.Body {
		if _, empty := s.(*ast.EmptyStatement); !empty {
			stmts = append(stmts, s)
		}
	}
	switch {
	case len(stmts) == 0:
		e := apperr.Invalid(field, "the script is empty (only comments): %s", expected)
		e.Line, e.Column = 1, 1
		return e
	case len(stmts) > 1:
		_, first := stmts[0].(*ast.FunctionDeclaration)
		_, second := stmts[1].(*ast.FunctionDeclaration)
		what := fmt.Sprintf("found %d statements", len(stmts))
		if first && second {
			what = fmt.Sprintf("found %d functions", countFuncs(stmts))
		}
		return shapeError(field, admin, stmtOffset(source, stmts, 1), "%s (put helper functions inside the one function)", what)
	}
	switch s := stmts[0].(type) {
	case *ast.FunctionDeclaration:
		return nil // the parser's message about the wrapped form is better
	case *ast.ExpressionStatement:
		return shapeError(field, admin, stmtOffset(source, stmts, 0), "found %s", describeExpr(s.Expression))
	default:
		return shapeError(field, admin, stmtOffset(source, stmts, 0), "found a statement")
	}
}

// stmtOffset returns the byte offset of stmts[i] in source (a raw parse).
// Some goja nodes do not record their start (an if statement's is 0): then
// it is the first token after the previous statement.
func stmtOffset(source string, stmts []ast.Statement, i int) int {
	if idx := int(stmts[i].Idx0()); idx > 0 {
		return idx - 1
	}
	from := 0
	if i > 0 {
		if end := int(stmts[i-1].Idx1()) - 1; end > 0 && end <= len(source) {
			from = end
		}
	}
	return from + skipJunk(source[from:])
}

func countFuncs(stmts []ast.Statement) int {
	n := 0
	for _, s := range stmts {
		if _, ok := s.(*ast.FunctionDeclaration); ok {
			n++
		}
	}
	return n
}

func shapeError(field string, admin *lineIndex, off int, format string, args ...any) error {
	line, col := admin.position(off)
	what := fmt.Sprintf(format, args...)
	hint := ""
	if i := strings.Index(what, " ("); i >= 0 && strings.HasSuffix(what, ")") {
		what, hint = what[:i], what[i:]
	}
	e := apperr.Invalid(field, "%s at line %d, column %d: %s%s", what, line, col, expected, hint)
	e.Line, e.Column = line, col
	return e
}

func describeExpr(x ast.Expression) string {
	switch x.(type) {
	case *ast.StringLiteral, *ast.TemplateLiteral:
		return "a string"
	case *ast.NumberLiteral:
		return "a number"
	case *ast.BooleanLiteral:
		return "a boolean"
	case *ast.NullLiteral:
		return "null"
	case *ast.ObjectLiteral:
		return "an object"
	case *ast.ArrayLiteral:
		return "an array"
	case *ast.Identifier:
		return "a name"
	case *ast.ClassLiteral:
		return "a class"
	case *ast.AssignExpression:
		return "an assignment"
	case *ast.CallExpression:
		return "a function call"
	default:
		return "an expression that is not a function"
	}
}

// lineIndex maps between byte offsets and (line, column) in one text, with
// goja's line terminators (\n, \r, \r\n, U+2028, U+2029).
type lineIndex struct {
	src    string
	starts []int // byte offset of each line's start; starts[0] == 0
}

func newLineIndex(src string) *lineIndex {
	li := &lineIndex{src: src, starts: []int{0}}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			i++
			li.starts = append(li.starts, i)
		case c == '\r':
			i++
			if i < len(src) && src[i] == '\n' {
				i++
			}
			li.starts = append(li.starts, i)
		case c == 0xe2 && (strings.HasPrefix(src[i:], "\u2028") || strings.HasPrefix(src[i:], "\u2029")):
			i += 3
			li.starts = append(li.starts, i)
		default:
			i++
		}
	}
	return li
}

// offset converts goja's (line, byte column), both 1-based, to a byte offset.
func (li *lineIndex) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(li.starts) {
		return len(li.src)
	}
	off := li.starts[line-1] + col - 1
	if off < 0 {
		off = 0
	}
	if off > len(li.src) {
		off = len(li.src)
	}
	return off
}

// position converts a byte offset to a 1-based line and a 1-based column
// counted in characters.
func (li *lineIndex) position(off int) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > len(li.src) {
		off = len(li.src)
	}
	l := 0
	for l+1 < len(li.starts) && li.starts[l+1] <= off {
		l++
	}
	return l + 1, utf8.RuneCountInString(li.src[li.starts[l]:off]) + 1
}

// fromWrapped maps a goja (line, byte column) in the wrapped text to a line
// and character column in the administrator's text.
func (p *Program) fromWrapped(line, col int) (int, int) {
	off := p.wrapped.offset(line, col) - 1
	if off >= len(p.source) {
		off = len(p.source)
	}
	return p.admin.position(off)
}
