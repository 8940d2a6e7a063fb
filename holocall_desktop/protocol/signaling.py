"""The signaling protocol's names: message types, error codes and WebSocket close codes.

Signaling frames are JSON text with a ``type`` field (``docs/server.md``). The enums are
``StrEnum``/``IntEnum``, so a member compares equal to the string or number on the wire and
``json.dumps`` writes it as that string: ``msg["type"] == MessageType.OFFER`` reads a frame,
``{"type": MessageType.OFFER}`` writes one. Clients decide on these codes, never on the text of
an error message (the text is for people and may change).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class MessageType(StrEnum):
    # client → server
    JOIN_ROOM = "join-room"
    LEAVE_ROOM = "leave-room"
    # both ways (relayed between participants)
    OFFER = "offer"
    ANSWER = "answer"
    ICE_CANDIDATE = "ice-candidate"
    # client → server, answered by the server (group calls through the SFU)
    SFU_PUBLISH = "sfu-publish"
    SFU_SUBSCRIBE = "sfu-subscribe"
    SFU_START = "sfu-start"
    # server → client
    ROOM_STATE = "room-state"
    USER_JOINED = "user-joined"
    USER_LEFT = "user-left"
    ROOM_FULL = "room-full"
    ERROR = "error"
    SERVER_SHUTDOWN = "server-shutdown"
    SFU_ANSWER = "sfu-answer"
    SFU_OFFER = "sfu-offer"
    SFU_STARTED = "sfu-started"
    SFU_PUBLISHED = "sfu-published"  # to the room: someone's streams are on the SFU now


SFU_TYPES = (MessageType.SFU_PUBLISH, MessageType.SFU_SUBSCRIBE, MessageType.SFU_START)
CLIENT_TYPES = (
    MessageType.JOIN_ROOM,
    MessageType.LEAVE_ROOM,
    MessageType.OFFER,
    MessageType.ANSWER,
    MessageType.ICE_CANDIDATE,
    *SFU_TYPES,
)
RELAY_TYPES = (MessageType.OFFER, MessageType.ANSWER, MessageType.ICE_CANDIDATE)
SERVER_TYPES = (
    MessageType.ROOM_STATE,
    MessageType.USER_JOINED,
    MessageType.USER_LEFT,
    *RELAY_TYPES,
    MessageType.ROOM_FULL,
    MessageType.ERROR,
    MessageType.SERVER_SHUTDOWN,
    MessageType.SFU_ANSWER,
    MessageType.SFU_OFFER,
    MessageType.SFU_STARTED,
    MessageType.SFU_PUBLISHED,
)


class ErrorCode(StrEnum):
    """``code`` of an ``error`` frame (WebSocket) or of an error body (REST)."""

    # frames
    INVALID_JSON = "invalid-json"
    INVALID_MESSAGE = "invalid-message"
    UNKNOWN_TYPE = "unknown-type"
    BINARY_NOT_SUPPORTED = "binary-not-supported"
    FRAME_ERROR = "frame-error"  # a metrics label: a frame the transport could not read
    INTERNAL_ERROR = "internal-error"
    TOO_MANY_ERRORS = "too-many-errors"
    # access
    UNAUTHORIZED = "unauthorized"
    TOKEN_EXPIRED = "token-expired"
    TOKEN_REUSED = "token-reused"
    FORBIDDEN = "forbidden"
    BAD_INVITE = "bad-invite"
    RATE_LIMITED = "rate-limited"
    COOLDOWN = "cooldown"  # reconnecting too fast (with ``retryAfter`` seconds)
    SERVER_FULL = "server-full"
    TOO_MANY_ROOMS = "too-many-rooms"
    # rooms
    ROOM_NOT_FOUND = "room-not-found"
    NO_ROOM = "no-room"
    ALREADY_JOINED = "already-joined"
    NOT_IN_ROOM = "not-in-room"
    UNKNOWN_PEER = "unknown-peer"
    JOIN_TIMEOUT = "join-timeout"
    KICKED = "kicked"
    REPLACED = "replaced"
    ROOM_CLOSED = "room-closed"
    # group calls through the SFU
    SFU_UNAVAILABLE = "sfu-unavailable"  # no SFU here, or it cannot be reached
    SFU_REFUSED = "sfu-refused"  # the SFU refused the request (its reason in the message)
    # REST bodies
    INVALID_BODY = "invalid-body"
    INVALID_USER_ID = "invalid-user-id"
    INVALID_MAX_USERS = "invalid-max-users"
    INVALID_TARGET = "invalid-target"
    USER_NOT_FOUND = "user-not-found"
    USER_ID_TAKEN = "user-id-taken"


class CloseCode(IntEnum):
    """WebSocket close codes the server uses (RFC 6455 ones and our 4xxx)."""

    GOING_AWAY = 1001  # server shutdown
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008  # too many protocol errors
    MESSAGE_TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013  # server at its connection limit
    UNAUTHORIZED = 4001  # the access token was refused: refresh it and reconnect
    FORBIDDEN = 4003  # banned from this room
    JOIN_TIMEOUT = 4008
    REPLACED = 4009  # the same user connected again elsewhere
    KICKED = 4010
    ROOM_CLOSED = 4011
    RATE_LIMITED = 4029  # connection cooldown
