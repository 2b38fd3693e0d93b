"""SMTP replies a test server is told to give: parsed from codes or lines, played in order."""

from __future__ import annotations

from collections.abc import Sequence

from misiva.domain.smtp import SMTPReply

Reply = str | int | SMTPReply

_DEFAULT_TEXT = {2: "2.0.0 OK", 4: "4.0.0 scripted transient failure", 5: "5.0.0 scripted failure"}


def reply_line(reply: Reply) -> str:
    """One SMTP reply line from a bare code (`451`), a full line or an SMTPReply."""
    if isinstance(reply, SMTPReply):
        return str(reply)
    if isinstance(reply, int):
        return f"{reply} {_DEFAULT_TEXT.get(reply // 100, 'scripted reply')}"
    if len(reply) < 3 or not reply[:3].isdigit() or reply[3:4] not in ("", " "):
        raise ValueError(f"not an SMTP reply line: {reply!r}")
    return reply


class ReplyScript:
    """Replies given one per attempt, in order, the last one repeating."""

    __slots__ = ("_lines", "_used")

    def __init__(self, replies: Sequence[Reply]) -> None:
        if not replies:
            raise ValueError("a script needs at least one reply")
        self._lines = [reply_line(reply) for reply in replies]
        self._used = 0

    def next_line(self) -> str:
        line = self._lines[min(self._used, len(self._lines) - 1)]
        self._used += 1
        return line
