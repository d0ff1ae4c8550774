"""A small evaluator of REDCap's calc syntax, written for the tests (not a part of surveytool).

It covers what our exported formulas and common hand-written ones use: numbers, ``"..."`` and
``'...'`` strings, ``[field]``, ``+ - * /``, comparisons ``= <> < > <= >=``, ``and`` / ``or``,
parentheses, and the functions ``if(c, a, b)``, ``sum()``, ``mean()`` (blank values ignored, as
REDCap documents). A blank field is ``None``; arithmetic or an ordering comparison with a blank
raises, so a formula that would lean on REDCap's treatment of blanks fails the test instead of
passing by luck. A result of ``""`` is a blank calc field (``None``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Value = float | str | bool | None

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<str>\"[^\"]*\"|'[^']*')|\[(?P<field>[a-z0-9_]+)\]"
    r"|(?P<op><>|<=|>=|[-+*/=<>(),])|(?P<word>[A-Za-z_]+))"
)


class BlankArithmetic(ValueError):
    """A formula did arithmetic or an ordering comparison with a blank field."""


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SyntaxError(f"cannot read {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


Node = Callable[[], Value]


class _Parser:
    """Parses into closures, so ``if()`` evaluates only the branch it takes (as REDCap does)."""

    def __init__(self, text: str) -> None:
        self.tokens = tokens(text)
        self.pos = 0
        self.record: Mapping[str, float | None] = {}

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1].lower() != value):
            raise SyntaxError(f"expected {value!r} at token {self.pos}, found {token}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.disjunction()
        if self.peek() is not None:
            raise SyntaxError(f"unexpected {self.peek()}")
        return node

    def _word(self, word: str) -> bool:
        t = self.peek()
        return bool(t and t[0] == "word" and t[1].lower() == word)

    def disjunction(self) -> Node:
        left = self.conjunction()
        while self._word("or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda: bool(a()) or bool(b()))(left, right)
        return left

    def conjunction(self) -> Node:
        left = self.comparison()
        while self._word("and"):
            self.take()
            right = self.comparison()
            left = (lambda a, b: lambda: bool(a()) and bool(b()))(left, right)
        return left

    def comparison(self) -> Node:
        left = self.additive()
        t = self.peek()
        if t and t[1] in ("=", "<>", "<", ">", "<=", ">="):
            op = self.take()[1]
            right = self.additive()
            return lambda: _compare(op, left(), right())
        return left

    def additive(self) -> Node:
        left = self.term()
        while (t := self.peek()) and t[1] in ("+", "-"):
            op = self.take()[1]
            right = self.term()
            if op == "+":
                left = (lambda a, b: lambda: _number(a()) + _number(b()))(left, right)
            else:
                left = (lambda a, b: lambda: _number(a()) - _number(b()))(left, right)
        return left

    def term(self) -> Node:
        left = self.unary()
        while (t := self.peek()) and t[1] in ("*", "/"):
            op = self.take()[1]
            right = self.unary()
            if op == "*":
                left = (lambda a, b: lambda: _number(a()) * _number(b()))(left, right)
            else:
                left = (lambda a, b: lambda: _number(a()) / _number(b()))(left, right)
        return left

    def unary(self) -> Node:
        if (t := self.peek()) and t[1] == "-":
            self.take()
            inner = self.unary()
            return lambda: -_number(inner())
        return self.atom()

    def atom(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            number = float(text)
            return lambda: number
        if kind == "str":
            literal = text[1:-1]
            return lambda: literal
        if kind == "field":
            return lambda: self.record[text]
        if text == "(":
            node = self.disjunction()
            self.take(")")
            return node
        if kind == "word":
            return self.call(text.lower())
        raise SyntaxError(f"unexpected {text!r}")

    def call(self, name: str) -> Node:
        self.take("(")
        args = [self.disjunction()]
        while (t := self.peek()) and t[1] == ",":
            self.take()
            args.append(self.disjunction())
        self.take(")")
        if name == "if":
            if len(args) != 3:
                raise SyntaxError("if() takes three arguments")
            condition, yes, no = args
            return lambda: yes() if condition() else no()
        functions: dict[str, Callable[[list[float]], Value]] = {
            "sum": lambda xs: sum(xs) if xs else None,
            "mean": lambda xs: sum(xs) / len(xs) if xs else None,
        }
        if name not in functions:
            raise SyntaxError(f"function {name}() is not in this evaluator")
        function = functions[name]
        return lambda: function([_number(v) for a in args if not _blank(v := a())])


def _compare(op: str, left: Value, right: Value) -> bool:
    if op in ("=", "<>"):
        same = (_blank(left) and _blank(right)) or (
            not _blank(left) and not _blank(right) and left == right
        )
        return same if op == "=" else not same
    a, b = _number(left), _number(right)
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _blank(value: Value) -> bool:
    return value is None or value == ""


def _number(value: Value) -> float:
    if _blank(value):
        raise BlankArithmetic("arithmetic or an ordering comparison with a blank value")
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return float(value)  # type: ignore[arg-type]


class Formula:
    """A calc formula parsed once, evaluated for many records."""

    def __init__(self, text: str) -> None:
        self._parser = _Parser(text)
        self._node = self._parser.parse()

    def __call__(self, record: Mapping[str, float | None]) -> float | None:
        """The value for one record (field name -> value, None = blank)."""
        self._parser.record = record
        value = self._node()
        return None if _blank(value) else _number(value)


def evaluate(formula: str, record: Mapping[str, float | None]) -> float | None:
    """The value of a calc formula for one record (field name -> value, None = blank)."""
    return Formula(formula)(record)
