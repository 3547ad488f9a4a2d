"""Who may use the server: one rule for every route of the API and of the UI.

With any of ``--api-auth``, ``--gradio-auth`` or ``--gradio-auth-path`` set, a
request is answered only when it is logged in, whichever route it asks for
(``/sdapi/v1/*``, ``/internal/*``, ``/sd_extra_networks/*``, gradio's own routes,
files, ``/docs``, routes extensions add).  A request is logged in when it carries

- an HTTP Basic ``Authorization`` header with a user and password of ``--api-auth``,
  ``--gradio-auth`` or ``--gradio-auth-path`` (API clients such as webuiapi), or
- the session cookie of the UI's login page, which accepts those same users.

The two kinds of password are equal: each already opens everything the other
does (the API changes settings and generates, the UI calls the same
services), so keeping them apart would only make gaps.  Without a login a
request gets 401 (with ``WWW-Authenticate: Basic`` outside the page's own
routes); the one exception is the login page at the UI's root and its form
post (``/login``), which show nothing about the install.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any, Iterable, Mapping


def parse_credentials(spec: str | None) -> list[tuple[str, str]]:
    """``user:password[,user2:password2]`` (split on the first colon: the password may hold more) -> pairs."""
    pairs = []
    for entry in (spec or "").strip().strip('"').replace("\n", "").split(","):
        entry = entry.strip()
        if ":" in entry:
            user, password = entry.split(":", 1)
            pairs.append((user, password))
    return pairs


def credentials_from_flags(cmd_opts: Any) -> list[tuple[str, str]]:
    """Every login the flags give: ``--api-auth``, ``--gradio-auth`` and the lines of ``--gradio-auth-path``."""
    pairs = parse_credentials(getattr(cmd_opts, "api_auth", None))
    pairs += parse_credentials(getattr(cmd_opts, "gradio_auth", None))
    path = getattr(cmd_opts, "gradio_auth_path", None)
    if path:
        with open(path, "r", encoding="utf8") as f:
            for line in f:
                pairs += parse_credentials(line)
    return pairs


class AccessPolicy:
    """The logins of the server and the UI's sessions; decides whether a request is logged in."""

    def __init__(self, credentials: Iterable[tuple[str, str]] = (), required: bool = False) -> None:
        self.credentials = [(u.encode(), p.encode()) for u, p in credentials]
        self.required = required
        self.ui_app: Any = None
        self.ui_prefix = ""

    @classmethod
    def from_flags(cls, cmd_opts: Any) -> "AccessPolicy":
        """The policy for ``--api-auth``, ``--gradio-auth`` and ``--gradio-auth-path``.  A flag that gives no
        ``user:password`` at all still closes the server (nobody can log in): a typo must not open it."""
        required = any(getattr(cmd_opts, name, None) for name in ("api_auth", "gradio_auth", "gradio_auth_path"))
        credentials = credentials_from_flags(cmd_opts)
        if required and not credentials:
            print("--api-auth / --gradio-auth / --gradio-auth-path name no user:password: every request will be "
                  "refused", flush=True)
        return cls(credentials, required)

    @property
    def enabled(self) -> bool:
        """Whether a login is asked for (otherwise every request is let through)."""
        return self.required or bool(self.credentials)

    def attach_ui(self, ui_app: Any, prefix: str) -> None:
        """Accept the sessions of the gradio app ``ui_app`` (its login page's cookies), mounted at ``prefix``."""
        self.ui_app = ui_app
        self.ui_prefix = prefix.rstrip("/")

    def check_password(self, user: str, password: str) -> bool:
        """Whether ``user``/``password`` is one of the logins (compared in constant time against every entry,
        so the time taken does not tell which user names exist).  Also the UI login page's check."""
        ok = False
        for known_user, known_password in self.credentials:
            user_ok = hmac.compare_digest(user.encode(), known_user)
            password_ok = hmac.compare_digest(password.encode(), known_password)
            ok |= user_ok and password_ok
        return ok

    def basic_ok(self, authorization: str | None) -> bool:
        """Whether an ``Authorization: Basic ...`` header holds one of the logins."""
        if not authorization or authorization[:6].lower() != "basic ":
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and self.check_password(user, password)

    def session_ok(self, cookies: Mapping[str, str]) -> bool:
        """Whether the cookies hold a session the UI's login page handed out (and that is still valid)."""
        ui_app = self.ui_app
        if ui_app is None:
            return False
        cookie_id = getattr(ui_app, "cookie_id", "")
        tokens = getattr(ui_app, "tokens", {})
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            token = cookies.get(name)
            if token and token in tokens:
                return True
        return False

    def logged_in(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
        """The rule of the module docstring: no login configured, a valid Basic login, or a UI session."""
        return not self.enabled or self.basic_ok(headers.get("authorization")) or self.session_ok(cookies)

    def is_login_page(self, method: str, path: str) -> bool:
        """The requests answered without a login: the UI root (the login page) and the login form's post."""
        if self.ui_app is None:
            return False
        root = self.ui_prefix
        if method in ("GET", "HEAD"):
            return path in (root or "/", root + "/")
        return method == "POST" and path in (root + "/login", root + "/login/")


LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Log in</title>
<style>
body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
       font-family: system-ui, sans-serif; background: #0b0f19; color: #e5e7eb; }}
form {{ width: 20em; padding: 2em; border-radius: 8px; background: #1f2937; display: flex; flex-direction: column;
       gap: .75em; }}
h1 {{ font-size: 1.3em; margin: 0 0 .5em; }}
input {{ padding: .6em; border-radius: 6px; border: 1px solid #4b5563; background: #111827; color: inherit; }}
button {{ padding: .7em; border: 0; border-radius: 6px; background: #ea580c; color: white; font-weight: 600;
         cursor: pointer; }}
#login_error {{ color: #f87171; min-height: 1.2em; }}
</style>
</head>
<body>
<form id="login_form">
<h1>Log in</h1>
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="login_button" type="submit">Login</button>
<div id="login_error" role="alert"></div>
</form>
<script>
document.getElementById("login_form").addEventListener("submit", (event) => {{
    event.preventDefault();
    const body = new URLSearchParams(new FormData(event.target));
    fetch({login_url}, {{method: "POST", body: body, credentials: "same-origin"}}).then((response) => {{
        if (response.ok) {{ window.location.reload(); return; }}
        document.getElementById("login_error").textContent = "Incorrect username or password";
    }}).catch(() => {{ document.getElementById("login_error").textContent = "The server did not answer"; }});
}});
</script>
</body>
</html>
"""


def login_page(prefix: str) -> bytes:
    """The login page of a UI mounted at ``prefix``: a form posting to gradio's ``/login`` (which sets the
    session cookie), then a reload.  It needs no other file and names nothing of the install."""
    url = json.dumps(prefix.rstrip("/") + "/login").replace("</", "<\\/")
    return LOGIN_PAGE.format(login_url=url).encode()
