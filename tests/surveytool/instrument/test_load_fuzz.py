"""Fuzzing the loader: whatever it is given, it returns a report and never raises.

Every problem in a report carries a code from :data:`surveytool.problems.INSTRUMENT_CODES` and a line number,
unless it is one of the few problems that have no place in the file (see :func:`no_line_reason`).
The examples are kept few enough that the whole module runs in a few seconds.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from surveytool.instrument.checks import validate_document
from surveytool.instrument.load import MAX_BYTES, MAX_DEPTH, validate_path, validate_text
from surveytool.instrument.model import Instrument
from surveytool.problems import INSTRUMENT_CODES, Problem, Report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "instruments"
BUNDLED = Path(__file__).resolve().parents[3] / "instruments"

VALID_FILES = [FIXTURES / "minimal.yaml", FIXTURES / "full.yaml"]
SEEDS = [*VALID_FILES, FIXTURES / "many_problems.yaml", *sorted(BUNDLED.glob("*.yaml"))]

FAST = settings(max_examples=150, deadline=None)
FEW = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def no_line_reason(p: Problem) -> str | None:
    """Why a problem may have no line; None when it must have one."""
    if p.code == "file_unreadable":
        return "the file could not be read, so there are no lines"
    if p.code == "file_too_large":
        return "the file is refused before it is parsed"
    if p.code == "not_a_mapping" and "empty document" in p.message:
        return "an empty document has nothing to point at"
    if p.code == "yaml_syntax" and p.message.startswith("not valid YAML"):
        return "the parser gave no position (e.g. nesting deeper than it can follow)"
    return None


def count_lines(text: str) -> int:
    # every line break YAML knows, plus the ones str.splitlines knows (a superset is enough here)
    return len(text.splitlines()) + 1


def check_report(text: str | None, instrument: Instrument | None, report: Any) -> None:
    """The invariants of every report, whatever the input."""
    assert isinstance(report, Report)
    if instrument is not None:
        assert report.ok
        assert isinstance(instrument, Instrument)
        assert len(instrument.content_hash) == 64
    else:
        assert report.problems, "no instrument and no problem"
    lines = []
    for p in report.problems:
        assert p.code in INSTRUMENT_CODES, p
        assert p.hint, p
        assert p.message, p
        if p.line is None:
            assert no_line_reason(p), f"problem without a line and no reason: {p}"
            assert p.column is None
        else:
            assert p.line >= 1, p
            assert p.column is not None and p.column >= 1, p
            if text is not None:
                assert p.line <= count_lines(text), p
            lines.append(p.line)
    assert lines == sorted(lines), "problems are in file order"
    # the report renders for people and for machines
    assert report.format_text()
    json.dumps(report.as_dict())


def check_text(text: str) -> Report:
    instrument, report = validate_text(text, "fuzz.yaml")
    check_report(text, instrument, report)
    return report


# ---- random input ------------------------------------------------------------------------------


@FAST
@given(st.text())
def test_random_text(text):
    check_text(text)


YAMLISH = st.text(
    alphabet=st.sampled_from([*"ab1 :-?[]{},&*!|>'\"#%@`\t\n\r.~=<", "\ufeff", "\x85"]),
    max_size=200,
)


@FAST
@given(YAMLISH)
def test_random_yaml_punctuation(text):
    check_text(text)


@FAST
@given(st.binary(max_size=400), st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_random_bytes_decoded(data, encoding):
    check_text(data.decode(encoding, errors="replace"))


@FEW
@given(st.binary(max_size=400))
def test_random_bytes_as_a_file(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(data)
        instrument, report = validate_path(path)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
        assert report.codes() == ["file_unreadable"]
    check_report(text, instrument, report)


# ---- mangled valid files -----------------------------------------------------------------------


@st.composite
def mangled(draw: st.DrawFn) -> str:
    """A valid (or many-problem) file with lines deleted, duplicated, swapped or re-indented."""
    path = draw(st.sampled_from(SEEDS))
    lines = path.read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "insert"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = " " * draw(st.integers(1, 4)) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        else:
            lines.insert(i, draw(st.text(max_size=20).map(lambda s: s.replace("\n", " "))))
    return "\n".join(lines) + "\n"


@FEW
@given(mangled())
def test_mangled_valid_files(text):
    check_text(text)


def test_seed_files_are_what_the_fuzzers_think():
    for path in VALID_FILES:
        instrument, report = validate_path(path)
        assert instrument is not None, report.format_text()
    assert not validate_path(FIXTURES / "many_problems.yaml")[1].ok


# ---- values of other types, dumped with yaml.safe_dump ------------------------------------------

BASE = yaml.safe_load((FIXTURES / "full.yaml").read_text(encoding="utf-8"))

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),  # nan and inf too
    st.text(max_size=20),
    st.sampled_from(["", " ", "1.0.0", "A1", "agree5", "mean", "sum", "1e308", "-1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=3),
    ),
    max_leaves=6,
)


def leaf_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        out = [path] if path else []
        for key, value in node.items():
            out += leaf_paths(value, (*path, key))
        return out
    if isinstance(node, list):
        out = [path]
        for i, value in enumerate(node):
            out += leaf_paths(value, (*path, i))
        return out
    return [path]


PATHS = leaf_paths(BASE)


@st.composite
def replaced(draw: st.DrawFn) -> Any:
    """The full example with some values (or keys) replaced by values of any type."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            if path[-1] not in (parent if isinstance(parent, dict) else range(len(parent))):
                continue
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
        action = draw(st.sampled_from(["value", "value", "delete", "rename"]))
        if action == "value":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.text(max_size=8), st.integers()))] = parent.pop(path[-1])
    return data


@FEW
@given(replaced())
def test_values_of_other_types(data):
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    report = check_text(text)
    assume("yaml_alias" not in report.codes())  # only if safe_dump shared an object
    # the loader reports exactly what validating the data reports, now located
    _, problems = validate_document(yaml.safe_load(text))
    assert sorted(report.codes()) == sorted(p.code for p in problems)


@FAST
@given(VALUES)
def test_any_document(data):
    """Whatever the document is (a list, a number, a mapping of anything), a report comes back."""
    check_text(yaml.safe_dump(data, allow_unicode=True))
    _, problems = validate_document(data)
    assert all(p.code in INSTRUMENT_CODES for p in problems)


# ---- deep nesting --------------------------------------------------------------------------------

DEPTHS = [10, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 400, 1000, 5000, 50_000]


def _flow_lists(n: int) -> str:
    return "[" * n + "]" * n


def _flow_maps(n: int) -> str:
    return "{a: " * n + "1" + "}" * n


def _block_maps(n: int) -> str:
    return "".join(" " * i + "a:\n" for i in range(n)) + " " * n + "1\n"


def _block_lists(n: int) -> str:
    return "- " * n + "x\n"


def _inside_a_valid_file(n: int) -> str:
    text = (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")
    return text.replace("title: Example", "title: " + _flow_lists(n))


NESTINGS = [
    pytest.param(make, depth, id=f"{make.__name__.strip('_')}-{depth}")
    for make in (_flow_lists, _flow_maps, _block_maps, _block_lists, _inside_a_valid_file)
    for depth in DEPTHS
    # block indentation grows with the square of the depth: deeper is over MAX_BYTES
    if not (make is _block_maps and depth > 1000)
]


@pytest.mark.parametrize(("make", "depth"), NESTINGS)
def test_deep_nesting(make, depth):
    """Deep nesting is refused at MAX_DEPTH, quickly, with its line (PyYAML is quadratic in it)."""
    text = make(depth)
    assert len(text.encode()) <= MAX_BYTES
    start = time.perf_counter()
    report = check_text(text)
    assert time.perf_counter() - start < 5  # was 12 s for 5,000 brackets
    assert not report.ok
    # the root mapping of a valid file is one level; its title then holds `depth` lists
    levels = depth + 1 if make is _inside_a_valid_file else depth
    if levels > MAX_DEPTH:
        assert report.codes() == ["yaml_syntax"]
        (p,) = report.problems
        assert f"deeper than {MAX_DEPTH} levels" in p.message
        assert p.line is not None
    elif make is _inside_a_valid_file:
        assert [(p.code, p.line, p.path) for p in report.problems] == [("wrong_type", 3, "title")]
    else:
        assert "yaml_syntax" not in report.codes()


# ---- huge input and billion laughs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a" * (MAX_BYTES + 1),
        "x: " + "y" * MAX_BYTES,
        "- 1\n" * (MAX_BYTES // 4 + 1),
        "[" * (MAX_BYTES + 1),
        "€" * (MAX_BYTES // 3 + 1),  # few characters, many bytes
    ],
    ids=["one-word", "one-value", "long-list", "brackets", "multibyte"],
)
def test_huge_input_is_refused_quickly(text):
    start = time.perf_counter()
    instrument, report = validate_text(text, "huge.yaml")
    assert time.perf_counter() - start < 1
    assert instrument is None
    assert [(p.code, p.line, p.path) for p in report.problems] == [("file_too_large", None, "")]
    check_report(text, instrument, report)


def test_huge_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:  # sparse: the size is there, the bytes are not written
        f.truncate(50 * MAX_BYTES)
    start = time.perf_counter()
    _, report = validate_path(path)
    assert time.perf_counter() - start < 1
    assert report.codes() == ["file_too_large"]


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        refs = ",".join([f"*{prev}"] * 9)
        lines.append(f"{name}: &{name} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        _billion_laughs(),
        "base: &b {x: 1}\nmerged:\n  <<: *b\n",
        "items:\n  - &item {id: A1}\n  - *item\n",
        "id: example\ntitle: !!str &t Example\n",
    ],
    ids=["billion-laughs", "merge-key", "repeated-item", "tagged-anchor"],
)
def test_anchors_and_aliases_are_refused_quickly(text):
    start = time.perf_counter()
    instrument, report = validate_text(text)
    assert time.perf_counter() - start < 1
    assert instrument is None
    assert report.codes() == ["yaml_alias"]
    assert report.problems[0].line == 1 + text[: text.index("&")].count("\n")
    check_report(text, instrument, report)
