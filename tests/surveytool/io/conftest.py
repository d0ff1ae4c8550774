"""Fixtures of the I/O tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

_UMASK = 0o027


@pytest.fixture
def no_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The umask is 027 for the test (the value given), and any call of os.umask fails it."""
    before = os.umask(_UMASK)

    def refuse(_mask: int) -> int:
        raise AssertionError("os.umask called: it changes the umask of every thread")

    monkeypatch.setattr(os, "umask", refuse)
    yield _UMASK
    monkeypatch.undo()
    assert os.umask(before) == _UMASK  # nothing changed it meanwhile
