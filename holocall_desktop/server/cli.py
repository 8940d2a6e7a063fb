"""``holocall-signal``: run the signaling server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from holocall_desktop.server.config import JWT_ALGORITHMS, ConfigError, ServerConfig

ENV = {
    "jwt_secret": "HOLOCALL_JWT_SECRET",
    "jwt_private_key": "HOLOCALL_JWT_PRIVATE_KEY_FILE",
    "admin_token": "HOLOCALL_ADMIN_TOKEN",
    "turn_secret": "HOLOCALL_TURN_SECRET",
    "janus_secret": "HOLOCALL_JANUS_SECRET",
    "redis": "HOLOCALL_REDIS_URL",
}


def build_parser() -> argparse.ArgumentParser:
    d = ServerConfig()
    p = argparse.ArgumentParser(
        prog="holocall-signal",
        description=(
            "HoloCall signaling server: WebSocket signaling at ws://HOST:PORT/ws?token=JWT, "
            "REST API (see /openapi.json), TURN credentials, Prometheus metrics. "
            "Secrets may come from the environment: "
            + ", ".join(f"{v}" for v in ENV.values())
            + "."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    net = p.add_argument_group("network")
    net.add_argument("--host", default=d.host, help="address to listen on")
    net.add_argument("--port", type=int, default=d.port, help="TCP port (0 = pick a free one)")
    net.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="proxy address whose X-Forwarded-For is believed (repeatable)",
    )
    net.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="web origin allowed to call the REST API, e.g. https://app.example.com "
        "(repeatable; default: any, '*'); 'none' for no CORS",
    )
    auth = p.add_argument_group("auth")
    auth.add_argument("--jwt-algorithm", choices=JWT_ALGORITHMS, default=d.jwt_algorithm)
    auth.add_argument(
        "--jwt-private-key",
        type=Path,
        metavar="PEM",
        help=f"private key for RS256/ES256 (env {ENV['jwt_private_key']}); generated if absent",
    )
    auth.add_argument(
        "--jwt-secret", help=f"shared secret for HS256, >= 32 bytes (env {ENV['jwt_secret']})"
    )
    auth.add_argument(
        "--admin-token",
        help=f"bearer token for admin endpoints (env {ENV['admin_token']}); generated if absent",
    )
    auth.add_argument("--access-ttl", type=float, default=d.access_token_ttl, metavar="S")
    auth.add_argument("--refresh-ttl", type=float, default=d.refresh_token_ttl, metavar="S")
    auth.add_argument("--jwt-leeway", type=float, default=d.jwt_leeway, metavar="S")
    lim = p.add_argument_group("limits")
    lim.add_argument("--max-users", type=int, default=d.max_users_per_room, help="per room")
    lim.add_argument(
        "--max-rooms-per-ip", type=int, default=d.max_rooms_per_ip, help="0 = unlimited"
    )
    lim.add_argument(
        "--cooldown",
        type=float,
        default=d.connection_cooldown,
        metavar="S",
        help="minimum time between two connections of one user from one address (0 = off)",
    )
    lim.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes)
    lim.add_argument(
        "--message-rate", type=float, default=d.message_rate, help="messages/s per connection"
    )
    lim.add_argument("--message-burst", type=int, default=d.message_burst)
    lim.add_argument(
        "--max-violations",
        type=int,
        default=d.max_violations,
        help="protocol errors before a connection is closed",
    )
    lim.add_argument("--max-connections", type=int, default=d.max_connections)
    lim.add_argument(
        "--send-queue",
        type=int,
        default=d.send_queue,
        help="frames that may wait for one client before it is dropped as too slow",
    )
    lim.add_argument(
        "--request-head-timeout",
        type=float,
        default=d.request_head_timeout,
        metavar="S",
        help="a connection whose request line and headers take longer is cut (slow clients)",
    )
    lim.add_argument(
        "--send-timeout",
        type=float,
        default=d.send_timeout,
        metavar="S",
        help="a client that takes no frame for this long is dropped as too slow",
    )
    life = p.add_argument_group("lifecycle")
    life.add_argument("--heartbeat", type=float, default=d.heartbeat_interval, metavar="S")
    life.add_argument(
        "--grace",
        type=float,
        default=d.reconnect_grace,
        metavar="S",
        help="a dropped participant keeps its seat this long",
    )
    life.add_argument("--join-timeout", type=float, default=d.join_timeout, metavar="S")
    life.add_argument("--room-idle-ttl", type=float, default=d.room_idle_ttl, metavar="S")
    ice = p.add_argument_group("STUN/TURN")
    ice.add_argument(
        "--stun-url",
        action="append",
        metavar="URL",
        help=f"STUN URL handed to clients (repeatable; default {', '.join(d.stun_urls)})",
    )
    ice.add_argument("--no-stun", action="store_true", help="hand out no STUN server")
    ice.add_argument(
        "--turn-url",
        action="append",
        default=[],
        metavar="URL",
        help="TURN URL, e.g. turn:turn.example.com:3478?transport=udp (repeatable)",
    )
    ice.add_argument("--turn-secret", help=f"coturn static-auth-secret (env {ENV['turn_secret']})")
    ice.add_argument("--turn-ttl", type=float, default=d.turn_ttl, metavar="S")
    sfu = p.add_argument_group("SFU (group calls through Janus' VideoRoom)")
    sfu.add_argument(
        "--janus-url",
        metavar="URL",
        help="a Janus node's HTTP API, e.g. http://127.0.0.1:8088/janus (its API secret in env "
        f"{ENV['janus_secret']})",
    )
    sfu.add_argument(
        "--mesh-max-users",
        type=int,
        default=d.mesh_max_users,
        metavar="N",
        help="rooms for more participants than this call through the SFU (default %(default)s)",
    )
    tls = p.add_argument_group("TLS (https:// and wss://)")
    tls.add_argument("--tls-cert", metavar="PEM", help="certificate chain (with --tls-key)")
    tls.add_argument("--tls-key", metavar="PEM", help="private key of the certificate")
    red = p.add_argument_group("presence")
    red.add_argument(
        "--redis",
        metavar="URL",
        help=f"share rooms with other instances through Redis (env {ENV['redis']})",
    )
    red.add_argument("--redis-prefix", default=d.redis_prefix)
    red.add_argument("--instance-id", help="name of this instance (default: random)")
    red.add_argument(
        "--instance-ttl",
        type=float,
        default=d.instance_ttl,
        metavar="S",
        help="a silent instance's users leave their rooms after this",
    )
    red.add_argument("--instance-heartbeat", type=float, default=d.instance_heartbeat, metavar="S")
    p.add_argument(
        "--no-gc-tuning",
        action="store_true",
        help="leave Python's garbage collector alone (by default long-lived objects are frozen "
        "every second, and every --gc-full-interval seconds a full collection runs if the "
        "server's memory grew by more than --gc-full-growth since the last one)",
    )
    p.add_argument(
        "--event-loop",
        choices=["auto", "asyncio", "uvloop"],
        default="asyncio",
        help="event loop implementation: uvloop (optional package), or auto = uvloop when "
        "it is installed",
    )
    p.add_argument("--gc-full-interval", type=float, default=d.gc_full_interval, metavar="S")
    p.add_argument(
        "--gc-full-growth",
        type=float,
        default=d.gc_full_growth,
        metavar="F",
        help="RSS growth (a fraction) that makes a full collection worth its pause "
        "(default %(default)s; 0 = every --gc-full-interval)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """A validated configuration; raises :class:`ConfigError` with a one-line reason."""
    key_path: Path | None = args.jwt_private_key or (
        Path(os.environ[ENV["jwt_private_key"]]) if os.environ.get(ENV["jwt_private_key"]) else None
    )
    pem = None
    if key_path is not None:
        try:
            pem = key_path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read JWT private key {key_path}: {exc.strerror}") from None
    stun = () if args.no_stun else tuple(args.stun_url or ServerConfig().stun_urls)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        jwt_algorithm=args.jwt_algorithm,
        jwt_private_key_pem=pem,
        jwt_secret=args.jwt_secret or os.environ.get(ENV["jwt_secret"]) or None,
        access_token_ttl=args.access_ttl,
        refresh_token_ttl=args.refresh_ttl,
        jwt_leeway=args.jwt_leeway,
        admin_token=args.admin_token or os.environ.get(ENV["admin_token"]) or None,
        max_users_per_room=args.max_users,
        max_rooms_per_ip=args.max_rooms_per_ip,
        connection_cooldown=args.cooldown,
        max_message_bytes=args.max_message_bytes,
        message_rate=args.message_rate,
        message_burst=args.message_burst,
        max_violations=args.max_violations,
        max_connections=args.max_connections,
        send_queue=args.send_queue,
        send_timeout=args.send_timeout,
        request_head_timeout=args.request_head_timeout,
        heartbeat_interval=args.heartbeat,
        reconnect_grace=args.grace,
        join_timeout=args.join_timeout,
        room_idle_ttl=args.room_idle_ttl,
        stun_urls=stun,
        turn_urls=tuple(args.turn_url),
        turn_secret=args.turn_secret or os.environ.get(ENV["turn_secret"]) or None,
        turn_ttl=args.turn_ttl,
        janus_url=args.janus_url,
        janus_secret=os.environ.get(ENV["janus_secret"]) or None,
        mesh_max_users=args.mesh_max_users,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        redis_url=args.redis or os.environ.get(ENV["redis"]) or None,
        redis_prefix=args.redis_prefix,
        instance_id=args.instance_id,
        instance_ttl=args.instance_ttl,
        instance_heartbeat=args.instance_heartbeat,
        trusted_proxies=tuple(args.trusted_proxy),
        cors_origins=_cors(args.cors_origin),
        gc_tuning=not args.no_gc_tuning,
        gc_full_interval=args.gc_full_interval,
        gc_full_growth=args.gc_full_growth,
    )
    if config.admin_token is not None and len(config.admin_token) < 16:
        raise ConfigError("the admin token must be at least 16 characters")
    return config.validate()


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when chosen (or installed, for ``auto``); ``None`` = asyncio's."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("--event-loop uvloop: the uvloop package is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _cors(values: list[str] | None) -> tuple[str, ...]:
    if not values:
        return ServerConfig().cors_origins
    if values == ["none"]:
        return ()
    return tuple(values)


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-files limit towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def serve(config: ServerConfig) -> None:
    from holocall_desktop.server.app import SignalingServer

    server = SignalingServer(config)
    await server.start()
    log = logging.getLogger("holocall_desktop.server")
    print(f"holocall-signal: listening on {server.http_url} (ws: {server.ws_url})", flush=True)
    if config.admin_token is None:
        print(f"holocall-signal: admin token (generated): {server.admin_token}", flush=True)
    kind = type(server.presence).__name__
    loop_kind = type(asyncio.get_running_loop()).__module__
    log.info("instance %s, presence %s, loop %s", server.presence.instance_id, kind, loop_kind)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("holocall-signal: shutting down", flush=True)
    await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"holocall-signal: error: {exc}", file=sys.stderr)
        return 2
    raise_fd_limit(config.max_connections + 1024)
    try:
        loop_factory = event_loop_factory(args.event_loop)
    except ConfigError as exc:
        print(f"holocall-signal: error: {exc}", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(config))
    except ConfigError as exc:  # e.g. a TLS key that does not match its certificate
        print(f"holocall-signal: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"holocall-signal: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
