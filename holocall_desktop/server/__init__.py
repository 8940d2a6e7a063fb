"""Signaling server (aiohttp): rooms, auth, limits, REST, TURN credentials, presence, metrics."""
