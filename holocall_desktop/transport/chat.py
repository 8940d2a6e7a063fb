"""Chat between participants: ``chat`` messages (``0x54``) on each peer's ordered ``control``
channel (``docs/protocol.md``).

A :class:`ChatLink` belongs to one peer connection. Outgoing messages wait for the peer's
``hello`` (which says whether its build reads chat, capability bit 7), then go out in order;
a peer that does not read chat is not sent any (counted, and logged once). Incoming messages
pass a token bucket first, so a peer that floods the chat is cut short (the excess counts as
bad messages) and cannot bury the others' messages.
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Callable

from holocall_desktop.codec import control as wire

log = logging.getLogger(__name__)

#: messages a peer may send at once, and how many more a second after that
CHAT_BURST = 10
CHAT_RATE_PER_S = 2.0
#: messages kept for a peer whose hello has not come yet
PENDING_LIMIT = 50


def chat_text(text: str) -> str:
    """``text`` as it is sent: line ends made ``\\n``, other control characters removed,
    whitespace trimmed at both ends; ``ValueError`` (one line) if nothing is left or it is
    longer than :data:`~holocall_desktop.codec.control.MAX_CHAT_CHARS` characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if not wire.is_control_char(c)).strip()
    if not text:
        raise ValueError("a chat message needs some text")
    if len(text) > wire.MAX_CHAT_CHARS:
        raise ValueError(
            f"a chat message holds at most {wire.MAX_CHAT_CHARS} characters ({len(text)} given)"
        )
    return text


class ChatLink:
    """The chat with one peer: what waits for its hello, and the flood limit on what it sends."""

    def __init__(self, user_id: str, send: Callable[[wire.ControlMessage], None]) -> None:
        self.user_id = user_id
        self._send = send
        self._capabilities: wire.Capability | None = None  # None until its hello
        self._pending: collections.deque[wire.Chat] = collections.deque(maxlen=PENDING_LIMIT)
        self._tokens = float(CHAT_BURST)
        self._refilled = -math.inf
        self.unsent = 0  # messages not sent: its build does not read chat

    def say(self, message: wire.Chat) -> None:
        """Send ``message`` now, or once the peer's hello says it reads chat."""
        if self._capabilities is None:
            self._pending.append(message)
        elif self._capabilities & wire.Capability.CHAT:
            self._send(message)
        else:
            if not self.unsent:
                log.info("%s's app does not read chat: not sending it any", self.user_id)
            self.unsent += 1

    def hello(self, capabilities: wire.Capability) -> None:
        """The peer's hello came: send what waited for it."""
        self._capabilities = capabilities
        pending, self._pending = list(self._pending), collections.deque(maxlen=PENDING_LIMIT)
        for message in pending:
            self.say(message)

    def admit(self, now: float) -> bool:
        """May a chat message that arrived at ``now`` (monotonic seconds) be shown? False past
        the flood limit (:data:`CHAT_BURST`, then :data:`CHAT_RATE_PER_S`)."""
        if self._refilled > -math.inf:
            self._tokens = min(
                float(CHAT_BURST), self._tokens + (now - self._refilled) * CHAT_RATE_PER_S
            )
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
