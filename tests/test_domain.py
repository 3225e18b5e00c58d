"""The path rules and id formats every protocol relies on."""

import os
import uuid

import pytest

from ocis_server.domain.errors import BadRequest, InvalidName
from ocis_server.domain.ids import ResourceId, new_id
from ocis_server.domain.paths import split_path, validate_name


@pytest.mark.parametrize("raw, parts", [
    ("", ()),
    ("/", ()),
    ("/a/b", ("a", "b")),
    ("/a/b/", ("a", "b")),
    ("/caf%C3%A9/x%20y", ("café", "x y")),
    ("/%24weird%21", ("$weird!",)),
    ("/a%25b", ("a%b",)),            # decoded exactly once
])
def test_split_path_accepts(raw, parts):
    assert split_path(raw) == parts


@pytest.mark.parametrize("raw", [
    "/a/../b", "/a/%2e%2e/b", "/a/%2E%2E", "/..", "/a/./b",
    "/a%2fb", "/a%2Fb", "//a", "/a//b",
    "/a%00b", "/a\x00b", "/a%0ab", "/a%0db", "/a%0cb", "/a%5cb", "/a\\b", "/a%7f",
    "/%ff%fe", "/" + "x" * 256, "/" + "é" * 128,
    "/evil\udcff",                   # a raw 0xFF byte after aiohttp's surrogateescape decoding
])
def test_split_path_refuses(raw):
    with pytest.raises(InvalidName):
        split_path(raw)


def test_name_length_is_counted_in_bytes():
    assert validate_name("é" * 127) == "é" * 127
    with pytest.raises(InvalidName):
        validate_name("é" * 128)


def test_resource_id_roundtrip_and_encoded_separators():
    rid = ResourceId.parse("1284d238-aa92$4c510ada!9a2b")
    assert (rid.storage_id, rid.space_id, rid.node_id) == ("1284d238-aa92", "4c510ada", "9a2b")
    assert str(rid) == "1284d238-aa92$4c510ada!9a2b"
    assert rid.space == "1284d238-aa92$4c510ada"
    assert ResourceId.parse("1284d238-aa92%244c510ada%219a2b") == rid
    assert str(ResourceId.parse("s$sp")) == "s$sp"


@pytest.mark.parametrize("bad", ["", "a$b$c", "a$b!c!d", "a/b$c", "a$"])
def test_resource_id_refuses_garbage(bad):
    with pytest.raises(BadRequest):
        ResourceId.parse(bad)


def test_unencoded_paths_refuse_lone_surrogates():
    with pytest.raises(InvalidName):
        split_path("/a/\udcff", encoded=False)
    assert split_path("/a/b c", encoded=False) == ("a", "b c")


def test_new_id_is_a_random_uuid4() -> None:
    ids = [new_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_new_id_differs_in_a_forked_child() -> None:
    new_id()                               # the parent has drawn random bytes into its pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    assert child != new_id()
