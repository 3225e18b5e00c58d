"""The floor of any aiohttp server here: uvloop, no middleware, GET answers 4 KiB from memory,
PROPFIND answers a fixed 207, PUT/MKCOL accepted. What aiohttp's own request handling costs."""
import sys, asyncio, uvloop
from aiohttp import web
BODY = b"x" * 4096
MS = (b'<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:"><d:response><d:href>/d/</d:href>'
      b'<d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><d:getetag>"x"</d:getetag>'
      b'</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>')
async def h(request):
    if request.method == "GET":
        return web.Response(body=BODY, headers={"ETag": '"e"', "Content-Type": "application/octet-stream"})
    if request.method == "PROPFIND":
        await request.read()
        return web.Response(status=207, body=MS, headers={"Content-Type": "application/xml; charset=utf-8"})
    await request.read()
    return web.Response(status=201)
app = web.Application(); app.router.add_route("*", "/{tail:.*}", h)
uvloop.install()
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
