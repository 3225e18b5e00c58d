"""Event bus on NATS JetStream: publish throughput and publish-to-consumer delay on this machine.

Starts its own `nats-server -js` (temp store, free loopback port), publishes N events through
`JetStreamBus` as the storage writer does, and one consumer group acks each. Prints events/s and
the median / p99 delay from `publish()` to `fetch()`. Usage:
    .venv/bin/python scripts/bench_events_nats.py [N]      (default 5000)
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from ocis_server.events import Event
from ocis_server.events.jetstream import JetStreamBus


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(n: int, address: str) -> None:
    bus = JetStreamBus(address)
    await bus.start()
    assert await bus.wait_connected(10), "nats-server not reachable"
    consumer = bus.consume("bench")
    assert await consumer.fetch(0.2) is None
    delays: list[float] = []
    t0 = time.perf_counter()
    for i in range(n):                     # in batches of 10, as a busy writer would
        if i % 10 == 0:
            bus.publish(Event("FileUploaded", item_id=str(j), timestamp=time.time())
                        for j in range(i, min(n, i + 10)))
        delivery = await consumer.fetch(10)
        assert delivery is not None
        delays.append(time.time() - delivery.event.timestamp)
        consumer.ack(delivery.seq)
    elapsed = time.perf_counter() - t0
    await bus.close()
    delays.sort()
    print(f"{n} events in {elapsed:.2f}s: {n / elapsed:.0f} events/s published+consumed+acked; "
          f"delay median {statistics.median(delays) * 1000:.1f} ms, "
          f"p99 {delays[int(len(delays) * 0.99) - 1] * 1000:.1f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    binary = shutil.which("nats-server")
    if binary is None:
        sys.exit("nats-server is not installed (scripts/install-test-tools.sh)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as store:
        proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            asyncio.run(run(n, f"127.0.0.1:{port}"))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
