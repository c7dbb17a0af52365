"""Who a limit counts: the client behind a trusted proxy, never an address a client wrote itself; and the
per-key buckets stay bounded under a flood from many addresses."""

from __future__ import annotations

from edge_node.gateway.connection import client_address
from edge_node.gateway.ratelimit import KeyedBuckets

PROXY = frozenset({"10.0.0.5"})


def test_a_direct_peer_is_counted_as_itself_whatever_header_it_sends():
    assert client_address("203.0.113.7", "198.51.100.1", PROXY) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_client_it_names_is_counted():
    assert client_address("10.0.0.5", "198.51.100.1", PROXY) == "198.51.100.1"
    assert client_address("10.0.0.5", "6.6.6.6, 198.51.100.1", PROXY) == "198.51.100.1", \
        "a client can prepend to the header, so only the hop the proxy appended counts"
    assert client_address("10.0.0.5", "", PROXY) == "10.0.0.5"


def test_one_key_is_limited_across_everything_it_sends_and_memory_stays_bounded():
    buckets = KeyedBuckets(rate_per_s=0.001, burst=3, max_keys=100)
    assert [buckets.take("a") for _ in range(5)] == [True, True, True, False, False]
    assert buckets.take("b"), "another key has its own bucket"
    for n in range(1000):
        buckets.take(f"flood-{n}")
    assert len(buckets) == 100
