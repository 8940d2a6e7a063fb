"""A client written against the browser APIs only (fetch + WebSocket, no headers on the socket).

Node's ``--experimental-websocket`` gives the WHATWG WebSocket that browsers have; the script
creates a room, takes an invite, joins twice and relays an offer and an answer.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

from holocall_desktop.server.app import SignalingServer

NODE = shutil.which("node")

BROWSER_CLIENT = r"""
const base = process.argv[1];
const wsBase = base.replace('http://', 'ws://') + '/ws';
const post = async (path, body) => {
  const r = await fetch(base + path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return r.json();
};
function connect(token) {
  const ws = new WebSocket(`${wsBase}?token=${encodeURIComponent(token)}`);
  const inbox = [];
  let wake = null;
  ws.onmessage = (e) => { inbox.push(JSON.parse(e.data)); if (wake) { wake(); wake = null; } };
  ws.next = async () => {
    while (!inbox.length) await new Promise((r) => (wake = r));
    return inbox.shift();
  };
  return new Promise((resolve, reject) => { ws.onopen = () => resolve(ws); ws.onerror = reject; });
}
(async () => {
  const log = [];
  const room = await post('/rooms', { userId: 'host' });
  const guest = await post(`/rooms/${room.roomId}/tokens`,
                           { inviteSecret: room.inviteSecret, userId: 'guest' });
  const a = await connect(room.accessToken);
  a.send(JSON.stringify({ type: 'join-room', roomId: room.roomId, userId: 'host' }));
  log.push(await a.next());
  const b = await connect(guest.accessToken);
  b.send(JSON.stringify({ type: 'join-room', roomId: room.roomId, userId: 'guest' }));
  log.push(await b.next());
  const joined = await a.next();
  log.push(joined);
  const offer = { type: 'offer', sdp: 'v=0\r\n' };
  a.send(JSON.stringify({ type: 'offer', to: joined.userId, sdp: offer }));
  log.push(await b.next());
  b.send(JSON.stringify({ type: 'answer', to: 'host', sdp: { type: 'answer', sdp: 'v=0\r\n' } }));
  log.push(await a.next());
  a.close(); b.close();
  console.log(JSON.stringify(log));
})().catch((e) => { console.error(String(e)); process.exit(1); });
"""


async def test_browser_api_client(server: SignalingServer) -> None:
    assert NODE is not None, "node is not installed (scripts/setup.sh installs nodejs)"
    proc = await asyncio.create_subprocess_exec(
        NODE, "--experimental-websocket", "--no-warnings", "-e", BROWSER_CLIENT, server.http_url,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    log = json.loads(out)
    assert [m["type"] for m in log] == [
        "room-state",
        "room-state",
        "user-joined",
        "offer",
        "answer",
    ]
    assert log[3]["from"] == "host" and log[4]["from"] == "guest"
    assert log[1]["iceServers"] and {p["userId"] for p in log[1]["participants"]} == {
        "host",
        "guest",
    }
