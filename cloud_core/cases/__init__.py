"""Hand-offs to people: the cases a person must act on, their replies to shoppers, approvals, follow-ups."""

from __future__ import annotations

from cloud_core.cases.desk import CaseConflict, CaseDesk, CaseNotFound

__all__ = ["CaseConflict", "CaseDesk", "CaseNotFound"]
