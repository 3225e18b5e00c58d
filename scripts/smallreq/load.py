"""Small-request load for profiling: `load.py URL get|p0|raw SECONDS PID`. `get` PUTs 100 x 4 KiB
files below URL (skipped with GP_NOSETUP=1) and GETs them; `p0` MKCOLs URL/gpdir and sends
davbench's Depth 0 PROPFIND (the `dav` body) to it; `raw` GETs URL itself (e.g. /status.php).
8 at once (davbench's default), HTTP Basic admin/admin (none with GP_NOAUTH=1); prints req/s
and the server CPU per request (all threads of PID, /proc)."""
import asyncio, sys, time, os, aiohttp
from proccpu import cpu
url, mode, dur, pid = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
C = 8
BODY = ('<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:"><d:prop>'
        "<d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/><d:getcontenttype/>"
        "</d:prop></d:propfind>").encode()
async def main():
    auth = aiohttp.BasicAuth("admin", "admin")
    async with aiohttp.ClientSession(auth=None if os.environ.get("GP_NOAUTH") else auth) as s:
        setup = not os.environ.get("GP_NOSETUP") and mode != "raw"
        if setup and mode == "get":
            for i in range(100):
                async with s.put(f"{url}/gp-{i}.bin", data=os.urandom(4096)) as r: assert r.status in (201, 204), r.status
        elif setup:
            async with s.request("MKCOL", f"{url}/gpdir") as r: pass
        n = 0; stop = time.monotonic() + dur
        async def worker(w):
            nonlocal n
            i = w
            while time.monotonic() < stop:
                if mode == "raw":
                    async with s.get(url) as r:
                        await r.read(); assert r.status == 200
                elif mode == "get":
                    async with s.get(f"{url}/gp-{i % 100}.bin") as r:
                        await r.read(); assert r.status == 200
                else:
                    async with s.request("PROPFIND", f"{url}/gpdir", data=BODY, headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"}) as r:
                        await r.read(); assert r.status == 207
                n += 1; i += C
        c0 = cpu(pid); t0 = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(C)))
        el = time.monotonic() - t0; c1 = cpu(pid)
        print(f"{mode} {n/el:.0f} req/s  srvCPU {1000*(c1-c0)/n:.3f} ms/op  n={n}")
asyncio.run(main())
