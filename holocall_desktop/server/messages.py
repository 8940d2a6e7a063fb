"""Signaling protocol: validation of client frames and construction of server frames.

JSON text frames with a ``type`` field and camelCase keys (DESIGN §3, seed 000 §1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
SDP_TYPES = ("offer", "answer", "pranswer", "rollback")
CLIENT_TYPES = ("join-room", "leave-room", "offer", "answer", "ice-candidate")
RELAY_TYPES = ("offer", "answer", "ice-candidate")
SERVER_TYPES = (
    "room-state",
    "user-joined",
    "user-left",
    "offer",
    "answer",
    "ice-candidate",
    "room-full",
    "error",
    "server-shutdown",
)
MAX_CANDIDATE_CHARS = 2048


# WebSocket close codes used by the server.
class CloseCode:
    GOING_AWAY = 1001  # server shutdown
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008  # too many protocol errors
    MESSAGE_TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013  # server at its connection limit
    UNAUTHORIZED = 4001
    FORBIDDEN = 4003
    JOIN_TIMEOUT = 4008
    REPLACED = 4009  # the same user connected again elsewhere
    KICKED = 4010
    ROOM_CLOSED = 4011
    RATE_LIMITED = 4029  # connection cooldown


class ProtocolError(Exception):
    """A frame the server refuses; answered with ``error {code, message}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class JoinRoom:
    room_id: str
    user_id: str


@dataclass(frozen=True)
class LeaveRoom:
    room_id: str


@dataclass(frozen=True)
class Relay:
    """``offer``/``answer``/``ice-candidate``; ``payload`` holds ``sdp`` or ``candidate``."""

    type: str
    to: str
    payload: dict[str, Any]

    def forward(self, sender: str) -> dict[str, Any]:
        return {"type": self.type, "from": sender, **self.payload}


ClientMessage = JoinRoom | LeaveRoom | Relay


def _id(msg: dict[str, Any], key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str):
        raise ProtocolError("invalid-message", f"{msg['type']}: '{key}' must be a string")
    if not ID_PATTERN.match(value):
        raise ProtocolError(
            "invalid-message",
            f"{msg['type']}: '{key}' must be 1-64 characters of A-Z a-z 0-9 _ . -",
        )
    return value


def _sdp(msg: dict[str, Any], max_chars: int) -> dict[str, Any]:
    sdp = msg.get("sdp")
    if not isinstance(sdp, dict):
        raise ProtocolError(
            "invalid-message", f"{msg['type']}: 'sdp' must be an object {{type, sdp}}"
        )
    kind, text = sdp.get("type"), sdp.get("sdp")
    if kind not in SDP_TYPES:
        raise ProtocolError(
            "invalid-message", f"{msg['type']}: 'sdp.type' must be one of {', '.join(SDP_TYPES)}"
        )
    if msg["type"] in ("offer", "answer") and kind not in (msg["type"], "pranswer", "rollback"):
        raise ProtocolError("invalid-message", f"{msg['type']}: 'sdp.type' is {kind!r}")
    if kind == "rollback" and text is None:
        text = ""
    if not isinstance(text, str):
        raise ProtocolError("invalid-message", f"{msg['type']}: 'sdp.sdp' must be a string")
    if len(text) > max_chars:
        raise ProtocolError("invalid-message", f"{msg['type']}: 'sdp.sdp' is too long")
    return {"type": kind, "sdp": text}


def _candidate(msg: dict[str, Any]) -> dict[str, Any]:
    cand = msg.get("candidate")
    if not isinstance(cand, dict):
        raise ProtocolError(
            "invalid-message",
            "ice-candidate: 'candidate' must be an object {candidate, sdpMid, sdpMLineIndex}",
        )
    text = cand.get("candidate")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS:
        raise ProtocolError(
            "invalid-message", "ice-candidate: 'candidate.candidate' must be a string"
        )
    mid = cand.get("sdpMid")
    if mid is not None and (not isinstance(mid, str) or len(mid) > 64):
        raise ProtocolError("invalid-message", "ice-candidate: 'candidate.sdpMid' must be a string")
    index = cand.get("sdpMLineIndex")
    if index is not None and (
        isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1024
    ):
        raise ProtocolError(
            "invalid-message", "ice-candidate: 'candidate.sdpMLineIndex' must be an integer"
        )
    if mid is None and index is None and text:
        raise ProtocolError("invalid-message", "ice-candidate: needs 'sdpMid' or 'sdpMLineIndex'")
    out: dict[str, Any] = {"candidate": text, "sdpMid": mid, "sdpMLineIndex": index}
    ufrag = cand.get("usernameFragment")
    if isinstance(ufrag, str) and len(ufrag) <= 256:
        out["usernameFragment"] = ufrag
    return out


def parse_client_message(text: str, max_sdp_chars: int = 60_000) -> ClientMessage:
    """Validate one text frame; raise :class:`ProtocolError` with a precise reason otherwise."""
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("invalid-json", f"frame is not valid JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("invalid-message", "frame must be a JSON object with a 'type' field")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid-message", "frame needs a string 'type' field")
    if kind not in CLIENT_TYPES:
        shown = kind if len(kind) <= 40 else kind[:40] + "…"
        raise ProtocolError(
            "unknown-type",
            f"unknown message type {shown!r}; expected one of {', '.join(CLIENT_TYPES)}",
        )
    if kind == "join-room":
        return JoinRoom(room_id=_id(msg, "roomId"), user_id=_id(msg, "userId"))
    if kind == "leave-room":
        return LeaveRoom(room_id=_id(msg, "roomId"))
    to = _id(msg, "to")
    if kind == "ice-candidate":
        return Relay(type=kind, to=to, payload={"candidate": _candidate(msg)})
    return Relay(type=kind, to=to, payload={"sdp": _sdp(msg, max_sdp_chars)})


# ---- server → client -------------------------------------------------------------------------


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


def user_joined(room_id: str, user_id: str, seat: int, role: str) -> dict[str, Any]:
    return {"type": "user-joined", "roomId": room_id, "userId": user_id, "seat": seat, "role": role}


def user_left(room_id: str, user_id: str, reason: str = "left") -> dict[str, Any]:
    return {"type": "user-left", "roomId": room_id, "userId": user_id, "reason": reason}


def room_full(room_id: str, max_users: int) -> dict[str, Any]:
    return {"type": "room-full", "roomId": room_id, "maxUsers": max_users}


def room_state(
    room_id: str,
    user_id: str,
    seat: int,
    participants: list[dict[str, Any]],
    ice_servers: list[Any],
    max_users: int,
) -> dict[str, Any]:
    return {
        "type": "room-state",
        "roomId": room_id,
        "userId": user_id,
        "seat": seat,
        "participants": participants,
        "iceServers": ice_servers,
        "maxUsers": max_users,
    }


def server_shutdown(message: str) -> dict[str, Any]:
    return {"type": "server-shutdown", "message": message, "reconnect": True}
