"""The circuit breaker opens after repeated failures, lets one trial through later, and closes on success."""

from __future__ import annotations

import time

from triage.connector.breaker import CircuitBreaker


def test_the_breaker_opens_tries_once_and_closes():
    breaker = CircuitBreaker(failures_to_open=2, reset_after_s=0.05)
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    assert 0 < breaker.retry_in_s <= 0.05
    time.sleep(0.06)
    assert breaker.state == "half_open" and breaker.retry_in_s == 0
    assert breaker.allow() and not breaker.allow(), "exactly one trial call in half-open state"
    breaker.failure()
    assert breaker.state == "open"
    time.sleep(0.06)
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_an_abandoned_trial_gives_its_slot_back():
    breaker = CircuitBreaker(failures_to_open=1, reset_after_s=0.01)
    breaker.failure()
    time.sleep(0.02)
    assert breaker.allow() and not breaker.allow()
    breaker.abandon()  # the trial's caller was cancelled: no verdict, but the next caller may try
    assert breaker.state == "half_open" and breaker.allow()
