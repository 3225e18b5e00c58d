"""py-spy raw samples (--gil) of a small-PUT load grouped by request-path layer: the first
rule that matches a frame, from the innermost frame outwards, names the sample's layer.
Usage: python3 layers.py FILE.raw"""
import sys, collections
rules = [  # first match from the leaf upwards wins (ordered by specificity)
 ("blob write + checksums (I/O thread)", ["TempBlob.write","TempBlob.finish","TempBlob._open","TempBlob.__init__","BlobStore.temp"]),
 ("blob rename + fsync + folder fsync (I/O thread)", ["BlobStore.place"]),
 ("metadata/SQLite commit (writer)", ["_commit_job.<locals>.commit"]),
 ("events/publishing", ["Writer._publish (","(ocis_server/events","InProcessBus","pump (ocis_server/services/sse","InProcessConsumer", "wake_on"]),
 ("writer: transaction/WAL commit, other", ["ocis_server/storage/writer.py"]),
 ("thread hop: executor submit/wake", ["ThreadPoolExecutor.submit","_worker (concurrent","_WorkItem.run","wrap_future","_chain_future","_call_set_state","call_soon_threadsafe"]),
 ("auth (Basic, principal)", ["Authenticators.","authenticate_basic","parse_basic","client_address"]),
 ("proxy/routing (middlewares, URL dispatch)", ["auth_middleware","UrlDispatcher.resolve","public_path","_fix_request_current_app"]),
 ("body read", ["body_stream","AsyncStreamIterator","StreamReader."]),
 ("resolve/authorize/locks (ocdav)", ["request_target","_put_target","check_locks","_check_put_name","space_info","resolve (ocis_server"]),
 ("answer headers + response write", ["node_headers","finish_response","write_eof","StreamResponse.prepare","_send_headers","StreamWriter"]),
 ("storage upload glue", ["SqliteStorage.upload","receive (ocis_server"]),
 ("ocdav handler other", ["handle_put","dispatch (ocis_server","error_middleware"]),
 ("HTTP parsing + request objects (aiohttp)", ["data_received","RequestHandler.start","_handle_request","Application._handle","_make_request","BaseRequest","web_protocol"]),
]
cnt=collections.Counter(); tot=0
for line in open(sys.argv[1]):
    stack,n=line.rstrip().rsplit(' ',1); n=int(n); tot+=n
    frames=stack.split(';')
    cat=None
    for f in reversed(frames):
        for name,keys in rules:
            if any(k in f for k in keys): cat=name; break
        if cat: break
    cnt[cat or ("event loop other" if "Runner.run" in stack else "other thread")]+=n
per = float(sys.argv[2]) if len(sys.argv)>2 else None
for k,v in cnt.most_common(): print(f"{v:5d} {100*v/tot:5.1f}% {k}")
print(tot)
