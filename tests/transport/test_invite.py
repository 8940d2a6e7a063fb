"""Invite links: both forms parse to the same server, room and secret; bad links are refused
with a one-line reason."""

from __future__ import annotations

import pytest

from holocall_desktop.transport.invite import Invite, InviteError, format_invite, parse_invite

SECRET = "v7CKxjvPL9leMU4AglKQEeMPWyEOA9fx"


@pytest.mark.parametrize(
    ("link", "server"),
    [
        (f"holocall://127.0.0.1:3000/room-1?invite={SECRET}", "http://127.0.0.1:3000"),
        (f"holocall://example.com/room-1?invite={SECRET}", "http://example.com:3000"),
        (f"holocalls://example.com:443/room-1?invite={SECRET}", "https://example.com:443"),
        (f"http://127.0.0.1:3000/rooms/room-1?invite={SECRET}", "http://127.0.0.1:3000"),
        (f"https://example.com/rooms/room-1?invite={SECRET}", "https://example.com"),
        (f"  HOLOCALL://[::1]:4000/room-1?invite={SECRET}\n", "http://[::1]:4000"),
    ],
)
def test_parse(link: str, server: str) -> None:
    assert parse_invite(link) == Invite(server, "room-1", SECRET)


@pytest.mark.parametrize("scheme", ["holocall", "http"])
@pytest.mark.parametrize(
    "server", ["http://127.0.0.1:3000", "https://calls.example.com", "http://[::1]:8080"]
)
def test_format_then_parse_round_trips(server: str, scheme: str) -> None:
    link = format_invite(server, "Ab_9.-x", SECRET, scheme)
    invite = parse_invite(link)
    assert (invite.room_id, invite.invite_secret) == ("Ab_9.-x", SECRET)
    assert invite.link(scheme) == link
    # the server derived from the link reaches the same host and port
    assert invite.server.split("://")[0] == server.split("://")[0]


def test_formats() -> None:
    assert (
        format_invite("http://127.0.0.1:3000", "r", SECRET)
        == f"holocall://127.0.0.1:3000/r?invite={SECRET}"
    )
    assert (
        format_invite("http://127.0.0.1:3000", "r", SECRET, "http")
        == f"http://127.0.0.1:3000/rooms/r?invite={SECRET}"
    )


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("ftp://h/r?invite=" + SECRET, "starts with holocall://"),
        ("holocall:///r?invite=" + SECRET, "no host"),
        ("holocall://h:3000/?invite=" + SECRET, "expected holocall://"),
        ("holocall://h:3000/a/b?invite=" + SECRET, "expected holocall://"),
        ("http://h:3000/r?invite=" + SECRET, "expected http://"),
        ("holocall://h:3000/r", "no ?invite=SECRET"),
        ("holocall://h:3000/r?invite=short", "malformed"),
        ("holocall://h:3000/bad%20room?invite=" + SECRET, "room id"),
        ("holocall://h:99999/r?invite=" + SECRET, "not an invite link"),
        ("just some text", "starts with holocall://"),
    ],
)
def test_bad_links(link: str, reason: str) -> None:
    with pytest.raises(InviteError, match=reason.replace("?", r"\?")) as info:
        parse_invite(link)
    assert "\n" not in str(info.value)
