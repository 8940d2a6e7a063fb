"""Wire vocabularies shared by both ends: what the signaling server and its clients say.

Nothing here imports the rest of HoloCall; the server (``server/``) and the client
(``transport/signaling.py``) both import these names instead of spelling strings and numbers.
"""

from holocall_desktop.protocol.signaling import (
    CLIENT_TYPES,
    RELAY_TYPES,
    SERVER_TYPES,
    CloseCode,
    ErrorCode,
    MessageType,
)

__all__ = ["CLIENT_TYPES", "RELAY_TYPES", "SERVER_TYPES", "CloseCode", "ErrorCode", "MessageType"]
