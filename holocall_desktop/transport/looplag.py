"""When this process's event loop ran late: a receiver's own stalls, told apart from the network.

A receiver stamps each hologram fragment when its handler runs on the event loop. If the loop
was held up (the CPU busy with decoding, drawing, face tracking, another participant in the
same process…), the fragments that arrived meanwhile are handled in a burst afterwards, and
their stamps say "late" as a queue on the network would. :func:`watch` runs beside a call and
notes every stretch when a short timer fired more than :data:`STALL_S` late;
:func:`overlaps` says whether a frame's arrival falls in (or just after) one, so the arrival
report marks it *late* and the sender's delay-based estimate skips it (``transport/congestion``).
"""

from __future__ import annotations

import asyncio
import collections
import time

#: the watch's timer
INTERVAL_S = 0.02
#: a timer this much late is a stall
STALL_S = 0.05
#: fragments handled this soon after a stall ended were held up by it
AFTER_S = 0.05
#: stalls are remembered this long (a frame is reported within a fraction of a second)
KEEP_S = 5.0

_stalls: dict[asyncio.AbstractEventLoop, collections.deque[tuple[float, float]]] = {}


async def watch() -> None:
    """Note this loop's stalls until cancelled."""
    loop = asyncio.get_running_loop()
    stalls = _stalls.setdefault(loop, collections.deque())
    try:
        while True:
            start = time.monotonic()
            await asyncio.sleep(INTERVAL_S)
            end = time.monotonic()
            if end - start - INTERVAL_S > STALL_S:
                stalls.append((start + INTERVAL_S, end))
            while stalls and end - stalls[0][1] > KEEP_S:
                stalls.popleft()
    finally:
        _stalls.pop(loop, None)


def overlaps(first: float, last: float, longer_than: float = 0.0) -> bool:
    """Whether the running loop stalled (for more than ``longer_than`` seconds) while fragments
    stamped ``first`` … ``last`` (``time.monotonic()``) arrived, or just before they were
    handled; False without a watch."""
    try:
        stalls = _stalls.get(asyncio.get_running_loop())
    except RuntimeError:
        return False
    if not stalls:
        return False
    return any(
        start <= last and end + AFTER_S >= first and end - start > longer_than
        for start, end in stalls
    )
