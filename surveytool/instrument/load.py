"""Loading instrument files: YAML text -> validated :class:`~surveytool.instrument.model.Instrument`.

The YAML is parsed once into a node tree so every value keeps its line and column; problems found
by :mod:`surveytool.instrument.checks` are then located in the file. Anchors and aliases are refused (they
allow "billion laughs" documents), and so are duplicate keys (YAML would silently keep the last)
and nesting deeper than :data:`MAX_DEPTH` (PyYAML's scanner slows down quadratically with depth: a
10 KB file of nested brackets would take seconds).

:func:`parse_text` and :class:`Refusal` are public: any located YAML file (cohort mappings too)
is parsed the same way.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from surveytool.errors import InstrumentError
from surveytool.instrument.checks import validate_document
from surveytool.instrument.model import Instrument
from surveytool.problems import Loc, Problem, Report, problem

#: Larger files are refused before parsing; the biggest real instruments are a few hundred KB.
MAX_BYTES = 2_000_000

#: Deeper nesting is refused while parsing; an instrument file nests about six levels deep.
MAX_DEPTH = 50

Positions = dict[Loc, tuple[int, int]]


class Refusal(Exception):
    """The YAML text cannot be read as a document at all; ``problem`` says where and why."""

    def __init__(self, found: Problem) -> None:
        super().__init__(found.message)
        self.problem = found


def _positions(node: yaml.Node, loc: Loc, out: Positions, constructor: yaml.SafeLoader) -> None:
    """Record the 1-based (line, column) of every value under ``node``; refuse duplicate keys."""
    out.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            try:
                key = constructor.construct_object(key_node, deep=True)
            except yaml.YAMLError:
                continue
            if not isinstance(key, str | int):
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                found = problem(
                    "yaml_duplicate_key",
                    (*loc, key),
                    f"key {key!r} appears twice in the same mapping (first at line {seen[key]})",
                )
                raise Refusal(replace(found, line=line, column=key_node.start_mark.column + 1))
            seen[key] = line
            out[(*loc, key)] = (line, key_node.start_mark.column + 1)
            _positions(value_node, (*loc, key), out, constructor)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _positions(child, (*loc, i), out, constructor)


def _iter_nodes(node: yaml.Node) -> Iterator[yaml.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                stack.extend((k, v))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _refuse_aliases_and_depth(text: str) -> None:
    """Refuse anchors and aliases, and nesting deeper than :data:`MAX_DEPTH`, as events arrive."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            found = problem("yaml_alias", (), "YAML anchors and aliases are not allowed")
        elif isinstance(event, yaml.CollectionStartEvent) and depth >= MAX_DEPTH:
            found = problem(
                "yaml_syntax",
                (),
                f"the document nests deeper than {MAX_DEPTH} levels",
                "Instrument files nest a few levels deep; close the brackets or fix the indentation.",
            )
        else:
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            continue
        if mark is not None:
            found = replace(found, line=mark.line + 1, column=mark.column + 1)
        raise Refusal(found)


_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _unconstructable(node: yaml.Node, exc: Exception) -> Problem:
    """A scalar that parses but cannot be built (``2021-02-30``, a 5000-digit int), located."""
    found = problem("yaml_syntax", (), f"cannot read a value: {exc}")
    probe = yaml.SafeLoader("")
    marks = []
    try:
        for candidate in _iter_nodes(node):
            if isinstance(candidate, yaml.ScalarNode):
                try:
                    probe.construct_object(candidate)
                except ValueError:
                    marks.append(candidate.start_mark)
                except yaml.YAMLError:
                    continue
    finally:
        probe.dispose()
    if marks:
        first = min(marks, key=lambda m: (m.line, m.column))
        found = replace(found, line=first.line + 1, column=first.column + 1)
    return found


def parse_text(text: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain data and the position of every value.

    Raises ``Refusal`` with a located problem for syntax errors, aliases, duplicate keys and
    nesting deeper than :data:`MAX_DEPTH`.
    """
    try:
        _refuse_aliases_and_depth(text)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            positions: Positions = {}
            try:
                _positions(node, (), positions, loader)
                data = loader.construct_document(node)
            except ValueError as exc:
                raise Refusal(_unconstructable(node, exc)) from None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        found = problem("yaml_syntax", (), f"{exc.problem or exc}".strip())
        if mark is not None and mark.line is not None:
            found = replace(found, line=mark.line + 1, column=mark.column + 1)
        raise Refusal(found) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a control
        found = problem("yaml_syntax", (), f"{exc.reason}: character #x{exc.character:04x}")
        breaks = list(_LINE_BREAK.finditer(text, 0, exc.position))
        line = len(breaks) + 1
        column = exc.position - (breaks[-1].end() if breaks else 0) + 1
        raise Refusal(replace(found, line=line, column=column)) from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # no line: nesting deeper than the parser's recursion allows has no single place
        raise Refusal(problem("yaml_syntax", (), f"not valid YAML: {exc}")) from None
    return data, positions


def _locate(found: Problem, positions: Positions, file: str | None) -> Problem:
    loc = found.loc
    while loc and loc not in positions:
        loc = loc[:-1]
    line, column = positions.get(loc, (None, None))
    return replace(found, file=file, line=line, column=column)


def validate_text(text: str, file: str | None = None) -> tuple[Instrument | None, Report]:
    """Parse and validate instrument YAML; every problem located by line."""
    report = Report(file=file)
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        report.problems.append(
            replace(
                problem("file_too_large", (), f"the file is larger than {MAX_BYTES:,} bytes"),
                file=file,
            )
        )
        return None, report
    try:
        data, positions = parse_text(text)
    except Refusal as refusal:
        report.problems.append(replace(refusal.problem, file=file))
        return None, report
    instrument, problems = validate_document(data)
    located = [_locate(p, positions, file) for p in problems]
    located.sort(key=lambda p: (p.line if p.line is not None else 0, p.column or 0))
    report.problems.extend(located)
    return instrument, report


def validate_path(path: str | Path) -> tuple[Instrument | None, Report]:
    """Read and validate one instrument file."""
    path = Path(path)
    name = str(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # a FIFO or device would hang or never end
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe or device)"
            raise OSError(errno.EINVAL, f"it is {kind}")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # bounded by the bytes read, not by stat
        if len(raw) > MAX_BYTES:
            report = Report(file=name)
            report.problems.append(
                replace(
                    problem("file_too_large", (), f"the file is larger than {MAX_BYTES:,} bytes"),
                    file=name,
                )
            )
            return None, report
        text = raw.decode("utf-8")
    except (OSError, ValueError) as exc:  # ValueError: undecodable bytes, a NUL in the path
        report = Report(file=name)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        report.problems.append(
            replace(problem("file_unreadable", (), f"cannot read the file: {reason}"), file=name)
        )
        return None, report
    return validate_text(text, name)


def load_text(text: str, file: str | None = None) -> Instrument:
    """Load instrument YAML text or raise :class:`InstrumentError` listing every problem."""
    instrument, report = validate_text(text, file)
    if instrument is None:
        raise InstrumentError(report)
    return instrument


def load_path(path: str | Path) -> Instrument:
    """Load an instrument file or raise :class:`InstrumentError` listing every problem."""
    instrument, report = validate_path(path)
    if instrument is None:
        raise InstrumentError(report)
    return instrument
