"""The web-client tests use the call tests' signaling server and headless participants."""

from tests.transport.conftest import (  # noqa: F401 (fixtures)
    jwt_pem,
    loopback_ice,
    participants,
    signal_server,
)
from tests.ui.conftest import make_window, settings  # noqa: F401 (fixtures)
