"""TLS: the server on https:// and wss:// with a test CA's certificate; clients verify it."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import warnings
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.config import ConfigError
from holocall_desktop.transport.api import CallConfig, CallState
from holocall_desktop.transport.invite import format_invite, parse_invite
from tests.server.client import SignalClient
from tests.server.conftest import ServerFactory
from tests.transport.engines import engine


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A test CA, and a certificate it signed for 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("HoloCall test CA"))
        .issuer_name(_name("HoloCall test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(_pem_key(key))
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture
async def tls_server(make_server: ServerFactory, pki: dict[str, str]) -> SignalingServer:
    return await make_server(tls_cert=pki["cert"], tls_key=pki["key"])


async def test_rest_and_websocket_over_tls_1_3(
    tls_server: SignalingServer, pki: dict[str, str]
) -> None:
    assert tls_server.http_url.startswith("https://") and tls_server.ws_url.startswith("wss://")
    trust = ssl.create_default_context(cafile=pki["ca"])
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as http:
        async with http.post(f"{tls_server.http_url}/rooms", json={"userId": "alice"}) as r:
            assert r.status == 201
            room = await r.json()
        alice = await SignalClient.connect(http, tls_server.ws_url, room["accessToken"])
        state = await alice.join(room["roomId"], "alice")
        assert state["type"] == "room-state"
        await alice.close()
    assert await asyncio.to_thread(_handshake, trust, tls_server.port) == "TLSv1.3"


async def test_tls_1_1_is_refused(tls_server: SignalingServer, pki: dict[str, str]) -> None:
    old = ssl.create_default_context(cafile=pki["ca"])
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # this client would speak TLS 1.1 if allowed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1_1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        await asyncio.to_thread(_handshake, old, tls_server.port)


def _handshake(context: ssl.SSLContext, port: int) -> str | None:
    """A blocking TLS handshake (in a thread: the server runs on the test's event loop)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


async def test_an_unknown_certificate_is_refused_by_clients(tls_server: SignalingServer) -> None:
    async with aiohttp.ClientSession() as http:  # the system's trust store
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(f"{tls_server.http_url}/health")


def test_the_call_engine_verifies_the_server(
    make_threaded_tls_server: SignalingServer, pki: dict[str, str]
) -> None:
    server = make_threaded_tls_server
    trusted = CallConfig(
        server=server.http_url, user_id="host", display_name="Host", create_room=True,
        ca_file=pki["ca"],
    )  # fmt: skip
    with engine(trusted) as (_host, rec):
        rec.wait_state(CallState.JOINED)
    untrusted = CallConfig(
        server=server.http_url, user_id="other", display_name="Other", create_room=True
    )
    with engine(untrusted) as (_other, rec):
        message = rec.wait_state(CallState.FAILED)
    assert "certificate is not trusted" in message and "--ca-file" in message


@pytest.fixture
def make_threaded_tls_server(base_config: object, pki: dict[str, str]) -> object:
    from tests.server.test_protocol import ThreadedServer

    config = base_config.replace(  # type: ignore[attr-defined]
        tls_cert=pki["cert"], tls_key=pki["key"], connection_cooldown=0
    )
    with ThreadedServer(config) as server:
        yield server


def test_invite_links_of_a_tls_server_are_holocalls() -> None:
    link = format_invite("https://calls.example.org:8443", "room1", "secret-123456")
    assert link.startswith("holocalls://calls.example.org:8443/room1")
    assert parse_invite(link).server == "https://calls.example.org:8443"


def test_half_a_tls_configuration_is_a_clear_error(
    base_config: object, pki: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="both --tls-cert and --tls-key"):
        base_config.replace(tls_cert=pki["cert"]).validate()  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="not found"):
        base_config.replace(  # type: ignore[attr-defined]
            tls_cert=str(tmp_path / "none.pem"), tls_key=pki["key"]
        ).validate()
