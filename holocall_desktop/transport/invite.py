"""Invite links: everything a guest needs to join a room, in one URL.

Three equivalent forms (``docs/calls.md``):

- ``holocall://HOST:PORT/ROOM?invite=SECRET`` (``holocalls://`` when the server is behind TLS)
- ``http://HOST:PORT/rooms/ROOM?invite=SECRET`` (``https://`` behind TLS), the room's REST path
- ``http://HOST:PORT/join/ROOM?invite=SECRET``, the web client's page (a browser joins there)

``ROOM`` is the room id, ``SECRET`` the room's invite secret (both URL-safe). The port defaults
to 3000 for ``holocall://`` and to the scheme's default for ``http(s)://``. The server's base URL
derived from a link is ``http(s)://HOST:PORT``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

DEFAULT_PORT = 3000
_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_SECRET = re.compile(r"[A-Za-z0-9_.\-~]{8,256}")


class InviteError(ValueError):
    """Not a valid invite link (the message is one line, for the user)."""


@dataclass(frozen=True)
class Invite:
    server: str  # base URL, e.g. http://127.0.0.1:3000
    room_id: str
    invite_secret: str

    def link(self, scheme: str = "holocall") -> str:
        return format_invite(self.server, self.room_id, self.invite_secret, scheme)


def format_invite(server: str, room_id: str, invite_secret: str, scheme: str = "holocall") -> str:
    """The invite link of a room. ``scheme`` ``"holocall"`` gives ``holocall://…`` (or
    ``holocalls://`` for an https server); ``"http"`` gives the REST form; ``"web"`` the web
    client's page (``/join/ROOM?invite=…``, which a browser opens and the app reads too)."""
    base = urlsplit(server)
    if base.scheme not in ("http", "https") or not base.hostname:
        raise InviteError(f"server must be an http(s)://HOST[:PORT] URL, got {server!r}")
    if not _ID.fullmatch(room_id):
        raise InviteError(f"room id {room_id!r} is not 1-64 characters of A-Z a-z 0-9 _ . -")
    if not _SECRET.fullmatch(invite_secret):
        raise InviteError("invite secret must be 8-256 URL-safe characters")
    host = f"[{base.hostname}]" if ":" in base.hostname else base.hostname
    tls = base.scheme == "https"
    if scheme == "holocall":
        port = base.port or (443 if tls else 80)
        return (
            f"holocall{'s' if tls else ''}://{host}:{port}/{room_id}?invite={quote(invite_secret)}"
        )
    if scheme in ("http", "web"):
        netloc = f"{host}:{base.port}" if base.port else host
        path = "rooms" if scheme == "http" else "join"
        return f"{base.scheme}://{netloc}/{path}/{room_id}?invite={quote(invite_secret)}"
    raise InviteError(f"unknown invite scheme {scheme!r} (holocall, http or web)")


def parse_invite(link: str) -> Invite:
    """The server, room and secret of an invite link; :class:`InviteError` if it is not one."""
    text = link.strip()
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as exc:
        raise InviteError(f"not an invite link ({exc}): {text!r}") from None
    scheme = url.scheme.lower()
    if scheme not in ("holocall", "holocalls", "http", "https"):
        raise InviteError(
            "an invite link starts with holocall://, holocalls://, http:// or https:// "
            f"(got {text!r})"
        )
    if not url.hostname:
        raise InviteError(f"invite link has no host: {text!r}")
    parts = [p for p in url.path.split("/") if p]
    if scheme.startswith("holocall"):
        if len(parts) != 1:
            raise InviteError(f"expected holocall://HOST:PORT/ROOM?invite=SECRET, got {text!r}")
        room = parts[0]
        tls = scheme == "holocalls"
        port = port or DEFAULT_PORT
    else:
        if len(parts) != 2 or parts[0] not in ("rooms", "join"):
            raise InviteError(f"expected http://HOST:PORT/rooms/ROOM?invite=SECRET, got {text!r}")
        room = parts[1]
        tls = scheme == "https"
    if not _ID.fullmatch(room):
        raise InviteError(f"room id {room!r} is not 1-64 characters of A-Z a-z 0-9 _ . -")
    secrets = parse_qs(url.query).get("invite", [])
    if len(secrets) != 1 or not secrets[0]:
        raise InviteError("the invite link has no ?invite=SECRET")
    secret = secrets[0]
    if not _SECRET.fullmatch(secret):
        raise InviteError("the invite secret in the link is malformed")
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    http = "https" if tls else "http"
    server = f"{http}://{host}:{port}" if port else f"{http}://{host}"
    return Invite(server=server, room_id=room, invite_secret=secret)
