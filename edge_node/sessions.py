"""Chat sessions: sequence numbers and the frames a reconnecting client may have missed."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = ["Session", "SessionRegistry"]

_REPLAY_FRAMES = 200


@dataclass
class Session:
    id: str
    seq: int = 0
    lang: str | None = None
    sent: list[tuple[int, bytes]] = field(default_factory=list)
    """(seq, encoded frame) of the recent numbered frames, for resume."""

    def record(self, frame: bytes) -> None:
        self.sent.append((self.seq, frame))
        if len(self.sent) > _REPLAY_FRAMES:
            del self.sent[: len(self.sent) - _REPLAY_FRAMES]

    def missed(self, last_seq: int) -> list[bytes]:
        return [frame for seq, frame in self.sent if seq > last_seq]


class SessionRegistry:
    """Bounded LRU of sessions held by one edge process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def open(self, resume: str | None) -> tuple[Session, bool]:
        if resume and resume in self._sessions:
            self._sessions.move_to_end(resume)
            return self._sessions[resume], True
        session = Session(id=secrets.token_urlsafe(12))
        self._sessions[session.id] = session
        while len(self._sessions) > self.capacity:
            self._sessions.popitem(last=False)
        return session, False
