"""The event loop's own stalls, as the watch beside a call sees them."""

from __future__ import annotations

import asyncio
import time

from holocall_desktop.transport import looplag


async def test_a_stall_of_the_loop_is_noted_and_nothing_else() -> None:
    task = asyncio.ensure_future(looplag.watch())
    try:
        await asyncio.sleep(0.2)
        before = time.monotonic()
        assert not looplag.overlaps(before - 0.15, before)  # a quiet loop: no stall
        time.sleep(0.25)  # the loop is held up (a long decode, a draw…)
        handled = time.monotonic()
        await asyncio.sleep(0.1)
        assert looplag.overlaps(handled, handled)  # handled right after it: late
        assert looplag.overlaps(before + 0.1, before + 0.1)
        assert not looplag.overlaps(handled + 0.2, handled + 0.3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not looplag.overlaps(0.0, time.monotonic())  # no watch: never late


def test_without_a_running_loop_nothing_is_late() -> None:
    assert not looplag.overlaps(0.0, time.monotonic())
