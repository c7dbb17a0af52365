"""The reference agent console: a small web page for people, on the cloud's ``triage.v1.Cases`` API."""

from __future__ import annotations

from cloud_core.console.app import create_console

__all__ = ["create_console"]
