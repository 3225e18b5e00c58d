"""The registry lookup other code uses to find a service of another node (registry/lookup.py): live
instances only, never this node's, round robin, cached for its TTL, a dead address tried last;
and the proxy's header filter (runtime/forward.py): hop-by-hop headers are not passed on."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from ocis_server.registry import Entry, MemoryRegistry
from ocis_server.registry.lookup import Lookup, lookup
from ocis_server.runtime.forward import end_to_end


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def registry_of(entries: list[Entry]) -> MemoryRegistry:
    registry = MemoryRegistry()
    await registry.start(lambda: list(entries))
    return registry


async def test_round_robin_over_live_instances_of_other_nodes() -> None:
    entries = [Entry("graph", "a", "http://a:9200", "ready"),
               Entry("graph", "b", "http://b:9200", "degraded"),
               Entry("graph", "c", "http://c:9200", "failed"),       # not usable
               Entry("graph", "d", "", "ready"),                    # no HTTP listener
               Entry("graph", "me", "http://me:9200", "ready"),     # this node itself
               Entry("ocdav", "a", "http://a:9200", "ready")]
    found = Lookup(await registry_of(entries), node="me", ttl=5)
    first = await found.addresses("graph")
    second = await found.addresses("graph")
    assert sorted(first) == ["http://a:9200", "http://b:9200"]
    assert second == first[1:] + first[:1]            # each call starts one further
    assert await found.addresses("settings") == []
    assert await lookup(await registry_of(entries), "ocdav", node="me") == ["http://a:9200"]


async def test_cache_and_dead_addresses() -> None:
    entries = [Entry("graph", "a", "http://a:9200", "ready")]
    clock = Clock()
    found = Lookup(await registry_of(entries), node="me", ttl=3, dead_for=10, clock=clock)
    assert await found.addresses("graph") == ["http://a:9200"]
    entries.append(Entry("graph", "b", "http://b:9200", "ready"))
    assert await found.addresses("graph") == ["http://a:9200"]      # cached
    clock.now += 3
    assert len(await found.addresses("graph")) == 2                 # read again after the TTL
    found.dead("http://a:9200")
    for _ in range(3):                                              # the live one first, always
        assert await found.addresses("graph") == ["http://b:9200", "http://a:9200"]
    clock.now += 10
    assert sorted([(await found.addresses("graph"))[0] for _ in range(2)]) == \
        ["http://a:9200", "http://b:9200"]                          # round robin again
    entries.pop(0)
    clock.now += 3
    assert await found.addresses("graph") == ["http://b:9200"]      # gone from the registry


def test_hop_by_hop_headers_are_not_passed_on() -> None:
    headers = CIMultiDictProxy(CIMultiDict([
        ("Connection", "keep-alive, X-Private"), ("X-Private", "1"), ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"), ("TE", "trailers"), ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic eA=="), ("Expect", "100-continue"),
        ("Authorization", "Basic YWRtaW46YWRtaW4="), ("Depth", "1"), ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2")]))
    kept = end_to_end(headers)
    assert sorted(k for k, _ in kept.items()) == ["Authorization", "Depth", "Set-Cookie",
                                                 "Set-Cookie"]
    assert kept.getall("Set-Cookie") == ["a=1", "b=2"]


async def test_registry_unreadable_the_last_list_stays() -> None:
    entries = [Entry("graph", "a", "http://a:9200", "ready")]
    clock = Clock()
    registry = await registry_of(entries)
    found = Lookup(registry, node="me", ttl=3, clock=clock)
    assert await found.addresses("graph") == ["http://a:9200"]
    entries.clear()                                  # what a registry gives while NATS is away
    registry.reachable = False  # type: ignore[attr-defined]
    clock.now += 3
    assert await found.addresses("graph") == ["http://a:9200"]
    registry.reachable = True  # type: ignore[attr-defined]
    clock.now += 3
    assert await found.addresses("graph") == []      # readable again: it is gone
