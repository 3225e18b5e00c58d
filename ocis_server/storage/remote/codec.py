"""The one place the internal storage API encodes and decodes: `Storage` methods by name, their
arguments and results as JSON, decoded against the protocol's own type hints (the api.py
dataclasses, tuples, optionals, ...), and the domain errors carried across by class name.

Encoding is generic (dataclasses become objects of their fields, tuples and sets lists); decoding
is led by the declared type, so both sides agree without a second schema. A value that does not
fit its declared type is a BadRequest, never a half-built object."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import types
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Union, get_args, get_origin, get_type_hints

from ocis_server.domain import errors
from ocis_server.domain.errors import BadRequest, OcisError, ServiceUnavailable

from ..api import Storage

MAX_JSON = 8 * 1024 * 1024      # bytes of one call's JSON (arguments or answer)
# Not calls: local to each side (close), answered by the blob endpoints (read_small, blob,
# version_blob: no host path leaves the provider), or a property (change_stamp).
LOCAL = frozenset({"close", "read_small", "blob", "version_blob", "change_stamp"})
# Calls that only read: a front may send one of them again when the keep-alive connection broke
# before the answer came (the provider restarted). Never an upload or a write: those are sent once.
READS = frozenset({
    "accepted_remote_shares", "accepted_users", "check", "children", "children_page",
    "count_below", "favorite_ids", "favorites", "find_chunked_upload", "get_link", "get_lock",
    "get_node", "get_ocm_share", "get_props", "get_props_many", "get_remote_share", "get_share",
    "get_space", "get_upload", "invite_token", "invite_tokens", "link_by_token", "list_links",
    "list_ocm_shares", "list_shares", "list_spaces", "list_trash", "list_trash_folder",
    "list_uploads", "list_versions", "locks_below", "locks_covering", "lookup",
    "member_expirations", "members", "node_path", "received_shares", "remote_links",
    "remote_shares", "remote_shares_of", "search_names", "setting_values", "shares_covering",
    "signing_key", "space_info", "trash_item", "upload_chunks", "used_bytes"})


@dataclasses.dataclass(frozen=True, slots=True)
class Method:
    name: str
    signature: inspect.Signature
    params: dict[str, Any]           # parameter name -> declared type
    result: Any                      # declared return type
    streamed: bool                   # takes a `body` (AsyncIterator[bytes]) sent as the stream


def _methods() -> dict[str, Method]:
    found: dict[str, Method] = {}
    for name, fn in vars(Storage).items():
        if name.startswith("_") or name in LOCAL or not inspect.iscoroutinefunction(fn):
            continue
        hints = get_type_hints(fn)
        signature = inspect.signature(fn)
        params = {p: hints[p] for p in signature.parameters if p != "self"}
        streamed = params.get("body") == AsyncIterator[bytes]
        found[name] = Method(name, signature, params, hints.get("return"), streamed)
    return found


METHODS: dict[str, Method] = _methods()


def encode(value: Any) -> Any:
    """A JSON-able form of an argument or a result."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(value: Any, hint: Any) -> Any:
    """`value` (parsed JSON) as the declared type `hint`; BadRequest if it does not fit."""
    if hint is Any or hint is object:
        return value
    origin, args = get_origin(hint), get_args(hint)
    if origin is Union or origin is types.UnionType:
        return _union(value, args)
    if hint is type(None) or hint is None:
        return _expect(value, value is None, hint)
    if hint is bool:
        return _expect(value, isinstance(value, bool), hint)
    if hint is int:
        return _expect(value, isinstance(value, int) and not isinstance(value, bool), hint)
    if hint is float:
        _expect(value, isinstance(value, (int, float)) and not isinstance(value, bool), hint)
        return float(value)
    if hint is str:
        return _expect(value, isinstance(value, str), hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass(value, hint)
    return _container(value, hint, origin, args)


def _container(value: Any, hint: Any, origin: Any, args: tuple[Any, ...]) -> Any:
    if origin in (dict, Mapping) or hint is dict:
        _expect(value, isinstance(value, dict), hint)
        item = args[1] if args else Any
        return {str(key): decode(v, item) for key, v in value.items()}
    _expect(value, isinstance(value, list), hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(item, args[0]) for item in value)
        _expect(value, len(value) == len(args), hint)
        return tuple(decode(item, kind) for item, kind in zip(value, args, strict=True))
    item = args[0] if args else Any
    if origin in (frozenset, set):
        return frozenset(decode(v, item) for v in value)
    if origin in (list, Sequence) or hint is list:
        return [decode(v, item) for v in value]
    raise TypeError(f"cannot decode {hint!r}")


def _union(value: Any, args: tuple[Any, ...]) -> Any:
    if value is None and type(None) in args:
        return None
    for kind in args:
        if kind is type(None):
            continue
        try:
            return decode(value, kind)
        except BadRequest:
            continue
    raise BadRequest(f"internal API: {_short(value)} fits none of {args!r}")


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _dataclass(value: Any, cls: type) -> Any:
    _expect(value, isinstance(value, dict), cls)
    fields = _fields(cls)
    unknown = set(value) - set(fields)
    if unknown:
        raise BadRequest(f"internal API: unknown field(s) of {cls.__name__}: {sorted(unknown)}")
    try:
        return cls(**{name: decode(item, fields[name]) for name, item in value.items()})
    except TypeError:
        raise BadRequest(f"internal API: incomplete {cls.__name__}") from None


def _expect(value: Any, ok: bool, hint: Any) -> Any:
    if not ok:
        raise BadRequest(f"internal API: {_short(value)} is not a {getattr(hint, '__name__', hint)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- calls ---------------------------------------------------------------------------------

def encode_args(method: Method, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The named arguments of a call (positional ones named by the protocol's signature)."""
    bound = method.signature.bind(None, *args, **kwargs)
    return {name: encode(value) for name, value in bound.arguments.items()
            if name not in ("self", "body")}


def decode_args(method: Method, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest("internal API: the arguments are not an object")
    unknown = set(raw) - set(method.params) | ({"body"} & set(raw))
    if unknown:
        raise BadRequest(f"internal API: {method.name} takes no {sorted(unknown)}")
    args = {name: decode(value, method.params[name]) for name, value in raw.items()}
    try:
        method.signature.bind(None, **args, **({"body": None} if method.streamed else {}))
    except TypeError:
        raise BadRequest(f"internal API: missing arguments of {method.name}") from None
    return args


def loads(raw: bytes) -> Any:
    if len(raw) > MAX_JSON:
        raise BadRequest("internal API: the JSON part is too large")
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest("internal API: the body is not JSON") from None


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --- errors --------------------------------------------------------------------------------

def _error_classes() -> dict[str, type[OcisError]]:
    found: dict[str, type[OcisError]] = {}
    todo: list[type[OcisError]] = [OcisError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == errors.__name__:
            found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


ERRORS: dict[str, type[OcisError]] = _error_classes()


def encode_error(exc: OcisError) -> dict[str, Any]:
    name = next(c.__name__ for c in type(exc).__mro__       # the nearest domain class
                if ERRORS.get(c.__name__) is c)
    body: dict[str, Any] = {"error": name, "message": exc.message}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, (int, float)):
        body["retry_after"] = retry_after
    return body


def decode_error(body: Any) -> OcisError:
    """The same domain error class the provider raised (an unknown name: a plain OcisError)."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ServiceUnavailable("the storage provider sent an answer that is not understood",
                                  retry_after=1.0)
    cls = ERRORS.get(body["error"], OcisError)
    message = str(body.get("message", ""))
    retry_after = body.get("retry_after")
    if cls in (ServiceUnavailable, errors.TooManyRequests) and isinstance(retry_after, (int, float)):
        return cls(message, retry_after=float(retry_after))
    return cls(message)
