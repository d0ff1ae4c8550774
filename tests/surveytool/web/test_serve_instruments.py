"""``surveytool serve --instrument PATH`` (repeatable) offers an instrument file that is not
bundled: a clinician can send it by link; a bad file stops the server with its problems."""

from __future__ import annotations

import os
from pathlib import Path

from surveytool.clinic.store import ClinicStore
from tests.surveytool.clinic.helpers import MOOD_YAML
from tests.surveytool.web.servers import (
    ClinicServer,
    add_client,
    answer_all,
    login,
    make_link,
    open_link,
    seed_clinician,
)


def test_an_instrument_file_is_served(tmp_path: Path) -> None:
    mood = tmp_path / "my-mood.yaml"
    mood.write_text(MOOD_YAML, "utf-8")
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    client = add_client(store, "C-FILE")
    store.dispose()
    server = ClinicServer(tmp_path, cli=True, extra=("--instrument", str(mood))).start()
    try:
        alice = login(server)
        assert 'value="mood"' in alice.get(f"/clinic/clients/{client.id}").text
        visit = open_link(make_link(server, alice, client.id, "mood", results=False))
        assert "Mood check" in visit.intro.text
        assert (
            answer_all(visit, {"D1": 2, "D2": 2, "D3": 1, "W1": 4, "W2": 4, "W3": 2}).status_code
            == 303
        )
    finally:
        server.stop()


def test_a_bad_instrument_file_stops_serve_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nitems: []\n", "utf-8")
    for k, (extra, expected) in enumerate(
        (
            (("--instrument", str(bad)), "bad.yaml"),
            (("--instrument", str(tmp_path / "none.yaml")), "--instrument"),
        )
    ):
        server = ClinicServer(tmp_path / f"server-{k}", cli=True, extra=extra)
        try:
            server.start()
        except RuntimeError as exc:
            assert expected in str(exc) and "Traceback" not in str(exc)
        else:  # pragma: no cover
            server.stop()
            raise AssertionError("serve started with a bad --instrument")


def test_serve_on_a_busy_port_says_so_before_anything_runs(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        cases = (
            (["--port", str(port)], f"127.0.0.1:{port} is already in use"),
            (["--port", "80"], "ports below 1024 need administrator rights"),
            (["--host", "no-such-host.invalid", "--port", "8765"], "not an address of this"),
            (["--host", "192.0.2.1", "--port", "8765"], "not an address of this computer"),
        )
        for args, expected in cases:
            if args[1] == "80" and hasattr(os, "getuid") and os.getuid() == 0:
                continue  # root may bind port 80 (as in CI containers)
            done = subprocess.run(
                [sys.executable, "-m", "surveytool", "serve", "--data-dir", str(tmp_path), *args],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 1, (args, done.stdout, done.stderr)
            assert expected in done.stderr, (args, done.stderr)
            assert "running" not in done.stdout and "Traceback" not in done.stderr
