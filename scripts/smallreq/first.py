"""The first GET of freshly uploaded small files: `first.py URL PID N` PUTs N x 4 KiB below URL
(HTTP Basic admin/admin, 8 at once), then GETs each once, 8 at once, and prints req/s and the
server CPU per such GET (all threads of PID, /proc): davbench's GET phase misses the caches on
exactly these."""
import asyncio, sys, time, os, aiohttp
from proccpu import cpu
url, pid, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    auth = {"Authorization": aiohttp.encode_basic_auth("admin", "admin")}
    async with aiohttp.ClientSession(headers=auth) as s:
        q = list(range(N))
        async def put(w):
            for i in q[w::8]:
                async with s.put(f"{url}/f-{i}.bin", data=os.urandom(4096)) as r: assert r.status in (201, 204)
        await asyncio.gather(*(put(w) for w in range(8)))
        c0 = cpu(pid); t0 = time.monotonic()
        async def get(w):
            for i in q[w::8]:
                async with s.get(f"{url}/f-{i}.bin") as r: await r.read(); assert r.status == 200
        await asyncio.gather(*(get(w) for w in range(8)))
        el = time.monotonic() - t0; c1 = cpu(pid)
        print(f"first-get {N/el:.0f} req/s  srvCPU {1000*(c1-c0)/N:.3f} ms/op")
asyncio.run(main())
