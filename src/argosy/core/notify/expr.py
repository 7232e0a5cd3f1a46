"""A safe evaluator for the expr-lang subset that Argo CD notification triggers use.

Layer 1 (``argosy.core``), pure; standard library and sibling modules only. Nothing is ever
passed to Python's ``eval``: the expression is tokenised and parsed into a small tree, and only
data (dicts, lists, scalars) and the members listed in :attr:`ExprObject.EXPORTED` of our own
helper objects can be reached.

Semantics follow expr-lang (``github.com/expr-lang/expr``) as Argo CD uses it:

* reading a missing map key yields ``nil``; reading a member of ``nil`` is an error
  (``cannot fetch phase from <nil>``) unless the access is optional (``?.``), which
  short-circuits the rest of the chain to ``nil``;
* ``and``/``&&``, ``or``/``||``, ``not``/``!`` need booleans; ``==``/``!=`` never raise;
  ``in`` works on lists and map keys; ``nil``, ``true``, ``false``, string and number literals,
  ``[...]`` lists, ``{k: v}`` maps, ``??``, ``? :``, ``matches``, ``contains``, ``startsWith``,
  ``endsWith``, arithmetic (``/`` is float division), ``..`` ranges, the ``len`` builtin;
* unknown identifiers evaluate to ``nil`` (Argo CD compiles triggers without a typed env);
* method calls on Go time values (``time.Parse(s).Add(1 * time.Minute).Before(t)``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from argosy.core.notify.gotime import Duration, ExprObject, GoTime

__all__ = ["Expr", "ExprError", "compile_expr", "go_format_value"]

MAX_EXPRESSION_LENGTH = 10_000
MAX_RANGE = 100_000


class ExprError(Exception):
    """A syntax or evaluation error in an expression."""


# --------------------------------------------------------------------------------------- lexer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\?\.|\?\?|==|!=|<=|>=|&&|\|\||\.\.|\*\*|[-+*/%^<>!?:.,()\[\]{}])
    """,
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0", "b": "\b"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num, str, name, op, eof
    text: str
    pos: int
    value: Any = None


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and i + 6 <= len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN_RE.match(source, pos)
        if match is None:
            raise ExprError(f"unexpected character {source[pos]!r} at position {pos}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "num":
            clean = text.replace("_", "")
            value: Any
            if clean.lower().startswith("0x"):
                value = int(clean, 16)
            elif any(c in clean for c in ".eE"):
                value = float(clean)
            else:
                value = int(clean)
            tokens.append(_Tok("num", text, pos, value))
        elif kind == "str":
            body = text[1:-1]
            tokens.append(_Tok("str", text, pos, body if text[0] == "`" else _unescape(body)))
        elif kind in ("name", "op"):
            tokens.append(_Tok(kind, text, pos))
        pos = match.end()
    tokens.append(_Tok("eof", "", len(source)))
    return tokens


# --------------------------------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the expression tree (``kind`` selects the meaning of ``args``)."""

    kind: str
    args: tuple[Any, ...]
    pos: int = 0


_BINARY: dict[str, int] = {
    "or": 10,
    "||": 10,
    "and": 15,
    "&&": 15,
    "==": 20,
    "!=": 20,
    "<": 20,
    ">": 20,
    "<=": 20,
    ">=": 20,
    "in": 20,
    "not in": 20,
    "matches": 20,
    "contains": 20,
    "startsWith": 20,
    "endsWith": 20,
    "..": 25,
    "+": 30,
    "-": 30,
    "*": 60,
    "/": 60,
    "%": 60,
    "**": 100,
    "^": 100,
    "??": 500,
}
_RIGHT_ASSOC = {"**", "^"}
_UNARY_PRECEDENCE = 50
_LITERAL_NAMES: dict[str, Any] = {"true": True, "false": False, "nil": None}


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def _advance(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _expect(self, text: str) -> _Tok:
        if self.tok.text != text or self.tok.kind not in ("op", "name"):
            raise ExprError(f"expected {text!r} at position {self.tok.pos}, found {self.tok.text!r}")
        return self._advance()

    def parse(self) -> Node:
        node = self._expression()
        if self.tok.kind != "eof":
            raise ExprError(f"unexpected token {self.tok.text!r} at position {self.tok.pos}")
        return node

    def _expression(self) -> Node:
        node = self._binary(0)
        if self.tok.kind == "op" and self.tok.text == "?":
            pos = self._advance().pos
            yes = self._expression()
            self._expect(":")
            no = self._expression()
            node = Node("ternary", (node, yes, no), pos)
        return node

    def _binary_op(self) -> str | None:
        tok = self.tok
        if tok.kind == "op" and tok.text in _BINARY:
            return tok.text
        if tok.kind == "name":
            if tok.text == "not" and self.tokens[self.i + 1].text == "in":
                return "not in"
            if tok.text in _BINARY:
                return tok.text
        return None

    def _binary(self, min_prec: int) -> Node:
        left = self._unary()
        while True:
            op = self._binary_op()
            if op is None:
                return left
            prec = _BINARY[op]
            if prec < min_prec:
                return left
            pos = self._advance().pos
            if op == "not in":
                self._advance()
            right = self._binary(prec if op in _RIGHT_ASSOC else prec + 1)
            left = Node("binary", (op, left, right), pos)

    def _unary(self) -> Node:
        tok = self.tok
        if (tok.kind == "op" and tok.text in ("!", "-", "+")) or (tok.kind == "name" and tok.text == "not"):
            self._advance()
            operand = self._binary(_UNARY_PRECEDENCE)
            return Node("unary", ("!" if tok.text == "not" else tok.text, operand), tok.pos)
        return self._postfix(self._primary())

    def _primary(self) -> Node:
        tok = self._advance()
        if tok.kind in ("num", "str"):
            return Node("lit", (tok.value,), tok.pos)
        if tok.kind == "name":
            if tok.text in _LITERAL_NAMES:
                return Node("lit", (_LITERAL_NAMES[tok.text],), tok.pos)
            if self.tok.kind == "op" and self.tok.text == "(":
                self._advance()
                return Node("call", (Node("name", (tok.text,), tok.pos), self._arguments()), tok.pos)
            return Node("name", (tok.text,), tok.pos)
        if tok.kind == "op":
            if tok.text == "(":
                node = self._expression()
                self._expect(")")
                return node
            if tok.text == "[":
                items: list[Node] = []
                while not (self.tok.kind == "op" and self.tok.text == "]"):
                    items.append(self._expression())
                    if self.tok.kind == "op" and self.tok.text == ",":
                        self._advance()
                    elif not (self.tok.kind == "op" and self.tok.text == "]"):
                        raise ExprError(f"expected ',' or ']' at position {self.tok.pos}")
                self._advance()
                return Node("list", tuple(items), tok.pos)
            if tok.text == "{":
                pairs: list[tuple[Node, Node]] = []
                while not (self.tok.kind == "op" and self.tok.text == "}"):
                    key_tok = self._advance()
                    if key_tok.kind == "name":
                        key = Node("lit", (key_tok.text,), key_tok.pos)
                    elif key_tok.kind in ("str", "num"):
                        key = Node("lit", (key_tok.value,), key_tok.pos)
                    else:
                        raise ExprError(f"invalid map key at position {key_tok.pos}")
                    self._expect(":")
                    pairs.append((key, self._expression()))
                    if self.tok.kind == "op" and self.tok.text == ",":
                        self._advance()
                self._advance()
                return Node("map", tuple(pairs), tok.pos)
        raise ExprError(f"unexpected token {tok.text or 'end of expression'!r} at position {tok.pos}")

    def _arguments(self) -> tuple[Node, ...]:
        args: list[Node] = []
        while not (self.tok.kind == "op" and self.tok.text == ")"):
            args.append(self._expression())
            if self.tok.kind == "op" and self.tok.text == ",":
                self._advance()
            elif not (self.tok.kind == "op" and self.tok.text == ")"):
                raise ExprError(f"expected ',' or ')' at position {self.tok.pos}")
        self._advance()
        return tuple(args)

    def _postfix(self, node: Node) -> Node:
        optional_seen = False
        while self.tok.kind == "op" and self.tok.text in (".", "?.", "["):
            tok = self._advance()
            optional = tok.text == "?."
            optional_seen = optional_seen or optional
            if tok.text == "[" or (optional and self.tok.kind == "op" and self.tok.text == "["):
                if optional:
                    self._advance()
                index = self._expression()
                self._expect("]")
                node = Node("index", (node, index, optional), tok.pos)
                continue
            name_tok = self._advance()
            if name_tok.kind != "name":
                raise ExprError(f"expected a member name at position {name_tok.pos}")
            node = Node("member", (node, name_tok.text, optional), tok.pos)
            if self.tok.kind == "op" and self.tok.text == "(":
                self._advance()
                node = Node("call", (node, self._arguments()), name_tok.pos)
        if optional_seen:
            node = Node("chain", (node,), node.pos)
        return node


# --------------------------------------------------------------------------------------- evaluation


class _NilChain(Exception):
    """Raised by an optional access on nil; caught at the root of its chain."""


def _type_name(value: object) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(a: object, b: object) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def _fetch(obj: object, name: object) -> object:
    if obj is None:
        raise ExprError(f"cannot fetch {name} from <nil>")
    if isinstance(obj, Mapping):
        return obj.get(name)  # missing key -> nil
    if isinstance(obj, list | tuple):
        if not isinstance(name, int) or isinstance(name, bool):
            raise ExprError(f"cannot fetch {name} from {_type_name(obj)}")
        index = name + len(obj) if name < 0 else name
        if not 0 <= index < len(obj):
            raise ExprError(f"index out of range: {name} (array length is {len(obj)})")
        return obj[index]
    if isinstance(obj, ExprObject) and isinstance(name, str) and name in obj.EXPORTED:
        return getattr(obj, name)
    raise ExprError(f"type {_type_name(obj)} has no field {name}")


def _need_bool(op: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"invalid operation: {op} on {_type_name(value)} (need bool)")
    return value


def _compare(op: str, a: Any, b: Any) -> bool:
    comparable = (
        (_is_number(a) and _is_number(b))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, GoTime) and isinstance(b, GoTime))
        or (isinstance(a, Duration) and isinstance(b, Duration))
    )
    if not comparable:
        raise ExprError(f"invalid operation: {_type_name(a)} {op} {_type_name(b)}")
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _arith(op: str, a: Any, b: Any) -> object:
    if op == "+":
        if _is_number(a) and _is_number(b):
            return a + b
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, list) and isinstance(b, list):
            return a + b
        if isinstance(a, GoTime) and isinstance(b, Duration):
            return a.Add(b)
        if isinstance(a, Duration) and isinstance(b, Duration):
            return Duration(a.ns + b.ns)
    elif op == "-":
        if _is_number(a) and _is_number(b):
            return a - b
        if isinstance(a, GoTime) and isinstance(b, GoTime):
            return a.Sub(b)
        if isinstance(a, GoTime) and isinstance(b, Duration):
            return a.Add(Duration(-b.ns))
        if isinstance(a, Duration) and isinstance(b, Duration):
            return Duration(a.ns - b.ns)
    elif op == "*":
        if _is_number(a) and _is_number(b):
            return a * b
        if isinstance(a, Duration) and _is_number(b):
            return Duration(int(a.ns * b))
        if _is_number(a) and isinstance(b, Duration):
            return Duration(int(a * b.ns))
    elif op == "/":
        if _is_number(a) and _is_number(b):
            if b == 0:
                raise ExprError("division by zero")
            return a / b
    elif op == "%":
        if isinstance(a, int) and isinstance(b, int) and not isinstance(a | b, bool):
            if b == 0:
                raise ExprError("integer divide by zero")
            return int(math.fmod(a, b))
    elif op in ("**", "^") and _is_number(a) and _is_number(b):
        try:
            return float(a) ** float(b)
        except (OverflowError, ZeroDivisionError) as exc:
            raise ExprError(f"invalid operation: {exc}") from None
    raise ExprError(f"invalid operation: {_type_name(a)} {op} {_type_name(b)}")


def _builtin_len(value: object) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise ExprError(f"invalid argument for len (type {_type_name(value)})")


_BUILTINS: dict[str, Callable[..., object]] = {"len": _builtin_len}


class _Evaluator:
    def __init__(self, env: Mapping[str, object]) -> None:
        self.env = env

    def eval(self, node: Node) -> object:
        handler = getattr(self, "_" + node.kind)
        return handler(*node.args)

    def _lit(self, value: object) -> object:
        return value

    def _name(self, name: str) -> object:
        return self.env.get(name)

    def _list(self, *items: Node) -> object:
        return [self.eval(item) for item in items]

    def _map(self, *pairs: tuple[Node, Node]) -> object:
        return {self.eval(k): self.eval(v) for k, v in pairs}

    def _chain(self, inner: Node) -> object:
        try:
            return self.eval(inner)
        except _NilChain:
            return None

    def _member(self, obj_node: Node, name: str, optional: bool) -> object:
        obj = self.eval(obj_node)
        if obj is None and optional:
            raise _NilChain
        return _fetch(obj, name)

    def _index(self, obj_node: Node, index_node: Node, optional: bool) -> object:
        obj = self.eval(obj_node)
        if obj is None and optional:
            raise _NilChain
        return _fetch(obj, self.eval(index_node))

    def _call(self, callee_node: Node, args: tuple[Node, ...]) -> object:
        if callee_node.kind == "name":
            name = callee_node.args[0]
            function = self.env.get(name)
            if function is None:
                function = _BUILTINS.get(name)
            if function is None:
                raise ExprError(f"unknown function {name}()")
        else:
            function = self.eval(callee_node)
        if not callable(function):
            raise ExprError(f"{_type_name(function)} is not callable")
        values = [self.eval(arg) for arg in args]
        try:
            return function(*values)
        except ExprError:
            raise
        except (TypeError, ValueError, KeyError, LookupError, AttributeError) as exc:
            raise ExprError(str(exc)) from None

    def _ternary(self, cond: Node, yes: Node, no: Node) -> object:
        return self.eval(yes) if _need_bool("?:", self.eval(cond)) else self.eval(no)

    def _unary(self, op: str, operand: Node) -> object:
        value = self.eval(operand)
        if op == "!":
            return not _need_bool("!", value)
        if isinstance(value, Duration):
            return Duration(-value.ns) if op == "-" else value
        if not _is_number(value):
            raise ExprError(f"invalid operation: {op}{_type_name(value)}")
        return -value if op == "-" else value  # type: ignore[operator]

    def _binary(self, op: str, left: Node, right: Node) -> object:
        if op in ("and", "&&"):
            return _need_bool(op, self.eval(left)) and _need_bool(op, self.eval(right))
        if op in ("or", "||"):
            return _need_bool(op, self.eval(left)) or _need_bool(op, self.eval(right))
        if op == "??":
            value = self.eval(left)
            return self.eval(right) if value is None else value
        a = self.eval(left)
        b = self.eval(right)
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return not _equal(a, b)
        if op in ("<", ">", "<=", ">="):
            return _compare(op, a, b)
        if op in ("in", "not in"):
            return _contains(b, a) == (op == "in")
        if op in ("matches", "contains", "startsWith", "endsWith"):
            if not (isinstance(a, str) and isinstance(b, str)):
                raise ExprError(f"invalid operation: {_type_name(a)} {op} {_type_name(b)}")
            if op == "matches":
                try:
                    return re.search(b, a) is not None
                except re.error as exc:
                    raise ExprError(f"invalid regexp {b!r}: {exc}") from None
            if op == "contains":
                return b in a
            return a.startswith(b) if op == "startsWith" else a.endswith(b)
        if op == "..":
            if not (isinstance(a, int) and isinstance(b, int)) or b - a > MAX_RANGE:
                raise ExprError(f"invalid range {_type_name(a)}..{_type_name(b)}")
            return list(range(a, b + 1))
        return _arith(op, a, b)


def _contains(container: object, item: object) -> bool:
    if container is None:
        return False
    if isinstance(container, Mapping):
        return item in container
    if isinstance(container, list | tuple):
        return any(_equal(item, x) for x in container)
    raise ExprError(f"operator in not defined on {_type_name(container)}")


@dataclass(frozen=True, slots=True)
class Expr:
    """A compiled expression; :meth:`evaluate` raises :class:`ExprError` on evaluation errors."""

    source: str
    tree: Node

    def evaluate(self, env: Mapping[str, object]) -> object:
        try:
            return _Evaluator(env).eval(self.tree)
        except ExprError:
            raise
        except RecursionError:
            raise ExprError("expression nested too deeply") from None
        except Exception as exc:  # a foreign value misbehaved: still an evaluation error
            raise ExprError(f"{type(exc).__name__}: {exc}") from None


def compile_expr(source: str) -> Expr:
    """Parse ``source``; an empty expression compiles as ``false`` (Argo CD's rule for ``when``)."""
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExprError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    if not source.strip():
        return Expr(source, Node("lit", (False,)))
    try:
        return Expr(source, _Parser(source).parse())
    except RecursionError:
        raise ExprError("expression nested too deeply") from None
    except ValueError as exc:
        raise ExprError(f"invalid literal: {exc}") from None


def go_format_value(value: object) -> str:
    """Format a value the way Go's ``fmt.Sprint``/``%v`` does (used for ``oncePer`` keys)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{go_format_value(k)}:{go_format_value(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + " ".join(go_format_value(v) for v in value) + "]"
    return str(value)
