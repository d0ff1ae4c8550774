"""A command run on a real, tiny, full file system: a 64 KiB tmpfs in a private mount namespace.

``on_tiny_disk(folder, command, env, fill=...)`` mounts a tmpfs of 64 KiB on ``folder`` in a
mount namespace of its own (``unshare --mount`` as root, else ``unshare --user
--map-root-user --mount``; the mount is gone when the command ends, and the machine's mounts are
never touched), optionally fills it to the last byte first, runs ``command`` there and returns
its exit status, stderr and what the folder then holds (name -> bytes). ``tiny_disk_prefix()``
says which of the two works here (None: neither, and the test skips saying why).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SIZE = "64k"
FILLER = "filler.bin"

_RUN = """
import errno, json, os, subprocess, sys
folder, fill, command = sys.argv[1], sys.argv[2] == "fill", sys.argv[3:]
if fill:  # every block taken: the command's first write fails
    with open(os.path.join(folder, "filler.bin"), "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"x" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:
            while True:
                handle.write(b"x")
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
run = subprocess.run(command, capture_output=True, text=True)
files = {}
for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    if name != "filler.bin":
        files[name] = open(path, "rb").read().decode("latin-1") if os.path.isfile(path) else None
print(json.dumps({"code": run.returncode, "stderr": run.stderr, "files": files}))
"""


@dataclass
class TinyDiskRun:
    code: int
    stderr: str
    files: dict[str, bytes | None]  # the folder's entries after (not the filler); None: a folder


def _candidates() -> list[list[str]]:
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    plain = [[unshare, "--mount"]] if os.geteuid() == 0 else []
    return [*plain, [unshare, "--user", "--map-root-user", "--mount"]]


def _mounted(prefix: list[str], folder: Path) -> list[str]:
    """``prefix`` + the shell command that mounts the tmpfs on ``folder`` and execs the rest."""
    script = f'mount -t tmpfs -o size={SIZE},mode=0755 tmpfs "$0" && exec "$@"'
    return [*prefix, "sh", "-c", script, str(folder)]


@functools.cache
def tiny_disk_prefix() -> tuple[str, ...] | None:
    """The namespace command that can mount a tmpfs here, or None."""
    probe = Path(f"/tmp/surveytool-tiny-disk-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        for prefix in _candidates():
            done = subprocess.run(
                [*_mounted(prefix, probe), "true"], capture_output=True, check=False
            )
            if done.returncode == 0:
                return tuple(prefix)
    finally:
        probe.rmdir()
    return None


SKIP_REASON = (
    "cannot mount a tmpfs here: neither `unshare --mount` (as root) nor `unshare --user "
    "--map-root-user --mount` (user namespaces) works, so no real full disk can be made"
)


def on_tiny_disk(
    folder: Path, command: list[str], env: dict[str, str] | None = None, *, fill: bool = False
) -> TinyDiskRun:
    prefix = tiny_disk_prefix()
    assert prefix is not None, SKIP_REASON
    folder.mkdir(parents=True, exist_ok=True)
    mode = "fill" if fill else "empty"
    done = subprocess.run(
        [*_mounted(list(prefix), folder), sys.executable, "-c", _RUN, str(folder), mode, *command],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    files = {k: None if v is None else v.encode("latin-1") for k, v in report["files"].items()}
    assert not any(folder.iterdir()), "the tmpfs was not private"  # it is gone with its namespace
    return TinyDiskRun(report["code"], report["stderr"], files)
