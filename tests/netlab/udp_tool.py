"""Run inside a lab namespace: ``echo PORT`` answers every datagram; ``ping HOST PORT N [TIMEOUT]``
prints the round trips (JSON); ``blast HOST PORT KBPS SECONDS`` sends; ``sink PORT SECONDS`` prints
the bytes received (JSON)."""

from __future__ import annotations

import json
import socket
import sys
import time


def main(argv: list[str]) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mode = argv[0]
    if mode == "echo":
        s.bind(("0.0.0.0", int(argv[1])))
        while True:
            data, peer = s.recvfrom(4096)
            s.sendto(data, peer)
    elif mode == "ping":
        host, port, n = argv[1], int(argv[2]), int(argv[3])
        s.settimeout(float(argv[4]) if len(argv) > 4 else 0.6)
        rtts: list[float] = []
        for i in range(n):
            sent = time.monotonic()
            s.sendto(str(i).encode().ljust(100), (host, port))
            try:
                while int(s.recvfrom(4096)[0].strip() or -1) != i:
                    pass  # a late answer to an earlier one
                rtts.append((time.monotonic() - sent) * 1000)
            except TimeoutError:
                pass
            time.sleep(0.01)
        print(json.dumps({"sent": n, "rtts_ms": rtts}))
    elif mode == "blast":
        host, port, kbps, seconds = argv[1], int(argv[2]), float(argv[3]), float(argv[4])
        payload, start, sent = b"x" * 1000, time.monotonic(), 0
        while (elapsed := time.monotonic() - start) < seconds:
            if sent * 8 < kbps * 1000 * elapsed:
                s.sendto(payload, (host, port))
                sent += len(payload)
            else:
                time.sleep(0.001)
    elif mode == "sink":
        s.bind(("0.0.0.0", int(argv[1])))
        s.settimeout(0.2)
        deadline, got, first, last = time.monotonic() + float(argv[2]), 0, 0.0, 0.0
        while time.monotonic() < deadline:
            try:
                got += len(s.recvfrom(4096)[0])
                last = time.monotonic()
                first = first or last
            except TimeoutError:
                pass
        print(json.dumps({"bytes": got, "seconds": last - first}))


if __name__ == "__main__":
    main(sys.argv[1:])
