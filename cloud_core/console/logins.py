"""Who is signed in to this console process: an opaque cookie value -> the agent's token and identity.

The agent token never reaches page script (the cookie is HttpOnly and holds a random id, not the
token); a login lasts ``ttl_s`` and ends at logout or restart. Kept per app, not per module.
"""

from __future__ import annotations

import secrets
import time
from typing import NamedTuple

__all__ = ["Login", "Logins"]


class Login(NamedTuple):
    token: str
    tenant: str
    agent_id: str
    display_name: str
    expires_at: float


class Logins:
    def __init__(self, ttl_s: float = 12 * 3600, max_logins: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_logins = max_logins
        self._by_id: dict[str, Login] = {}

    def add(self, token: str, tenant: str, agent_id: str, display_name: str) -> str:
        self._expire()
        if len(self._by_id) >= self.max_logins:  # bounded: a login flood evicts the oldest
            self._by_id.pop(next(iter(self._by_id)))
        login_id = secrets.token_urlsafe(32)
        self._by_id[login_id] = Login(token, tenant, agent_id, display_name, time.time() + self.ttl_s)
        return login_id

    def get(self, login_id: str | None) -> Login | None:
        login = self._by_id.get(login_id or "")
        if login is None or login.expires_at < time.time():
            return None
        return login

    def remove(self, login_id: str | None) -> None:
        self._by_id.pop(login_id or "", None)

    def _expire(self) -> None:
        now = time.time()
        for key in [k for k, v in self._by_id.items() if v.expires_at < now]:
            del self._by_id[key]
