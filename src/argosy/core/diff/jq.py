"""The subset of jq path expressions that ``jqPathExpressions`` users write, evaluated to paths.

Supported (anything else raises :class:`JqError` at compile time, naming this list):

* field access: ``.a.b``, ``."a.b/c"``, ``.["a.b"]``, ``.a?``; the identity ``.``;
* iteration and indexing: ``.a[]`` (list items or map values), ``.a[0]``, ``.a[-1]``;
* pipes: ``.a[] | .b``;
* ``select(COND)`` where COND is ``OPERAND == OPERAND``, ``OPERAND != OPERAND``,
  ``PATH | startswith("s")`` / ``endswith("s")`` / ``test("regex")`` / ``contains("s")``, a bare
  ``PATH`` (truthy), ``COND and COND``, ``COND or COND``, ``COND | not``, ``(COND)``; an
  OPERAND is a relative path or a JSON literal (string, number, ``true``, ``false``, ``null``).

A path that does not exist in the object yields nothing (deleting it would be a no-op). Evaluation
is bounded by the size of the object: the subset has no recursion, no ``..`` and no loops, which is
why we do not embed a full jq (it would need a timeout, and the core has no clock or threads).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from argosy.core.diff.paths import ConcretePath

__all__ = ["JqError", "JqPath", "compile_jq"]

SUPPORTED = (
    '.a.b, ."a.b", .["a"], .a?, .a[], .a[N], A | B, select(X == Y), select(X != Y), '
    'select(P | startswith("s")), endswith, test, contains, and, or, | not'
)


class JqError(ValueError):
    """A jq expression outside the supported subset, or malformed."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
    | (?P<op>==|!=|\.\.|[.\[\]()|?,])
    | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
    | (?P<bad>\S)
    )""",
    re.VERBOSE,
)

Node = tuple[ConcretePath, Any]
Stage = Callable[[list[Node]], list[Node]]
Cond = Callable[[Any], bool]

_ABSENT = object()


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokenize(expr: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    text = expr.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the 'bad' alternative matches any non-space
            break
        pos = m.end()
        kind = m.lastgroup or "bad"
        out.append(_Tok(kind, m.group(kind)))
    return out


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokenize(expr)
        self.i = 0

    def fail(self, why: str) -> JqError:
        return JqError(f"jq expression {self.expr!r}: {why}; supported subset: {SUPPORTED}")

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise self.fail(f"unexpected end, expected {text or 'more'}")
        if text is not None and tok.text != text:
            raise self.fail(f"expected {text!r} but found {tok.text!r}")
        if tok.kind == "bad" or tok.text == "..":
            raise self.fail(f"unsupported token {tok.text!r}")
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text == text and tok.kind in ("op", "ident")

    # pipeline := term ('|' term)*
    def pipeline(self) -> list[Stage]:
        stages = [self.term()]
        while self.at("|"):
            self.take("|")
            stages.append(self.term())
        return stages

    def term(self) -> Stage:
        if self.at("select"):
            self.take("select")
            self.take("(")
            cond = self.cond()
            self.take(")")
            return lambda nodes: [n for n in nodes if cond(n[1])]
        steps = self.path()
        return lambda nodes: _apply_steps(steps, nodes)

    # path := '.' | ('.' NAME | '.' STRING | '.'? '[' ... ']' | '?')+
    def path(self) -> list[tuple[str, Any]]:
        tok = self.peek()
        if tok is None or tok.text != ".":
            raise self.fail(f"a path must start with '.', found {tok.text if tok else 'the end'!r}")
        steps: list[tuple[str, Any]] = []
        first = True
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok.text == ".":
                self.take(".")
                nxt = self.peek()
                if nxt is not None and nxt.kind == "ident" and not _is_keyword(nxt.text):
                    steps.append(("key", self.take().text))
                elif nxt is not None and nxt.kind == "string":
                    steps.append(("key", json.loads(self.take().text)))
                elif nxt is not None and nxt.text == "[":
                    continue
                elif not first:
                    raise self.fail("'.' must be followed by a field name")
            elif tok.text == "[":
                self.take("[")
                nxt = self.peek()
                if nxt is not None and nxt.text == "]":
                    steps.append(("iter", None))
                elif nxt is not None and nxt.kind == "number" and "." not in nxt.text:
                    steps.append(("index", int(self.take().text)))
                elif nxt is not None and nxt.kind == "string":
                    steps.append(("key", json.loads(self.take().text)))
                else:
                    raise self.fail('only [], [N] and ["key"] are supported inside brackets')
                self.take("]")
            elif tok.text == "?":
                self.take("?")
            else:
                break
            first = False
        return steps

    # cond := conj ('or' conj)* ; conj := unary ('and' unary)* ; unary := primary ('|' 'not')*
    def cond(self) -> Cond:
        parts = [self.conj()]
        while self.at("or"):
            self.take("or")
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else (lambda v: any(p(v) for p in parts))

    def conj(self) -> Cond:
        parts = [self.unary()]
        while self.at("and"):
            self.take("and")
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda v: all(p(v) for p in parts))

    def unary(self) -> Cond:
        cond = self.primary()
        while self.at("|") and (nxt := self.peek(1)) is not None and nxt.text == "not":
            self.take("|")
            self.take("not")
            cond = _negate(cond)
        return cond

    def primary(self) -> Cond:
        if self.at("("):
            self.take("(")
            cond = self.cond()
            self.take(")")
            return cond
        left = self.operand()
        if self.at("==") or self.at("!="):
            op = self.take().text
            right = self.operand()
            if op == "==":
                return lambda v: any(_jq_equal(a, b) for a in left(v) for b in right(v))
            return lambda v: any(not _jq_equal(a, b) for a in left(v) for b in right(v))
        nxt = self.peek(1)
        if self.at("|") and nxt is not None and nxt.text in _STRING_TESTS:
            self.take("|")
            name = self.take().text
            self.take("(")
            arg = self.take()
            if arg.kind != "string":
                raise self.fail(f"{name}() takes one string literal")
            self.take(")")
            test = _string_test(name, json.loads(arg.text), self.fail)
            return lambda v: any(isinstance(a, str) and test(a) for a in left(v))
        return lambda v: any(a is not None and a is not False for a in left(v))

    def operand(self) -> Callable[[Any], list[Any]]:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end in select()")
        if tok.kind == "string":
            value = json.loads(self.take().text)
            return lambda _v: [value]
        if tok.kind == "number":
            num = json.loads(self.take().text)
            return lambda _v: [num]
        if tok.kind == "ident" and tok.text in ("true", "false", "null"):
            lit = json.loads(self.take().text)
            return lambda _v: [lit]
        steps = self.path()
        return lambda v: [
            val if val is not _ABSENT else None for _, val in _apply_steps(steps, [((), v)], True)
        ]


def _negate(cond: Cond) -> Cond:
    return lambda v: not cond(v)


_STRING_TESTS = ("startswith", "endswith", "test", "contains")


def _is_keyword(text: str) -> bool:
    return text in ("and", "or", "not")


def _string_test(name: str, arg: str, fail: Callable[[str], JqError]) -> Callable[[str], bool]:
    if name == "startswith":
        return lambda s: s.startswith(arg)
    if name == "endswith":
        return lambda s: s.endswith(arg)
    if name == "contains":
        return lambda s: arg in s
    try:
        pattern = re.compile(arg)
    except re.error as exc:
        raise fail(f"test(): invalid regular expression {arg!r} ({exc})") from None
    return lambda s: pattern.search(s) is not None


def _jq_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _apply_steps(steps: list[tuple[str, Any]], nodes: list[Node], keep_absent: bool = False) -> list[Node]:
    for kind, arg in steps:
        nxt: list[Node] = []
        for path, value in nodes:
            if kind == "key":
                if isinstance(value, Mapping) and arg in value:
                    nxt.append(((*path, arg), value[arg]))
                elif keep_absent:
                    nxt.append(((*path, arg), _ABSENT))
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    idx = arg % len(value)
                    nxt.append(((*path, idx), value[idx]))
                elif keep_absent:
                    nxt.append(((*path, arg), _ABSENT))
            elif isinstance(value, list):
                nxt += [((*path, i), item) for i, item in enumerate(value)]
            elif isinstance(value, Mapping):
                nxt += [((*path, k), item) for k, item in value.items()]
        nodes = nxt
    return nodes


@dataclass(frozen=True)
class JqPath:
    """A compiled jq path expression; :meth:`paths` gives the concrete paths it selects."""

    expression: str
    _stages: tuple[Stage, ...]

    def paths(self, obj: Any) -> list[ConcretePath]:
        nodes: list[Node] = [((), obj)]
        for stage in self._stages:
            nodes = stage(nodes)
        seen: dict[ConcretePath, None] = {}
        for path, _ in nodes:
            seen.setdefault(path, None)
        return list(seen)


@functools.lru_cache(maxsize=512)
def compile_jq(expression: str) -> JqPath:
    """Compile a jq path expression from the supported subset, or raise :class:`JqError`."""
    parser = _Parser(expression)
    if not parser.toks:
        raise parser.fail("empty expression")
    stages = parser.pipeline()
    if parser.peek() is not None:
        raise parser.fail(f"unsupported syntax at {parser.peek().text!r}")  # type: ignore[union-attr]
    return JqPath(expression, tuple(stages))
