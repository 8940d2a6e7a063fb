"""Signaling client, aiortc peer connections, data channels, stats, bitrate control."""
