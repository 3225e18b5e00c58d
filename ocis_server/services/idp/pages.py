"""The IdP's server-rendered pages: sign in, consent, device-code entry and confirmation, messages.
Plain HTML forms that work without JavaScript; every value is escaped; every form carries the CSRF
token; responses are never cached or framed."""

from __future__ import annotations

from html import escape

from aiohttp import web

from ocis_server.services.htmlpages import (
    error_alert,
    hidden,
    html_page,
    message_body,
    security_headers,
)

SCOPE_TEXT = {"openid": "sign you in", "profile": "see your name and user name",
              "email": "see your email address",
              "offline_access": "stay signed in (until you sign out)"}

_STYLE = """body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0}
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px #0002}h1{font-size:1.4rem;margin-top:0}label{display:block;margin-top:1rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;
font-size:1rem}button{margin-top:1.2rem;padding:.5rem 1.2rem;font-size:1rem;margin-right:.5rem}
.error{color:#a00;background:#fee;padding:.5rem;border-radius:4px}.code{font-family:monospace;
font-size:1.3rem;letter-spacing:.1rem}"""

# No form-action: a consent POST ends in a redirect to the client's own redirect URI.
# same-origin: the forms' POSTs carry this site's Origin, which state.check_origin requires.
HEADERS = security_headers(form_action_self=False, referrer="same-origin", Pragma="no-cache")


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    return html_page(title, body, style=_STYLE, headers=HEADERS, status=status)


def redirect(location: str, status: int = 302) -> web.Response:
    """A redirect as a plain response (returning aiohttp's HTTPFound objects is deprecated)."""
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


def _scopes(scope: str) -> str:
    items = "".join(f"<li>{escape(SCOPE_TEXT[s])}</li>" for s in scope.split() if s in SCOPE_TEXT)
    return f"<ul>{items}</ul>" if items else ""


def message_page(title: str, text: str, *, status: int = 200) -> web.Response:
    return page(title, message_body(title, text), status=status)


def login_page(action: str, csrf: str, continue_to: str, client_name: str, *, username: str = "",
               error: str = "", status: int = 200) -> web.Response:
    body = (f"<h1>Sign in</h1><p>to continue to <strong>{escape(client_name)}</strong></p>"
            f"{error_alert(error)}"
            f'<form method="post" action="{escape(action)}" id="login">'
            f"{hidden(csrf=csrf, **{'continue': continue_to})}"
            f'<label for="username">User name</label>'
            f'<input type="text" id="username" name="username" value="{escape(username)}" '
            f'autocomplete="username" autocapitalize="none" required autofocus>'
            f'<label for="password">Password</label>'
            f'<input type="password" id="password" name="password" value="" '
            f'autocomplete="current-password" required>'
            f'<button type="submit" id="submit">Sign in</button></form>')
    return page("Sign in", body, status=status)


def consent_page(action: str, csrf: str, fields: dict[str, str], client_name: str, username: str,
                 scope: str, *, title: str = "Allow access?", user_code: str = "") -> web.Response:
    # RFC 8628 §5.4: show the code again so the person checks it is the one their device shows
    shown = (f'<p>Code <span class="code" id="shown-code">{escape(user_code)}</span>: allow only if '
             f"your device shows the same code.</p>") if user_code else ""
    body = (f"<h1>{escape(title)}</h1>{shown}"
            f"<p><strong>{escape(client_name)}</strong> wants to act as "
            f"<strong>{escape(username)}</strong> and to:</p>{_scopes(scope)}"
            f'<form method="post" action="{escape(action)}" id="consent">'
            f"{hidden(csrf=csrf, **fields)}"
            f'<button type="submit" name="decision" value="allow" id="allow">Allow</button>'
            f'<button type="submit" name="decision" value="deny" id="deny">Deny</button></form>')
    return page(title, body)


def device_entry_page(action: str, csrf: str, username: str, *, user_code: str = "",
                      error: str = "", status: int = 200) -> web.Response:
    body = (f"<h1>Connect a device</h1><p>Signed in as <strong>{escape(username)}</strong>. "
            f"Enter the code your device shows.</p>{error_alert(error)}"
            f'<form method="post" action="{escape(action)}" id="device">{hidden(csrf=csrf)}'
            f'<label for="user_code">Code</label>'
            f'<input type="text" id="user_code" name="user_code" class="code" '
            f'value="{escape(user_code)}" autocomplete="off" autocapitalize="characters" required '
            f'autofocus><button type="submit" id="submit">Continue</button></form>')
    return page("Connect a device", body, status=status)
