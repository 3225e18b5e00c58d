"""Share of samples per request layer in a py-spy raw profile: `layers.py FILE.raw [REGEX]`
(REGEX: only stacks matching it). The deepest ocis_server frame of a stack decides its layer;
stacks without one are aiohttp's or the loop's (parse, routing, response write)."""
import re, sys, collections
RULES = [  # (layer, regex on 'func (file)' of the deepest ocis frame)
 ("body (read_small / sendfile)", r"read_small|zerocopy|send_file|BlobResponse|_read_blob|blob"),
 ("authorize (authz)", r"auth/authz\.py"),
 ("auth (Basic, throttle)", r"auth/(basic|principal|throttle|logins|accounts|personal)\.py|identity/"),
 ("resolve (path -> node)", r"namespaces\.py|storage/|domain/paths|sqlitefiles"),
 ("headers (node_headers, dates, mimetype)", r"node_headers|http_date|mimetype|clamp_mtime|_precondition|propfind\.py"),
 ("propfind answer (Depth 0)", r"propstream|propfind|xml\.py|ocdav/config\.py"),
 ("proxy middleware", r"runtime/proxy\.py|runtime/cors\.py|runtime/forward"),
 ("ocdav dispatch + error middleware", r"ocdav/app\.py|ocdav/errors\.py|remotespaces|preview|transfer\.py"),
 ("listener / connections (ours)", r"runtime/listener|runtime/connections"),
 ("events/logging/metrics", r"events/|eventbus|logging"),
]
def classify(stack):
    frames = stack.split(";")
    for f in reversed(frames):
        if "ocis_server/" in f and "runtime/main.py" not in f:
            for name, rx in RULES:
                if re.search(rx, f):
                    return name
            return "other ours: " + re.sub(r".*ocis_server/", "", f)[:60]
    joined = stack
    if "logging" in joined: return "events/logging/metrics"
    if "finish_response" in joined or "http_writer" in joined or "write_eof" in joined: return "aiohttp: response write (headers, transport)"
    if "data_received" in joined or "http_parser" in joined: return "aiohttp: receive + parse"
    if "web_app" in joined or "urldispatcher" in joined or "web_middlewares" in joined: return "aiohttp: routing, app, middleware chain"
    if "web_protocol" in joined or "web_request" in joined: return "aiohttp: request handler task"
    if frames[-1].startswith("Runner.run"): return "C under the loop (uvloop, syscalls, C parser)"
    if "_worker" in joined or "threading" in joined: return "thread pool (storage I/O)"
    return "loop / other: " + frames[-1][:70]
tot = collections.Counter(); n = 0
sel = sys.argv[2] if len(sys.argv) > 2 else None
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    if sel and not re.search(sel, stack): continue
    c = int(count); n += c; tot[classify(stack)] += c
for k, v in tot.most_common(25):
    print(f"{v/n*100:6.1f}%  {k}")
print("samples", n)
