"""Server configuration: one immutable object built from the command line or from Python."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

JWT_ALGORITHMS = ("RS256", "ES256", "HS256")
DEFAULT_STUN_URLS = ("stun:stun.l.google.com:19302",)
_ICE_URL = re.compile(r"^(stun|stuns|turn|turns):[^\s]+$")


class ConfigError(ValueError):
    """An invalid setting; the message is one line meant for the person who set it."""


@dataclass(frozen=True)
class ServerConfig:
    """Every tunable of the signaling server. Defaults follow the specifications."""

    host: str = "0.0.0.0"
    port: int = 3000

    # auth
    jwt_algorithm: str = "RS256"
    jwt_private_key_pem: bytes | None = None  # RS256/ES256; generated at start when absent
    jwt_secret: str | None = None  # HS256
    jwt_issuer: str = "holocall-signal"
    jwt_audience: str = "holocall"
    access_token_ttl: float = 15 * 60.0
    refresh_token_ttl: float = 24 * 3600.0
    jwt_leeway: float = 10.0
    admin_token: str | None = None  # generated at start when absent

    # limits (seed 000 §5)
    max_users_per_room: int = 6
    max_rooms_per_ip: int = 10  # 0 = unlimited
    connection_cooldown: float = 5.0  # 0 = off
    max_message_bytes: int = 64 * 1024
    message_rate: float = 50.0  # messages per second per connection (sustained)
    message_burst: int = 100
    max_violations: int = 10  # protocol errors before the connection is closed
    max_connections: int = 20_000
    # a client's outgoing frames wait in a queue of at most this many; one that does not take a
    # frame within send_timeout seconds (or lets its queue fill) is dropped as too slow
    send_queue: int = 512
    send_timeout: float = 10.0
    # a connection whose request line and headers are not all there within this is cut
    request_head_timeout: float = 10.0

    # lifecycle
    heartbeat_interval: float = 20.0  # WebSocket ping period; a silent peer is dropped after it
    reconnect_grace: float = 15.0  # a dropped participant keeps its seat this long
    join_timeout: float = 30.0  # a connection that never joins a room is closed after this
    room_idle_ttl: float = 600.0  # an empty room is deleted after this
    shutdown_grace: float = 2.0  # seconds clients get to read the shutdown notice

    # TURN / STUN
    stun_urls: tuple[str, ...] = DEFAULT_STUN_URLS
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl: float = 12 * 3600.0

    # the SFU for group calls: a Janus node's HTTP API (VideoRoom) and its API secret
    janus_url: str | None = None
    janus_secret: str | None = None
    #: with an SFU, a room made for more participants than this calls through it from the start
    #: (room-state ``topology``); smaller rooms stay a mesh of direct connections
    mesh_max_users: int = 3

    # TLS: serve https:// and wss:// with this certificate chain and private key (PEM files);
    # TLS 1.3 is negotiated when the client has it, 1.2 is the oldest accepted
    tls_cert: str | None = None
    tls_key: str | None = None

    # presence across instances
    redis_url: str | None = None
    redis_prefix: str = "holocall:"
    instance_id: str | None = None  # generated when absent
    instance_ttl: float = 6.0  # a silent instance is considered dead after this
    instance_heartbeat: float = 2.0

    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    # Origins whose web pages may call the REST API ("*" = any; tokens are bearer, no cookies).
    cors_origins: tuple[str, ...] = ("*",)

    # Garbage-collector tuning for a dedicated server process: move long-lived objects out of
    # the cyclic collector's reach every second (gc.freeze) so that a full collection does not
    # stall every connection for hundreds of milliseconds at 10k connections (570 ms measured).
    # Every ``gc_full_interval`` seconds, a full collection runs only if the process's RSS grew
    # by more than ``gc_full_growth`` (a fraction; 0 = always) since the last one: closed
    # connections leave no cycles, so in a steady state it would find nothing and only stall.
    # Off for an embedded server (it is process-wide).
    gc_tuning: bool = False
    gc_full_interval: float = 600.0
    gc_full_growth: float = 0.25

    def replace(self, **changes: object) -> ServerConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def validate(self) -> ServerConfig:
        """Raise :class:`ConfigError` with a one-line reason if a setting is unusable."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")
        if self.jwt_algorithm not in JWT_ALGORITHMS:
            raise ConfigError(
                f"JWT algorithm must be one of {', '.join(JWT_ALGORITHMS)}, "
                f"got {self.jwt_algorithm!r}"
            )
        if self.jwt_algorithm == "HS256":
            if not self.jwt_secret or len(self.jwt_secret.encode()) < 32:
                raise ConfigError("HS256 needs a JWT secret of at least 32 bytes")
        elif self.jwt_secret:
            raise ConfigError(f"a JWT secret is only used with HS256, not {self.jwt_algorithm}")
        if self.redis_url and self.jwt_algorithm != "HS256" and self.jwt_private_key_pem is None:
            raise ConfigError(
                "with Redis every instance must share the signing key: "
                "give a private key file (or use HS256 with a shared secret)"
            )
        positive = {
            "access token TTL": self.access_token_ttl,
            "refresh token TTL": self.refresh_token_ttl,
            "max message bytes": self.max_message_bytes,
            "message rate": self.message_rate,
            "message burst": self.message_burst,
            "max users per room": self.max_users_per_room,
            "max violations": self.max_violations,
            "max connections": self.max_connections,
            "send queue": self.send_queue,
            "send timeout": self.send_timeout,
            "request head timeout": self.request_head_timeout,
            "heartbeat interval": self.heartbeat_interval,
            "join timeout": self.join_timeout,
            "room idle TTL": self.room_idle_ttl,
            "TURN TTL": self.turn_ttl,
            "instance TTL": self.instance_ttl,
            "instance heartbeat": self.instance_heartbeat,
            "GC full-collection interval": self.gc_full_interval,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
        non_negative = {
            "JWT leeway": self.jwt_leeway,
            "max rooms per IP": self.max_rooms_per_ip,
            "connection cooldown": self.connection_cooldown,
            "reconnect grace": self.reconnect_grace,
            "shutdown grace": self.shutdown_grace,
        }
        for name, value in non_negative.items():
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if self.jwt_leeway > 60:
            raise ConfigError(f"JWT leeway must be at most 60 s, got {self.jwt_leeway}")
        if self.max_message_bytes < 1024:
            raise ConfigError("max message bytes must be at least 1024 (an SDP needs room)")
        if self.instance_heartbeat >= self.instance_ttl:
            raise ConfigError("instance heartbeat must be shorter than the instance TTL")
        for url in (*self.stun_urls, *self.turn_urls):
            if not _ICE_URL.match(url):
                raise ConfigError(f"not a STUN/TURN URL: {url!r}")
        for url in self.stun_urls:
            if not url.startswith(("stun:", "stuns:")):
                raise ConfigError(f"STUN URL must start with stun: or stuns:, got {url!r}")
        for url in self.turn_urls:
            if not url.startswith(("turn:", "turns:")):
                raise ConfigError(f"TURN URL must start with turn: or turns:, got {url!r}")
        if self.turn_urls and not self.turn_secret:
            raise ConfigError("TURN URLs need the TURN shared secret (coturn static-auth-secret)")
        if self.janus_url is not None:
            if not re.match(r"^https?://[^/\s]+(/\S*)?$", self.janus_url):
                raise ConfigError(
                    f"Janus URL must be http(s)://host[:port]/path, got {self.janus_url!r}"
                )
            if not self.janus_secret:
                raise ConfigError("the Janus URL needs Janus' API secret (janus -a)")
        if self.mesh_max_users < 1:
            raise ConfigError(f"mesh max users must be at least 1, got {self.mesh_max_users}")
        for origin in self.cors_origins:
            if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
                raise ConfigError(
                    f"CORS origin must be '*' or scheme://host[:port], got {origin!r}"
                )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        for name, path in (("certificate", self.tls_cert), ("key", self.tls_key)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"TLS {name} file not found: {path}")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("Redis URL must start with redis://, rediss:// or unix://")
        return self
