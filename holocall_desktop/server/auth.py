"""Room-specific JWTs (access and refresh), invite secrets and the admin token.

The algorithm is fixed by the configuration; the token header is never trusted to choose it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from holocall_desktop.protocol.signaling import ErrorCode
from holocall_desktop.server.config import ConfigError, ServerConfig

TokenType = Literal["access", "refresh"]
Role = Literal["host", "guest"]
ROLES: tuple[Role, ...] = ("host", "guest")
_REQUIRED = ["exp", "iat", "sub", "room", "role", "typ", "jti", "iss", "aud"]


class AuthError(Exception):
    """A token or secret was refused; ``code`` is the protocol error code."""

    def __init__(self, message: str, code: str = ErrorCode.UNAUTHORIZED) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Claims:
    user_id: str
    room_id: str
    role: Role
    token_type: TokenType
    jti: str
    expires_at: float

    @property
    def is_host(self) -> bool:
        return self.role == "host"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiresIn": self.expires_in,
            "tokenType": "Bearer",
        }


def generate_private_key_pem(algorithm: str) -> bytes:
    """A fresh PEM private key for RS256 (RSA-2048) or ES256 (P-256)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ConfigError(f"no key pair for {algorithm}")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TokenService:
    """Issues and verifies tokens with exactly one algorithm and one key."""

    def __init__(self, config: ServerConfig) -> None:
        self.algorithm = config.jwt_algorithm
        self.issuer = config.jwt_issuer
        self.audience = config.jwt_audience
        self.access_ttl = config.access_token_ttl
        self.refresh_ttl = config.refresh_token_ttl
        self.leeway = config.jwt_leeway
        self._signing_key: Any
        self._verify_key: Any
        if self.algorithm == "HS256":
            assert config.jwt_secret is not None
            self._signing_key = self._verify_key = config.jwt_secret.encode()
        else:
            pem = config.jwt_private_key_pem or generate_private_key_pem(self.algorithm)
            try:
                key = serialization.load_pem_private_key(pem, password=None)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"cannot read the JWT private key: {exc}") from exc
            expected: type = (
                rsa.RSAPrivateKey if self.algorithm == "RS256" else ec.EllipticCurvePrivateKey
            )
            if not isinstance(key, expected):
                raise ConfigError(f"the JWT private key does not fit {self.algorithm}")
            if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
                raise ConfigError("RSA keys for RS256 must have at least 2048 bits")
            self._signing_key = key
            self._verify_key = key.public_key()

    def public_key_pem(self) -> bytes | None:
        """The verification key in PEM, for RS256/ES256 (``None`` for HS256)."""
        if self.algorithm == "HS256":
            return None
        pem: bytes = self._verify_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def issue(
        self,
        *,
        user_id: str,
        room_id: str,
        role: Role,
        token_type: TokenType,
        now: float | None = None,
        ttl: float | None = None,
    ) -> str:
        now = time.time() if now is None else now
        if ttl is None:
            ttl = self.access_ttl if token_type == "access" else self.refresh_ttl
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "room": room_id,
            "role": role,
            "typ": token_type,
            "jti": uuid.uuid4().hex,
            "iat": int(now),
            "exp": int(now + ttl),
        }
        return jwt.encode(payload, self._signing_key, algorithm=self.algorithm)

    def issue_pair(self, *, user_id: str, room_id: str, role: Role) -> TokenPair:
        return TokenPair(
            access_token=self.issue(
                user_id=user_id, room_id=room_id, role=role, token_type="access"
            ),
            refresh_token=self.issue(
                user_id=user_id, room_id=room_id, role=role, token_type="refresh"
            ),
            expires_in=int(self.access_ttl),
        )

    def verify(
        self, token: str, *, token_type: TokenType = "access", room_id: str | None = None
    ) -> Claims:
        """Check signature, algorithm, expiry, issuer, audience, type and (optionally) room."""
        if not token or len(token) > 8192:
            raise AuthError("missing or oversized token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"malformed token: {exc}") from exc
        if header.get("alg") != self.algorithm:
            # PyJWT refuses this too (algorithms=[...] below); say it plainly.
            raise AuthError(f"token algorithm {header.get('alg')!r} is not accepted")
        try:
            payload = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired", code=ErrorCode.TOKEN_EXPIRED) from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        typ = payload.get("typ")
        if typ != token_type:
            raise AuthError(f"expected a {token_type} token, got {typ!r}")
        role = payload.get("role")
        if role not in ROLES:
            raise AuthError(f"invalid role {role!r}")
        sub, room, jti, exp = (payload.get(k) for k in ("sub", "room", "jti", "exp"))
        if not all(isinstance(v, str) and v for v in (sub, room, jti)):
            raise AuthError("invalid token claims")
        if not isinstance(exp, int | float):
            raise AuthError("invalid exp claim")
        if room_id is not None and room != room_id:
            raise AuthError("token is for another room", code=ErrorCode.FORBIDDEN)
        return Claims(
            user_id=str(sub),
            room_id=str(room),
            role=role,
            token_type=token_type,
            jti=str(jti),
            expires_at=float(exp),
        )


def new_invite_secret() -> str:
    return secrets.token_urlsafe(24)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def admin_token_matches(presented: str | None, admin_token: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), admin_token.encode())


def bearer(header_value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or ``None``."""
    if not header_value:
        return None
    scheme, _, value = header_value.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
