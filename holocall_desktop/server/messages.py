"""Signaling protocol: validation of client frames and construction of server frames.

JSON text frames with a ``type`` field and camelCase keys (DESIGN §3, seed 000 §1). The names
(message types, error codes, close codes) live in :mod:`holocall_desktop.protocol.signaling`,
shared with the client.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from holocall_desktop.protocol.signaling import CLIENT_TYPES, SFU_TYPES, ErrorCode, MessageType

#: a room or user id; use ``fullmatch`` (``$`` would accept a trailing newline)
ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
SDP_TYPES = ("offer", "answer", "pranswer", "rollback")
MAX_CANDIDATE_CHARS = 2048


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


@dataclass(frozen=True)
class SfuRequest:
    """``sfu-publish`` (``sdp``: our offer), ``sfu-subscribe`` (``feeds``: whose streams) or
    ``sfu-start`` (``sdp``: our answer to the SFU's offer), answered by the server."""

    type: str
    sdp: dict[str, Any] | None = None
    feeds: tuple[str, ...] = ()


ClientMessage = JoinRoom | LeaveRoom | Relay | SfuRequest

#: the most participants one subscription names
MAX_FEEDS = 64


def _id(msg: dict[str, Any], key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{msg['type']}: '{key}' must be a string")
    if not ID_PATTERN.fullmatch(value):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            f"{msg['type']}: '{key}' must be 1-64 characters of A-Z a-z 0-9 _ . -",
        )
    return value


def _sdp(msg: dict[str, Any], max_chars: int) -> dict[str, Any]:
    sdp = msg.get("sdp")
    if not isinstance(sdp, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"{msg['type']}: 'sdp' must be an object {{type, sdp}}"
        )
    kind, text = sdp.get("type"), sdp.get("sdp")
    if kind not in SDP_TYPES:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            f"{msg['type']}: 'sdp.type' must be one of {', '.join(SDP_TYPES)}",
        )
    if msg["type"] in (MessageType.OFFER, MessageType.ANSWER) and kind not in (
        msg["type"],
        "pranswer",
        "rollback",
    ):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{msg['type']}: 'sdp.type' is {kind!r}")
    if kind == "rollback" and text is None:
        text = ""
    if not isinstance(text, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{msg['type']}: 'sdp.sdp' must be a string")
    if len(text) > max_chars:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{msg['type']}: 'sdp.sdp' is too long")
    return {"type": kind, "sdp": text}


def _candidate(msg: dict[str, Any]) -> dict[str, Any]:
    cand = msg.get("candidate")
    if not isinstance(cand, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            "ice-candidate: 'candidate' must be an object {candidate, sdpMid, sdpMLineIndex}",
        )
    text = cand.get("candidate")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "ice-candidate: 'candidate.candidate' must be a string"
        )
    mid = cand.get("sdpMid")
    if mid is not None and (not isinstance(mid, str) or len(mid) > 64):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "ice-candidate: 'candidate.sdpMid' must be a string"
        )
    index = cand.get("sdpMLineIndex")
    if index is not None and (
        isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1024
    ):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "ice-candidate: 'candidate.sdpMLineIndex' must be an integer"
        )
    if mid is None and index is None and text:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "ice-candidate: needs 'sdpMid' or 'sdpMLineIndex'"
        )
    out: dict[str, Any] = {"candidate": text, "sdpMid": mid, "sdpMLineIndex": index}
    ufrag = cand.get("usernameFragment")
    if isinstance(ufrag, str) and len(ufrag) <= 256:
        out["usernameFragment"] = ufrag
    return out


def _sfu_request(msg: dict[str, Any], max_sdp_chars: int) -> SfuRequest:
    kind = msg["type"]
    if kind == MessageType.SFU_SUBSCRIBE:
        feeds = msg.get("feeds")
        if not isinstance(feeds, list) or not 1 <= len(feeds) <= MAX_FEEDS:
            raise ProtocolError(
                ErrorCode.INVALID_MESSAGE,
                f"sfu-subscribe: 'feeds' must be a list of 1 to {MAX_FEEDS} user ids",
            )
        ids = tuple(dict.fromkeys(_id({"type": kind, "feed": f}, "feed") for f in feeds))
        return SfuRequest(kind, feeds=ids)
    wanted = "offer" if kind == MessageType.SFU_PUBLISH else "answer"
    sdp = _sdp(msg, max_sdp_chars)
    if sdp["type"] != wanted or not sdp["sdp"]:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{kind}: 'sdp' must be an {wanted}")
    return SfuRequest(kind, sdp=sdp)


def parse_client_message(text: str, max_sdp_chars: int = 60_000) -> ClientMessage:
    """Validate one text frame; raise :class:`ProtocolError` with a precise reason otherwise."""
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"frame is not valid JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "frame must be a JSON object with a 'type' field"
        )
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "frame needs a string 'type' field")
    if kind not in CLIENT_TYPES:
        shown = kind if len(kind) <= 40 else kind[:40] + "…"
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {shown!r}; expected one of {', '.join(CLIENT_TYPES)}",
        )
    if kind == MessageType.JOIN_ROOM:
        return JoinRoom(room_id=_id(msg, "roomId"), user_id=_id(msg, "userId"))
    if kind == MessageType.LEAVE_ROOM:
        return LeaveRoom(room_id=_id(msg, "roomId"))
    if kind in SFU_TYPES:
        return _sfu_request(msg, max_sdp_chars)
    to = _id(msg, "to")
    if kind == MessageType.ICE_CANDIDATE:
        return Relay(type=kind, to=to, payload={"candidate": _candidate(msg)})
    return Relay(type=kind, to=to, payload={"sdp": _sdp(msg, max_sdp_chars)})


# ---- server → client -------------------------------------------------------------------------


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": MessageType.ERROR, "code": code, "message": message, **extra}


def user_joined(room_id: str, user_id: str, seat: int, role: str) -> dict[str, Any]:
    return {
        "type": MessageType.USER_JOINED,
        "roomId": room_id,
        "userId": user_id,
        "seat": seat,
        "role": role,
    }


def user_left(room_id: str, user_id: str, reason: str = "left") -> dict[str, Any]:
    return {"type": MessageType.USER_LEFT, "roomId": room_id, "userId": user_id, "reason": reason}


def room_full(room_id: str, max_users: int) -> dict[str, Any]:
    return {"type": MessageType.ROOM_FULL, "roomId": room_id, "maxUsers": max_users}


def room_state(
    room_id: str,
    user_id: str,
    seat: int,
    participants: list[dict[str, Any]],
    ice_servers: list[Any],
    max_users: int,
    topology: str = "mesh",
) -> dict[str, Any]:
    """``topology``: ``sfu`` when the room calls through the SFU, else ``mesh``."""
    return {
        "type": MessageType.ROOM_STATE,
        "roomId": room_id,
        "userId": user_id,
        "seat": seat,
        "participants": participants,
        "iceServers": ice_servers,
        "maxUsers": max_users,
        "topology": topology,
    }


def server_shutdown(message: str) -> dict[str, Any]:
    return {"type": MessageType.SERVER_SHUTDOWN, "message": message, "reconnect": True}


def sfu_answer(sdp: dict[str, Any]) -> dict[str, Any]:
    return {"type": MessageType.SFU_ANSWER, "sdp": sdp}


def sfu_offer(
    sdp: dict[str, Any], feeds: list[str], streams: list[dict[str, str]]
) -> dict[str, Any]:
    """``streams``: which participant (``feed``) each media line (``mid``) of ``sdp`` is."""
    return {"type": MessageType.SFU_OFFER, "sdp": sdp, "feeds": feeds, "streams": streams}


def sfu_published(room_id: str, user_id: str) -> dict[str, Any]:
    return {"type": MessageType.SFU_PUBLISHED, "roomId": room_id, "userId": user_id}


def sfu_started() -> dict[str, Any]:
    return {"type": MessageType.SFU_STARTED}
