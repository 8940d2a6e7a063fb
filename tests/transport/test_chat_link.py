"""The chat with one peer (``transport/chat.py``): what waits for its hello, a peer that does
not read chat, the flood limit, and the text a sender may write."""

from __future__ import annotations

import pytest

from holocall_desktop.codec import control as wire
from holocall_desktop.transport.chat import CHAT_BURST, CHAT_RATE_PER_S, ChatLink, chat_text


def _link() -> tuple[ChatLink, list[wire.ControlMessage]]:
    sent: list[wire.ControlMessage] = []
    return ChatLink("bob", sent.append), sent


def test_messages_wait_for_the_hello_and_go_in_order() -> None:
    link, sent = _link()
    messages = [wire.Chat(i, 1.0, f"m{i}") for i in range(1, 4)]
    for m in messages[:2]:
        link.say(m)
    assert sent == []  # no hello yet: nobody knows whether it reads chat
    link.hello(wire.ALL_CAPABILITIES)
    link.say(messages[2])
    assert sent == messages


def test_a_peer_that_does_not_read_chat_is_sent_none() -> None:
    link, sent = _link()
    link.say(wire.Chat(1, 1.0, "early"))
    link.hello(wire.ALL_CAPABILITIES & ~wire.Capability.CHAT)
    link.say(wire.Chat(2, 1.0, "late"))
    assert sent == [] and link.unsent == 2


def test_the_flood_limit_lets_a_burst_through_then_refills() -> None:
    link, _ = _link()
    admitted = [link.admit(100.0) for _ in range(CHAT_BURST + 5)]
    assert admitted == [True] * CHAT_BURST + [False] * 5
    assert not link.admit(100.0 + 0.4 / CHAT_RATE_PER_S)
    assert link.admit(100.0 + 1.0 / CHAT_RATE_PER_S)  # one more a 1/rate later
    assert [link.admit(1000.0) for _ in range(CHAT_BURST + 1)].count(True) == CHAT_BURST


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("  hello \r\nworld  ", "hello \nworld"),
        ("tab\tkept", "tab\tkept"),
        ("bell\a and esc\x1b[0m gone", "bell and esc[0m gone"),
        ("<b>markup</b> stays", "<b>markup</b> stays"),
    ],
)
def test_what_a_sender_writes_is_cleaned(text: str, sent: str) -> None:
    assert chat_text(text) == sent


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "needs some text"), (" \n\a ", "needs some text"), ("x" * 501, "at most 500")],
)
def test_text_that_cannot_be_sent(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        chat_text(text)
