"""``triage deploy``: regional bundles, a local fleet, health-gated rolling updates."""
