"""Signaling server load: N concurrent WebSocket clients in rooms relaying offers, vs. Node ws."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# The seed's sample signaling server (spec 000 §1), completed minimally so that it joins rooms and
# relays; it is the peer our server is compared with. No auth, no limits, no validation.
NODE_REFERENCE = r"""
const WebSocket = require('ws');
const port = parseInt(process.argv[2] || '3000', 10);
const wss = new WebSocket.Server({ port, host: '127.0.0.1', perMessageDeflate: false });
const rooms = new Map();   // roomId -> Set<ws>
const users = new Map();   // userId -> ws

function send(ws, msg) { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); }

function joinRoom(ws, roomId, userId) {
  let room = rooms.get(roomId);
  if (!room) { room = new Set(); rooms.set(roomId, room); }
  if (room.size >= 6) { send(ws, { type: 'room-full', roomId, maxUsers: 6 }); return; }
  ws.userId = userId; ws.roomId = roomId;
  for (const peer of room) send(peer, { type: 'user-joined', roomId, userId });
  room.add(ws); users.set(userId, ws);
  send(ws, { type: 'room-state', roomId, participants: [...room].map((p) => p.userId) });
}

function leaveRoom(ws) {
  const room = rooms.get(ws.roomId);
  if (!room || !room.delete(ws)) return;
  users.delete(ws.userId);
  if (room.size === 0) rooms.delete(ws.roomId);
  for (const peer of room) send(peer, { type: 'user-left', roomId: ws.roomId, userId: ws.userId });
}

function relay(to, msg) { const target = users.get(to); if (target) send(target, msg); }

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data); } catch (e) { return; }
    switch (msg.type) {
      case 'join-room': joinRoom(ws, msg.roomId, msg.userId); break;
      case 'leave-room': leaveRoom(ws); break;
      case 'offer':
      case 'answer':
      case 'ice-candidate':
        relay(msg.to, { ...msg, from: ws.userId });
        break;
    }
  });
  ws.on('close', () => leaveRoom(ws));
});
wss.on('listening', () => console.log('listening on ' + port));
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", type=int, default=1000, help="concurrent clients")
    parser.add_argument("--room-size", type=int, default=2, help="clients per room (2..6)")
    parser.add_argument(
        "--rate", type=float, default=500.0, help="offers per second, all clients together"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of relaying")
    parser.add_argument(
        "--saturate",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds of closed-loop ping-pong for the throughput figure (0 = skip)",
    )
    parser.add_argument(
        "--pairs", type=int, default=50, help="ping-pong pairs per worker in the throughput phase"
    )
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--servers",
        choices=["both", "ours", "node"],
        default="both",
        help="which servers to measure (node = the seed's reference Node ws server)",
    )
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument(
        "--server-loop",
        choices=["auto", "asyncio", "uvloop"],
        default="asyncio",
        help="event loop of holocall-signal (uvloop is an optional package)",
    )
    parser.add_argument(
        "--waves",
        type=int,
        default=0,
        metavar="N",
        help="after the measurements, close every connection and open them again N times, "
        "reporting the server's RSS after each (memory that closed connections leave behind)",
    )


@dataclass
class Result:
    server: str
    connections: int = 0
    failed: int = 0
    connect_s: float = 0.0
    sent: int = 0
    received: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    duration: float = 0.0
    saturated: int = 0
    saturate_s: float = 0.0
    server_cpu_s: float = 0.0
    server_rss_mb: float = 0.0
    # per wave of closing every connection and opening them again: RSS once closed, RSS once
    # all are back, connections held
    waves: list[tuple[float, float, int]] = field(default_factory=list)
    note: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_nofile(wanted: int) -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _proc_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


# ---- load-generator worker (runs in its own process) -----------------------------------------


def _worker(
    pipe: Any, ws_url: str, rooms: list[tuple[str, list[tuple[str, str]]]], conc: int
) -> None:
    import asyncio

    _raise_nofile(sum(len(m) for _, m in rooms) + 512)
    asyncio.run(_worker_main(pipe, ws_url, rooms, conc))


async def _worker_main(
    pipe: Any, ws_url: str, rooms: list[tuple[str, list[tuple[str, str]]]], conc: int
) -> None:
    import asyncio
    import random

    import aiohttp

    state: dict[str, Any] = {"phase": "idle", "latencies": [], "received": 0, "saturated": 0}
    peers: dict[str, list[str]] = {}
    sockets: dict[str, aiohttp.ClientWebSocketResponse] = {}
    readers: list[asyncio.Task[None]] = []

    async def reader(user: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if data.get("type") != "offer":
                continue
            sdp = data["sdp"]["sdp"]
            kind, _, stamp = sdp.partition(":")
            if kind == "lat":
                state["received"] += 1
                state["latencies"].append((time.monotonic_ns() - int(stamp)) / 1e6)
            elif kind == "sat" and state["phase"] == "saturate":
                state["saturated"] += 1
                back = {"type": "offer", "to": data["from"], "sdp": {"type": "offer", "sdp": sdp}}
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(json.dumps(back))

    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector)
    gate = asyncio.Semaphore(conc)
    failed = 0

    async def connect(room_id: str, user: str, token: str) -> None:
        nonlocal failed
        url = f"{ws_url}?token={token}" if token else ws_url
        async with gate:
            try:
                ws = await session.ws_connect(
                    url,
                    autoping=True,
                    heartbeat=None,
                    timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
                )
                await ws.send_str(
                    json.dumps({"type": "join-room", "roomId": room_id, "userId": user})
                )
                while True:
                    msg = await ws.receive(timeout=30)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        raise ConnectionError(f"closed while joining: {msg.type}")
                    kind = json.loads(msg.data).get("type")
                    if kind == "room-state":
                        break
                    if kind in ("error", "room-full"):
                        raise ConnectionError(msg.data)
            except (aiohttp.ClientError, ConnectionError, OSError, TimeoutError):
                failed += 1
                return
        sockets[user] = ws
        readers.append(asyncio.create_task(reader(user, ws)))

    async def connect_all() -> float:
        nonlocal failed
        failed = 0
        started = time.monotonic()
        await asyncio.gather(*(connect(r, u, t) for r, members in rooms for u, t in members))
        return time.monotonic() - started

    async def close_all() -> None:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        readers.clear()
        await asyncio.gather(*(ws.close() for ws in sockets.values()), return_exceptions=True)
        sockets.clear()

    connect_s = await connect_all()
    for _room_id, members in rooms:
        ids = [u for u, _ in members if u in sockets]
        for u in ids:
            peers[u] = [p for p in ids if p != u]
    senders = [u for u, p in peers.items() if p]
    import gc

    gc.collect()
    gc.freeze()  # the load generator's own full collections would show up as relay latency
    pipe.send(("ready", len(sockets), failed, connect_s))

    while True:
        command = await asyncio.to_thread(pipe.recv)
        if command[0] == "latency":
            rate, duration = command[1], command[2]
            state["phase"] = "latency"
            sent = 0
            t0 = time.monotonic()
            while (now := time.monotonic()) - t0 < duration:
                due = int(rate * (now - t0)) - sent
                for _ in range(max(0, due)):
                    user = random.choice(senders)
                    frame = {
                        "type": "offer",
                        "to": random.choice(peers[user]),
                        "sdp": {"type": "offer", "sdp": f"lat:{time.monotonic_ns()}"},
                    }
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await sockets[user].send_str(json.dumps(frame))
                    sent += 1
                await asyncio.sleep(0.005)
            await asyncio.sleep(2.0)  # let the last relays arrive
            state["phase"] = "idle"
            pipe.send(("latency", sent, state["received"], state["latencies"]))
        elif command[0] == "saturate":
            seconds, pairs = command[1], command[2]
            state["phase"] = "saturate"
            state["saturated"] = 0
            for user in senders[: pairs * 2 : 2]:
                frame = {
                    "type": "offer",
                    "to": peers[user][0],
                    "sdp": {"type": "offer", "sdp": "sat:"},
                }
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await sockets[user].send_str(json.dumps(frame))
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            count, elapsed = state["saturated"], time.monotonic() - t0
            state["phase"] = "idle"
            await asyncio.sleep(0.5)
            pipe.send(("saturate", count, elapsed))
        elif command[0] == "close":
            await close_all()
            pipe.send(("closed",))
        elif command[0] == "connect":
            connect_s = await connect_all()
            pipe.send(("ready", len(sockets), failed, connect_s))
        else:
            break
    await close_all()
    await session.close()
    pipe.send(("done",))


# ---- servers -------------------------------------------------------------------------------


@dataclass
class RunningServer:
    name: str
    proc: subprocess.Popen[str]
    ws_url: str
    rooms: list[tuple[str, list[tuple[str, str]]]]
    workdir: Path


def _wait_listening(proc: subprocess.Popen[str], marker: str, timeout: float = 60.0) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited with {proc.wait()}")
        if marker in line:
            return line
    raise RuntimeError("server did not start")


def _start_ours(args: argparse.Namespace, workdir: Path) -> RunningServer:
    import asyncio

    from holocall_desktop.server.auth import TokenService, generate_private_key_pem
    from holocall_desktop.server.config import ServerConfig

    pem = generate_private_key_pem("RS256")
    key = workdir / "jwt.pem"
    key.write_bytes(pem)
    admin = os.urandom(16).hex()
    port = _free_port()
    cmd = [
        sys.executable, "-m", "holocall_desktop.server.cli", "--host", "127.0.0.1",
        "--port", str(port), "--jwt-private-key", str(key), "--max-rooms-per-ip", "0",
        "--cooldown", "0", "--max-connections", str(args.connections + 100),
        "--message-rate", "100000", "--message-burst", "100000", "--no-stun",
        "--join-timeout", "600", "--max-users", str(max(args.room_size, 2)),
        "--log-level", "WARNING", "--event-loop", args.server_loop,
    ]  # fmt: skip
    env = {**os.environ, "HOLOCALL_ADMIN_TOKEN": admin}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    _wait_listening(proc, "listening on")
    tokens = TokenService(ServerConfig(jwt_private_key_pem=pem))
    n_rooms = args.connections // args.room_size

    async def create_rooms() -> list[str]:
        import aiohttp

        gate = asyncio.Semaphore(32)
        async with aiohttp.ClientSession() as http:

            async def one(i: int) -> str:
                async with (
                    gate,
                    http.post(
                        f"http://127.0.0.1:{port}/rooms",
                        json={"userId": f"r{i}-u0", "maxUsers": args.room_size},
                        headers={"Authorization": f"Bearer {admin}"},
                    ) as resp,
                ):
                    body = await resp.json()
                    if resp.status != 201:
                        raise RuntimeError(f"room creation failed: {body}")
                    return str(body["roomId"])

            return list(await asyncio.gather(*(one(i) for i in range(n_rooms))))

    room_ids = asyncio.run(create_rooms())
    rooms = []
    for i, room_id in enumerate(room_ids):
        members = []
        for j in range(args.room_size):
            user = f"r{i}-u{j}"
            role: Literal["host", "guest"] = "host" if j == 0 else "guest"
            token = tokens.issue(user_id=user, room_id=room_id, role=role, token_type="access",
                                 ttl=3600)  # fmt: skip
            members.append((user, token))
        rooms.append((room_id, members))
    from holocall_desktop.server.cli import event_loop_factory

    loop = "uvloop" if event_loop_factory(args.server_loop) else "asyncio"
    name = f"holocall-signal (Python, aiohttp, {loop})"
    return RunningServer(name, proc, f"ws://127.0.0.1:{port}/ws", rooms, workdir)


def _start_node(args: argparse.Namespace, workdir: Path) -> RunningServer:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise RuntimeError("node and npm are needed for the reference server")
    (workdir / "server.js").write_text(NODE_REFERENCE)
    (workdir / "package.json").write_text('{"name": "seed-reference", "private": true}\n')
    install = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "ws@8"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if install.returncode != 0:
        raise RuntimeError(f"npm install ws failed: {install.stderr.strip()[-300:]}")
    port = _free_port()
    proc = subprocess.Popen(
        [
            "sh",
            "-c",
            f"ulimit -n {_raise_nofile(20000)}; exec {shlex.quote(node)} server.js {port}",
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        text=True,
    )
    _wait_listening(proc, "listening on")
    rooms = [
        (f"room{i}", [(f"r{i}-u{j}", "") for j in range(args.room_size)])
        for i in range(args.connections // args.room_size)
    ]
    return RunningServer(
        "seed reference (Node ws)", proc, f"ws://127.0.0.1:{port}/ws", rooms, workdir
    )


def _measure(server: RunningServer, args: argparse.Namespace) -> Result:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    result = Result(server.name)
    slices = [server.rooms[i :: args.workers] for i in range(args.workers)]
    workers = []
    for rooms in slices:
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_worker,
            args=(child, server.ws_url, rooms, args.connect_concurrency // args.workers + 1),
        )
        proc.start()
        workers.append((proc, parent))
    try:
        for _, pipe in workers:
            _, held, failed, connect_s = pipe.recv()
            result.connections += held
            result.failed += failed
            result.connect_s = max(result.connect_s, connect_s)
        result.server_rss_mb = _proc_rss_mb(server.proc.pid)
        cpu0 = _proc_cpu_s(server.proc.pid)
        for _, pipe in workers:
            pipe.send(("latency", args.rate / args.workers, args.duration))
        for _, pipe in workers:
            _, sent, received, latencies = pipe.recv()
            result.sent += sent
            result.received += received
            result.latencies_ms.extend(latencies)
        result.duration = args.duration
        result.server_cpu_s = _proc_cpu_s(server.proc.pid) - cpu0
        if args.saturate > 0:
            for _, pipe in workers:
                pipe.send(("saturate", args.saturate, args.pairs))
            for _, pipe in workers:
                _, count, elapsed = pipe.recv()
                result.saturated += count
                result.saturate_s = max(result.saturate_s, elapsed)
        for _ in range(args.waves):
            for _, pipe in workers:
                pipe.send(("close",))
            for _, pipe in workers:
                pipe.recv()
            time.sleep(3.0)  # the server's handlers finish; its GC tuning freezes what is left
            closed_mb = _proc_rss_mb(server.proc.pid)
            held = 0
            for _, pipe in workers:
                pipe.send(("connect",))
            for _, pipe in workers:
                held += pipe.recv()[1]
            result.waves.append((closed_mb, _proc_rss_mb(server.proc.pid), held))
        for _, pipe in workers:
            pipe.send(("stop",))
        for proc, pipe in workers:
            with contextlib.suppress(EOFError):
                pipe.recv()
            proc.join(30)
    finally:
        for proc, _ in workers:
            if proc.is_alive():
                proc.kill()
    return result


def _table(results: list[Result], args: argparse.Namespace) -> str:
    rows = [
        "| Server | Connections held | Relay p50 | Relay p99 | Relay max | Delivered | "
        "Relayed msg/s (offered) | Saturated msg/s | Server CPU | Server RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.note:
            rows.append(f"| {r.server} | {r.note} | | | | | | | | |")
            continue
        lat = sorted(r.latencies_ms)
        sat = f"{r.saturated / r.saturate_s:,.0f}" if r.saturate_s else "n/a"
        rows.append(
            f"| {r.server} | {r.connections:,} / {args.connections:,} "
            f"(joined in {r.connect_s:.1f} s) | {_percentile(lat, 0.5):.2f} ms | "
            f"{_percentile(lat, 0.99):.2f} ms | {lat[-1] if lat else float('nan'):.1f} ms | "
            f"{r.received:,} / {r.sent:,} | {r.received / r.duration:,.0f} ({args.rate:g}) | "
            f"{sat} | {100 * r.server_cpu_s / r.duration:.0f} % of a core | "
            f"{r.server_rss_mb:.0f} MB |"
        )
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    from holocall_desktop.errors import CliError

    if not 2 <= args.room_size <= 6:
        raise CliError("--room-size must be 2..6")
    if args.connections < args.room_size or args.workers < 1 or args.rate <= 0:
        raise CliError("--connections must be >= --room-size, --workers >= 1, --rate > 0")
    if args.duration <= 0 or args.saturate < 0 or args.waves < 0:
        raise CliError("--duration must be > 0, --saturate and --waves >= 0")
    limit = _raise_nofile(args.connections + 1024)
    if limit < args.connections // args.workers + 256:
        raise CliError(f"open-files limit {limit} is too low; use more --workers")
    kinds = ["ours", "node"] if args.servers == "both" else [args.servers]
    results: list[Result] = []
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix=f"holocall-bench-{kind}-") as tmp:
            try:
                server = (_start_ours if kind == "ours" else _start_node)(args, Path(tmp))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                print(f"bench signal: {kind} server unavailable: {exc}", file=sys.stderr)
                results.append(Result(kind, note=f"not measured: {exc}"))
                continue
            try:
                print(
                    f"bench signal: {server.name}: {args.connections} clients ...", file=sys.stderr
                )
                results.append(_measure(server, args))
            finally:
                server.proc.terminate()
                try:
                    server.proc.wait(15)
                except subprocess.TimeoutExpired:
                    server.proc.kill()
                    server.proc.wait()
    command = "holocall bench signal " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(args).items()
        if k
        in (
            "connections",
            "room_size",
            "rate",
            "duration",
            "saturate",
            "pairs",
            "workers",
            "servers",
            "server_loop",
            "waves",
        )
    )
    print(f"\n`{command}`\n")
    print(_table(results, args))
    for r in results:
        if r.waves:
            steps = " → ".join(f"{closed:.0f} / {held:.0f}" for closed, held, _ in r.waves)
            print(
                f"\n{r.server}: RSS closed / reconnected, by wave: {r.server_rss_mb:.0f} MB at "
                f"first, then {steps} MB"
            )
    ok = [r for r in results if not r.note]
    held_all = all(held == args.connections for r in ok for _, _, held in r.waves)
    return 0 if ok and held_all and all(r.connections == args.connections for r in ok) else 1
