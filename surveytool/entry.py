"""The ``surveytool`` program's entry point: signals first, then the command line.

SIGINT (Ctrl-C) and SIGTERM (``kill``, a scheduler's time limit, ``docker stop``) end a command
the same way, whenever they arrive: every ``finally`` block runs (temporary files are removed,
locks released and their files removed), the target is the old file or the complete new one,
and the process says so in one line and exits with 128 + the signal's number (130, 143), never
with a traceback. SIGTERM raises :class:`Terminated`, a ``KeyboardInterrupt``, as SIGINT raises
``KeyboardInterrupt``, so both take the same paths, and the signal is recorded
(:func:`received`) for the errors that libraries make of an interrupt. The handler is installed before anything else is
imported (an import cut short by Ctrl-C prints a traceback; this module imports nothing at its
top that the interpreter has not loaded already), and a signal that was ignored when the program
started (a job started with ``nohup``) stays ignored. Once the command is done, a signal ends
the process at once with the same status (while threads are joined and exit handlers run),
then is ignored (while the interpreter frees memory, where Python would restore the default
action and the process would die by the signal, its status lost); one interrupt that a library
delivers twice (pyarrow re-sends the signal it caught) is reported once, and the mark that
CPython keeps of an interrupt that went through a library's ``PyRun_String`` is undone (the
interpreter would kill itself with SIGINT at its very end: status -2 instead of 130). Only a signal in the
interpreter's own start, before this module runs, is beyond reach: the process then dies by
it, before it has read or written anything.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

_SIGINT, _SIGTERM = 2, 15  # POSIX numbers (the signal module is imported only inside main)
_said = False


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (raised by the handler :func:`main` installs)."""


_received: int | None = None  # the first SIGINT or SIGTERM that arrived


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    global _received
    if _received is None:
        _received = signum
    raise Terminated if signum == _SIGTERM else KeyboardInterrupt


def received() -> int | None:
    """The signal (SIGINT, SIGTERM) that arrived during the command, if one did.

    A library may turn the ``KeyboardInterrupt`` raised into an error of its own (pandas' CSV
    reader says the file failed to read): when a signal arrived, such an error is the signal's
    doing, and the command reports the interruption instead.
    """
    return _received


def _say(text: str) -> None:
    global _said
    _said = True
    try:  # noqa: SIM105 - contextlib is not loaded yet; os.write: a print may be cut short
        os.write(2, text.encode())
    except OSError:
        pass


def interrupted(cause: KeyboardInterrupt | int) -> int:
    """Say (one line on stderr) that a signal (or the ``KeyboardInterrupt`` it raised) ended
    the command; the exit status it calls for (130 for SIGINT, 143 for SIGTERM)."""
    if isinstance(cause, int):
        signum = cause
    else:
        signum = _received or (_SIGTERM if isinstance(cause, Terminated) else _SIGINT)
    if not _said:  # once: a library may deliver one interrupt twice
        _say(f"\ninterrupted ({'SIGTERM' if signum == _SIGTERM else 'SIGINT'})\n")
    return 128 + signum


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - as in _say
            stream.flush()
        except Exception:  # interrupted mid-write, or closed: exit anyway
            pass


def _done(signum: int, _frame: FrameType | None) -> None:
    """A signal once the command is over (threads being joined, exit handlers): nothing is
    unfinished; end now, with its status."""
    interrupted(signum)
    _flush()
    os._exit(128 + signum)


def _ignore_from_now() -> None:
    """The last exit handler: the interpreter only frees memory after it, and would reset the
    handlers to the default (a late signal would kill the process and lose its status)."""
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def main() -> None:
    """Console-script entry point (``surveytool``, ``python -m surveytool``)."""
    try:
        import atexit
        import signal

        atexit.register(_ignore_from_now)  # the first registered runs last
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, _interrupt)
        from surveytool.cli import cli

        cli.main(prog_name="surveytool")
        return  # (standalone, click always raises SystemExit)
    except KeyboardInterrupt as exc:  # before the command line took over, or after
        status = interrupted(exc)
    except SystemExit as exc:  # the status; after a signal, the command has said so already
        code = exc.code if isinstance(exc.code, int) else None
        if received() is None and code not in (130, 143):
            raise
        status = 1 if code is None else code
    finally:
        import signal

        for number in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(number) is not signal.SIG_IGN:
                signal.signal(number, _done)
    _unmark_interpreter()
    sys.exit(status)


def _unmark_interpreter() -> None:
    """Undo the mark a KeyboardInterrupt leaves when it went through a library's call of
    ``PyRun_String`` (CPython then kills itself with SIGINT at its very end, and the status is
    lost): the mark is reset by the next such call, so make one, of nothing."""
    try:
        import ctypes

        ctypes.pythonapi.PyRun_SimpleString(b"pass")
    except Exception:
        pass
