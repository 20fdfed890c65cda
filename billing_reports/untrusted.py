"""Text from outside (an API answer, a cache file, a server's error message) made safe to print.

A user or model name, or a server's message, may carry terminal escape sequences (colours, cursor
moves, a new window title, a cleared screen), other control characters, direction overrides that
show text reversed, and line breaks that fake a line of output or a row of a table. Whatever
such text reaches a terminal goes through :func:`printable` first; a message a server wrote is
also cut to a length a one-line error can carry (:func:`shortened`).
"""

from __future__ import annotations

import re

#: Escape sequences, removed whole: CSI (``ESC [``, or the C1 character), OSC (``ESC ]``, ended by
#: BEL or ST, or by the end of the text), DCS/SOS/PM/APC strings, and any other two-character escape.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
#: Line breaks and tabs: each becomes a space (the words stay apart, no line or column is faked).
_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")
#: Other control characters (C0, DEL, C1) and the invisible marks that reorder text on screen.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with escape sequences and control characters removed, line breaks and tabs as spaces.

    >>> printable("ann\\x1b[2J\\x1b]0;pwned\\x07@example.com\\nbob  $9.99")
    'ann@example.com bob  $9.99'
    """
    if text.isprintable():  # (the common case: nothing to remove)
        return text
    return _CONTROLS.sub("", _BREAKS.sub(" ", _ESCAPE_SEQUENCE.sub("", text)))


def shortened(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with an ellipsis.

    >>> shortened("Rate limit exceeded. Please try again later.", 20)
    'Rate limit exceeded…'
    """
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__ = ["printable", "shortened"]
