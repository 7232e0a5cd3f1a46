"""A loopback stand-in for GitHub's OAuth web flow and the REST endpoints Dex's GitHub connector reads
(a stand-in of an external SaaS, like the Slack receivers).

* ``GET /login/oauth/authorize`` plays a signed-in GitHub user (``current_user``) pressing
  "Authorize": it checks ``client_id`` and ``redirect_uri`` and redirects back with ``code`` and the
  caller's ``state``.
* ``POST /login/oauth/access_token`` exchanges a one-time code for a token when the client id, the
  client secret and the redirect URI match; like GitHub, a refusal is HTTP 200 with an ``error``.
* ``GET /api/v3/user``, ``/api/v3/user/orgs``, ``/api/v3/user/teams`` answer for the token's user, in
  pages of ``page_size`` items with GitHub's ``Link: <...>; rel="next"`` header.

Start it with :func:`start_github`; the connector points to it with ``baseURL: <url>`` and
``apiURL: <url>/api/v3``.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["FakeGithub", "GithubUser", "start_github"]


@dataclass
class GithubUser:
    login: str
    id: int
    name: str = ""
    email: str = ""
    orgs: list[str] = field(default_factory=list)
    teams: list[tuple[str, str, str]] = field(default_factory=list)  # (org, name, slug)


@dataclass
class FakeGithub:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    users: dict[str, GithubUser]
    current_user: str = ""
    page_size: int = 1
    port: int = 0
    codes: dict[str, str] = field(default_factory=dict)  # code -> login
    tokens: dict[str, str] = field(default_factory=dict, repr=False)  # token -> login
    token_requests: list[dict[str, str]] = field(default_factory=list, repr=False)
    server: ThreadingHTTPServer | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _handler(gh: FakeGithub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/login/oauth/authorize":
                if query.get("client_id") != gh.client_id or query.get("redirect_uri") != gh.redirect_uri:
                    self._send(400, {"error": "redirect_uri_mismatch"})
                    return
                code = secrets.token_hex(10)
                gh.codes[code] = gh.current_user
                back = f"{gh.redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
                self._send(302, None, {"Location": back})
                return
            auth = self.headers.get("Authorization", "")
            login = gh.tokens.get(auth.removeprefix("Bearer ").removeprefix("token ").strip())
            if login is None:
                self._send(401, {"message": "Bad credentials"})
                return
            user = gh.users[login]
            if parts.path == "/api/v3/user":
                self._send(200, {"login": user.login, "id": user.id, "name": user.name, "email": user.email})
                return
            if parts.path == "/api/v3/user/orgs":
                items: list[Any] = [{"login": o} for o in user.orgs]
            elif parts.path == "/api/v3/user/teams":
                items = [{"name": n, "slug": s, "organization": {"login": o}} for o, n, s in user.teams]
            else:
                self._send(404, {"message": "Not Found"})
                return
            page = int(query.get("page", "1"))
            size = gh.page_size
            chunk = items[(page - 1) * size : page * size]
            headers = {}
            if page * size < len(items):
                nxt = {**query, "page": str(page + 1)}
                headers["Link"] = f'<{gh.url}{parts.path}?{urlencode(nxt)}>; rel="next"'
            self._send(200, chunk, headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/login/oauth/access_token":
                self._send(404, {"message": "Not Found"})
                return
            gh.token_requests.append(form)
            if form.get("client_id") != gh.client_id or form.get("client_secret") != gh.client_secret:
                self._send(200, {"error": "incorrect_client_credentials"})
                return
            login = gh.codes.pop(form.get("code", ""), None)
            if login is None or form.get("redirect_uri") != gh.redirect_uri:
                self._send(200, {"error": "bad_verification_code"})
                return
            token = "gho_" + secrets.token_hex(16)
            gh.tokens[token] = login
            self._send(200, {"access_token": token, "token_type": "bearer", "scope": "read:org,user:email"})

    return Handler


def start_github(gh: FakeGithub) -> FakeGithub:
    server = ThreadingHTTPServer(("127.0.0.1", gh.port), _handler(gh))
    gh.port = int(server.server_address[1])
    gh.server = server
    threading.Thread(target=server.serve_forever, name="fake-github", daemon=True).start()
    return gh
