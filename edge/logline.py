"""Log lines that stay one line: control characters in file names are written escaped.

A file name may hold a newline, an escape sequence or bytes that are not UTF-8. Written as they
are, they would split a journald entry in two, forge a log line or recolour a terminal, so the
message (not the traceback after it) shows them as \\n, \\x1b, \\xff ...
"""

from __future__ import annotations

import logging
import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and lone surrogates
# (os.fsdecode's stand-ins for bytes that are not UTF-8)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the original byte
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(match.group())
    return named or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def one_line(text: str) -> str:
    """`text` with every character that could break or forge a log line escaped."""
    return _UNSAFE.sub(_escape, text)


class OneLineFormatter(logging.Formatter):
    """Escapes the formatted message; a traceback appended after it keeps its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return one_line(super().formatMessage(record))
