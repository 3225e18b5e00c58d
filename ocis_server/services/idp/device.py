"""The device-code entry page (RFC 8628 §3.3) at `/signin/v1/device`: a signed-in person types the
code their device shows (or arrives with it in `?user_code=`), sees which application asks, and
allows or denies it. Wrong codes are throttled per client address."""

from __future__ import annotations

from aiohttp import web

from .authorize import show_login
from .config import DEVICE_CONFIRM_PATH, DEVICE_PAGE_PATH
from .forms import read_form
from .pages import consent_page, device_entry_page, message_page
from .state import check_csrf, csrf_token, current_user, idp_state, render


def _entry(request: web.Request, username: str, *, user_code: str = "", error: str = "",
           status: int = 200) -> web.Response:
    return render(request, device_entry_page(DEVICE_PAGE_PATH, csrf_token(request), username,
                                             user_code=user_code, error=error, status=status))


async def handle_device_page(request: web.Request) -> web.StreamResponse:
    signed = await current_user(request)
    if signed is None:
        return show_login(request, request.path_qs)
    user_code = request.query.get("user_code", "")[:64]
    return _entry(request, signed[0].username, user_code=user_code)


async def _fields(request: web.Request) -> dict[str, str]:
    fields = {k: v[:256] for k, v in (await read_form(request)).items()}
    check_csrf(request, fields)
    return fields


async def handle_device_code(request: web.Request) -> web.StreamResponse:
    """The code was entered: show what it would allow (or ask again)."""
    fields = await _fields(request)
    signed = await current_user(request)
    if signed is None:
        return show_login(request, DEVICE_PAGE_PATH)
    state = idp_state(request)
    throttle_key = state.address_key(request)
    state.codes.check(throttle_key)
    user_code = fields.get("user_code", "")
    pending = await state.store.device(user_code) if user_code.strip() else None
    if pending is None:
        state.codes.failure(throttle_key)
        return _entry(request, signed[0].username, user_code=user_code,
                      error="This code is not valid or has expired. Check it and try again.")
    client = state.clients.get(pending.client_id)
    return render(request, consent_page(
        DEVICE_CONFIRM_PATH, csrf_token(request), {"user_code": pending.user_code},
        client.name if client else pending.client_id, signed[0].username, pending.scope,
        title="Connect this device?", user_code=pending.user_code))


async def handle_device_confirm(request: web.Request) -> web.StreamResponse:
    fields = await _fields(request)
    signed = await current_user(request)
    if signed is None:
        return show_login(request, DEVICE_PAGE_PATH)
    state = idp_state(request)
    user, auth_time = signed
    allow = fields.get("decision") == "allow"
    done = await state.store.decide_device(fields.get("user_code", ""),
                                           user.id if allow else None, auth_time)
    if not done:
        return message_page("Code expired", "This code is no longer valid. Start again on your "
                            "device.", status=400)
    if allow:
        return message_page("Device connected", "Your device is now signed in. You can close "
                            "this window and return to it.")
    return message_page("Request denied", "The device was not signed in. You can close this "
                        "window.")
