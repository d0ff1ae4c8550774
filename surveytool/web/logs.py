"""No link token reaches a log: tokens in the access log's paths are redacted, in case someone
turns the access log on."""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"/q/[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """A log line with link tokens taken out of URL paths."""
    return _TOKEN_PATH.sub("/q/[redacted]", text)


class RedactTokens(logging.Filter):
    """Logging filter for ``uvicorn.access``: no link token reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_filter() -> None:
    """Add :class:`RedactTokens` to ``uvicorn.access`` (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
