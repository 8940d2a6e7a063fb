"""Volumetric codecs (data-channel and video-track), behind one interface with a registry.

``get_encoder("volumetric-dc")`` / ``get_decoder("hue-video")`` etc.; see ``docs/codec.md``.
The codec modules themselves (OpenCV, Pillow, zstd) load on first use of the registry.
"""

from holocall_desktop.codec.base import (
    MAX_MESSAGE_BYTES,
    CodecError,
    Decoder,
    Encoder,
    Quality,
    VolumetricCodec,
)
from holocall_desktop.codec.registry import get_codec, get_decoder, get_encoder, names, register

__all__ = [
    "MAX_MESSAGE_BYTES",
    "CodecError",
    "Decoder",
    "Encoder",
    "Quality",
    "VolumetricCodec",
    "get_codec",
    "get_decoder",
    "get_encoder",
    "names",
    "register",
]
