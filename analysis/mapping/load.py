"""Loading a mapping file: YAML located like instrument files, every problem with its line."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from analysis.mapping.model import HINTS, CohortMapping, LoadedMapping
from surveytool.problems import Loc, Problem


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Drop pydantic's union-branch tags (``literal['all']``, ``list[str]``) from an error loc."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif last and isinstance(part, str | int) and isinstance(node, Mapping):
            out.append(part)  # a missing or unknown key
        # else: a branch tag or a key of a value that is not there
    return tuple(out)


def _structural(data: Any, exc: ValidationError, loaded: LoadedMapping) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = _clean_loc(data, tuple(err["loc"]))
        kind = err["type"]
        if kind == "missing":
            code = "missing_field"
        elif kind == "extra_forbidden":
            code = "unknown_field"
        elif kind.endswith(("_type", "_parsing")) or kind in ("dict_type", "list_type"):
            code = "wrong_type"
        else:
            code = "invalid_value"
        message = str(err["msg"]).removeprefix("Value error, ")
        if kind in ("tuple_type", "list_type"):
            message = "should be a list, e.g. [a, b], or [] for none"
        elif kind == "dict_type":
            message = "should be a table of `key: value` lines, or {} for none"
        problems.append(loaded.problem(code, loc, message))
    # one message per place is enough (unions repeat the same complaint per branch)
    unique: dict[tuple[Loc, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.loc, p.code), p)
    return list(unique.values())


def load_mapping(
    source: str | Path | Mapping[str, Any] | CohortMapping | LoadedMapping | None,
) -> LoadedMapping:
    """Load and validate a mapping from a YAML file, a dict, or a model; None is the empty mapping.

    Raises :class:`~analysis.errors.MappingError` listing every problem with its line.
    """
    if source is None:
        return LoadedMapping(CohortMapping())
    if isinstance(source, LoadedMapping):
        return source
    if isinstance(source, CohortMapping):
        return LoadedMapping(source)
    if isinstance(source, Mapping):
        data: Any = dict(source)
        loaded = LoadedMapping(CohortMapping(), file="<mapping>")
    else:
        path = Path(source)
        name = str(path)
        empty = LoadedMapping(CohortMapping(), file=name)
        try:
            raw = _read_bounded(path)
            text = raw.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise empty.fail(
                [empty.problem("file_unreadable", (), f"cannot read the mapping file: {reason}")]
            ) from None
        from surveytool.instrument.load import Refusal, parse_text

        try:
            data, positions = parse_text(text)
        except Refusal as refusal:
            found = replace(refusal.problem, file=name, hint=HINTS.get(refusal.problem.code, ""))
            raise empty.fail([found]) from None
        loaded = LoadedMapping(
            CohortMapping(), file=name, positions=positions, sha256=hashlib.sha256(raw).hexdigest()
        )
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise loaded.fail(
            [loaded.problem("not_a_mapping", (), f"the document is a {kind}, not a mapping")]
        )
    try:
        model = CohortMapping.model_validate(data)
    except ValidationError as exc:
        raise loaded.fail(_structural(data, exc, loaded)) from None
    return replace(loaded, mapping=model)


def _read_bounded(path: Path) -> bytes:
    """A mapping file's bytes; refuses a FIFO or device (it would hang or never end) and more
    than :data:`surveytool.io.files.MAX_DEFINITION_BYTES` read, as an :class:`OSError`."""
    import errno
    import os
    import stat

    from surveytool.io.files import MAX_DEFINITION_BYTES

    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "it is not a regular file (a folder, pipe or device)")
    with open(path, "rb") as handle:
        raw = handle.read(MAX_DEFINITION_BYTES + 1)
    if len(raw) > MAX_DEFINITION_BYTES:
        raise OSError(errno.EFBIG, f"it is larger than the limit of {MAX_DEFINITION_BYTES:,} bytes")
    return raw
