"""Messages about the signaling connection reach the screen, the logs and the headless JSON
lines: they never carry the access token."""

from __future__ import annotations

from holocall_desktop.transport.signaling import redact


def test_the_token_in_a_websocket_url_is_redacted() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJCb2IifQ.c2lnbmF0dXJl"
    text = f"Connection timeout to host ws://198.18.0.1:8765/ws?token={jwt}; retrying"
    out = redact(text)
    assert jwt not in out and "eyJ" not in out
    assert out == "Connection timeout to host ws://198.18.0.1:8765/ws?token=…; retrying"
