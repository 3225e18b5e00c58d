"""The internal storage API (storage/remote): every api.py dataclass and every domain error
through the codec, and a real SqliteStorage served by the internal app on a loopback port,
driven through RemoteStorage (calls, streamed uploads, blobs with Range, wrong secret, a provider
that is not there)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import time
import typing
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ocis_server.domain import errors
from ocis_server.storage import api
from ocis_server.storage.remote import codec
from ocis_server.storage.remote.client import RemoteStorage
from ocis_server.storage.remote.server import SECRET_HEADER, internal_app
from ocis_server.storage.sqlite import SqliteStorage

pytestmark = pytest.mark.scaleout
STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
USER = "4c510ada-c86b-4815-8820-42cdf82c3d51"
SECRET = "machine-secret-for-the-test"

NODE = api.Node("n1", "s1", STORAGE_ID, "s1", "a.txt", False, 3, 1.5, "e1",
                {"SHA1": "ab"}, "b1", USER)
SAMPLES: list[object] = [
    api.Space("s1", STORAGE_ID, "personal", "Al", "personal/al", USER, 0, 3, "d", "e", 2.0, True),
    NODE,
    api.UploadResult(NODE, True),
    api.LockRecord("opaquelocktoken:1", "s1", ("a", "b"), True, False, "<o/>", USER, 9.0),
    api.TrashItem("k", "s1", "a", ("x", "a"), False, 3, 4.0),
    api.Version("7", "n1", 3, 1.0, "e", {"MD5": "00"}),
    api.UploadSession("u1", "tus", USER, "s1", ("a",), 10, 4, None, ("SHA1", "ab"), None,
                      1.0, 2.0, "t"),
    api.Share("sh", "n1", "s1", "user", USER, "r", 1, USER, 1.0, 2.0, None, "pending"),
    api.ReceivedShare(api.Share("sh", "n1", "s1", "group", "g", "", 17, USER, 1.0, 2.0, 5.0),
                      USER, "accepted", False, "a"),
    api.InviteToken("t", USER, "d", "m@x", 3.0, 1.0),
    api.AcceptedUser(USER, "p.test", "r", "R", "r@p", 1.0),
    api.RemoteShare("ocm:1", "p.test", "pid", USER, "n", "d", "o@p", "s@p", "O", "S", "user",
                    "folder", ("read", "write"), "/dav", "secret", None, "pending", 1.0),
    api.RemoteLink("l", USER, "n", "https://p.test/dav", "p.test", 1.0),
    api.OcmShare("o", "n1", "s1", "m@p", "p.test", "r", 1, "sec", USER, 1.0, 2.0, 3.0),
    api.Link("l", "tok", "n1", "s1", "view", 1, None, None, "n", True, USER, 1.0, 2.0),
    api.SearchPage([(NODE, ("a.txt",))], 1),
]


def test_every_dataclass_round_trips() -> None:
    kinds = {type(s) for s in SAMPLES}
    declared = {obj for obj in vars(api).values()
                if isinstance(obj, type) and dataclasses.is_dataclass(obj)
                and obj.__module__ == api.__name__ and obj is not api.BlobBody}
    assert declared <= kinds, f"no sample of {declared - kinds}"
    for sample in SAMPLES:
        wire = json.loads(json.dumps(codec.encode(sample)))
        assert codec.decode(wire, type(sample)) == sample


def test_a_value_of_the_wrong_shape_is_a_bad_request() -> None:
    wire = codec.encode(NODE)
    with pytest.raises(errors.BadRequest):
        codec.decode({**wire, "size": "3"}, api.Node)
    with pytest.raises(errors.BadRequest):
        codec.decode({**wire, "path": "/etc"}, api.Node)
    with pytest.raises(errors.BadRequest):
        codec.decode({k: v for k, v in wire.items() if k != "etag"}, api.Node)
    with pytest.raises(errors.BadRequest):
        codec.decode_args(codec.METHODS["lookup"], {"space_id": "s", "path": ["a"], "x": 1})


def test_every_domain_error_is_raised_again_as_its_class() -> None:
    for name, cls in codec.ERRORS.items():
        if cls in (errors.ServiceUnavailable, errors.TooManyRequests):
            exc: errors.OcisError = cls("why", retry_after=7.0)  # type: ignore[call-arg]
        else:
            exc = cls("why")
        back = codec.decode_error(json.loads(json.dumps(codec.encode_error(exc))))
        assert type(back) is cls and back.message == "why", name
        if cls is errors.ServiceUnavailable:
            assert back.retry_after == 7.0  # type: ignore[attr-defined]


def test_every_protocol_method_is_served() -> None:
    names = {n for n, f in vars(api.Storage).items()
             if not n.startswith("_") and callable(f) and n not in codec.LOCAL}
    assert names == set(codec.METHODS)
    for name in codec.LOCAL - {"change_stamp"}:
        assert callable(getattr(RemoteStorage, name))


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[SqliteStorage, RemoteStorage, str]]:
    local = await SqliteStorage.open(tmp_path / "users", STORAGE_ID)
    runner = web.AppRunner(internal_app(lambda: local, SECRET))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    remote = RemoteStorage(url, SECRET, STORAGE_ID)
    try:
        yield local, remote, url
    finally:
        await remote.close()
        await runner.cleanup()
        await local.close()


async def test_remote_storage_does_what_the_local_one_does(
        pair: tuple[SqliteStorage, RemoteStorage, str]) -> None:
    local, remote, _ = pair
    st = typing.cast(api.Storage, remote)
    space = await st.create_space(space_type="personal", name="Al", owner_id=USER,
                                  alias="personal/al", space_id=USER)
    assert space == await local.get_space(USER)
    await st.mkdir(USER, ("docs",))
    data = bytes(range(256)) * 1000
    res = await st.upload(USER, ("docs", "f.bin"), chunks(data[:1000], data[1000:]),
                          length=len(data), checksum=("SHA1", hashlib.sha1(data).hexdigest()))
    assert res.created and res.node == await local.lookup(USER, ("docs", "f.bin"))
    assert [n.name for n in await st.children(await st.lookup(USER, ("docs",)))] == ["f.bin"]
    with pytest.raises(errors.AlreadyExists):
        await st.mkdir(USER, ("docs",))
    with pytest.raises(errors.NotFound):
        await st.lookup(USER, ("nope",))
    with pytest.raises(errors.ChecksumMismatch):
        await st.upload(USER, ("bad",), chunks(b"x"), length=1, checksum=("SHA1", "0" * 40))
    with pytest.raises(errors.PreconditionFailed):
        await st.upload(USER, ("docs", "f.bin"), chunks(b"x"), if_match="nope")
    # blobs: whole, a range, past the end; a version
    node = res.node
    assert await st.read_small(node) == data
    blob = st.blob(node)
    assert not isinstance(blob, Path) and blob.size == len(data)
    part = await blob.read("bytes=10-19")
    assert (part.status, part.content_range) == (206, f"bytes 10-19/{len(data)}")
    assert b"".join([c async for c in part.chunks]) == data[10:20]
    part.release()
    outside = await blob.read(f"bytes={len(data) + 5}-")
    assert outside.status == 416
    outside.release()
    await st.upload(USER, ("docs", "f.bin"), chunks(b"new"), length=3)
    [version] = await st.list_versions(node.id)
    old = await st.version_blob(node.id, version.key)
    assert not isinstance(old, Path)
    whole = await old.read()
    assert whole.status == 200 and b"".join([c async for c in whole.chunks]) == data
    whole.release()
    # a TUS session across calls, a trash round trip, a share
    session = await st.create_upload(USER, ("t.bin",), size=6, user_id=USER, expires_in=60)
    session, done = await st.append_upload(session.id, 0, chunks(b"abc"), length=3)
    assert session.offset == 3 and done is None
    session, done = await st.append_upload(session.id, 3, chunks(b"def"), length=3)
    assert done is not None and await st.read_small(done.node) == b"abcdef"
    await st.delete(USER, ("t.bin",))
    [item] = await st.list_trash(USER)
    assert item.original_path == ("t.bin",)
    await st.restore_trash(USER, item.key, overwrite=False)
    share = await st.create_share(node_id=node.id, grantee_type="user", grantee_id="u2",
                                  role_id="r", permissions=1, creator_id=USER)
    assert await st.list_shares(node_ids=[node.id]) == [share]
    assert await st.favorite_ids(USER, [node.id]) == frozenset()
    assert remote.change_stamp != remote.change_stamp      # never a stale cached answer


async def test_wrong_or_missing_secret_is_401(
        pair: tuple[SqliteStorage, RemoteStorage, str]) -> None:
    _, _, url = pair
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}):
            async with http.post(f"{url}/rpc/list_spaces", json={"args": {}},
                                 headers=headers) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"] == "Unauthenticated"
        async with http.post(f"{url}/rpc/list_spaces", data=b"{", headers={
                SECRET_HEADER: SECRET}) as resp:
            assert resp.status == 400
        async with http.post(f"{url}/rpc/blob_path", json={"args": {}}, headers={
                SECRET_HEADER: SECRET}) as resp:
            assert resp.status == 404
        async with http.post(f"{url}/rpc/list_spaces", data=b" " * (codec.MAX_JSON + 10),
                             headers={SECRET_HEADER: SECRET}) as resp:
            assert resp.status == 400
    bad = RemoteStorage(url, "wrong", STORAGE_ID)
    try:
        with pytest.raises(errors.Unauthenticated):
            await bad.list_spaces()
    finally:
        await bad.close()


async def test_an_unreachable_provider_is_503_at_once(free_port: typing.Callable[[], int]) -> None:
    remote = RemoteStorage(f"http://127.0.0.1:{free_port()}", SECRET, STORAGE_ID)
    try:
        t0 = time.monotonic()
        with pytest.raises(errors.ServiceUnavailable) as caught:
            await remote.get_space(USER)
        assert time.monotonic() - t0 < 1.0 and caught.value.retry_after >= 1
        # a blackholed address: the connect time-out, still under a second
        blackhole = RemoteStorage("http://10.255.255.1:9", SECRET, STORAGE_ID)
        t0 = time.monotonic()
        with pytest.raises(errors.ServiceUnavailable):
            await asyncio.wait_for(blackhole.get_space(USER), 5)
        assert time.monotonic() - t0 < 1.0
        await blackhole.close()
    finally:
        await remote.close()


async def test_the_default_internal_address_gives_way_an_explicit_one_does_not(
        tmp_path: Path, free_port: typing.Callable[[], int]) -> None:
    from ocis_server.config import ConfigError, load_config
    from ocis_server.runtime.remoteproviders import InternalApi

    port = free_port()
    base = {"OCIS_CONFIG_DIR": str(tmp_path), "OCIS_MACHINE_AUTH_API_KEY": SECRET}
    explicit = load_config({**base, "STORAGE_USERS_HTTP_ADDR": f"127.0.0.1:{port}"})
    first = await InternalApi.start(explicit, lambda: None)
    try:
        assert first.url == f"http://127.0.0.1:{port}"
        with pytest.raises(ConfigError):              # set explicitly and busy: an error
            await InternalApi.start(explicit, lambda: None)
        default = load_config(base)
        busy = dataclasses.replace(default, storage_users_http_addr=f"127.0.0.1:{port}")
        second = await InternalApi.start(busy, lambda: None)   # the default: any free port
        try:
            assert second.url.startswith("http://127.0.0.1:") and second.url != first.url
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{second.url}/rpc/check", json={"args": {}}) as resp:
                    assert resp.status == 401
        finally:
            await second.stop()
    finally:
        await first.stop()


async def test_a_request_that_comes_too_slowly_is_400(
        pair: tuple[SqliteStorage, RemoteStorage, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from ocis_server.storage.remote import server

    monkeypatch.setattr(server, "BODY_TIMEOUT", 0.5)
    _, _, url = pair
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST /rpc/list_spaces HTTP/1.1\r\nHost: x\r\n{SECRET_HEADER}: {SECRET}\r\n"
                 "Content-Length: 100\r\n\r\n{".encode())
    await writer.drain()
    t0 = time.monotonic()
    status = await asyncio.wait_for(reader.readline(), 5)
    assert status.startswith(b"HTTP/1.1 400") and time.monotonic() - t0 < 3
    writer.close()
