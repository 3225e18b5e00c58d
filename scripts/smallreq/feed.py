"""In-process: aiohttp's C request parser fed a small GET and davbench's Depth 0 PROPFIND (its
`dav` body, headers and body in one read, as aiohttp's client sends them); prints us per message."""
import asyncio, time
from aiohttp.http_parser import HttpRequestParser
from aiohttp.base_protocol import BaseProtocol
BODY=b'<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/><d:getcontenttype/></d:prop></d:propfind>'
H=b"Host: 127.0.0.1:9200\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nUser-Agent: Python/3.11 aiohttp/3.14.5\r\n"
GET=b"GET /remote.php/dav/files/admin/gp-1.bin HTTP/1.1\r\n"+H+b"\r\n"
PF=b"PROPFIND /remote.php/dav/files/admin/gpdir HTTP/1.1\r\n"+H+b"Depth: 0\r\nContent-Type: application/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n"%len(BODY)+BODY
async def main():
    loop=asyncio.get_running_loop(); proto=BaseProtocol(loop)
    res={"GET":[], "PF":[]}
    for _ in range(5):
        for name,msg in (("GET",GET),("PF",PF)):
            p=HttpRequestParser(proto,loop,2**16,max_line_size=8190,max_field_size=8190)
            n=20000; t=time.perf_counter()
            for _ in range(n): p.feed_data(msg)
            res[name].append((time.perf_counter()-t)/n*1e6)
    for k,v in res.items(): print(k, "min %.1f median %.1f us"%(min(v), sorted(v)[2]))
asyncio.run(main())
