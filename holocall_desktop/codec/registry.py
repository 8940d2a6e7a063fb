"""Codec registry: the one table of volumetric codecs, like aiortc's codec table.

Each row names a codec, the number that stands for it in the ``hello`` control message
(``docs/protocol.md``), how its payloads travel, and where its class lives. The codec modules
do not know the registry (no import cycle): their classes are imported from here on first use,
so that OpenCV, Pillow and zstd are imported only when a codec is needed. Adding a codec means one
module and one row here (plus its ``hello`` number in :class:`~.control.Codec`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from holocall_desktop.codec.base import (
    DATACHANNEL,
    VIDEOTRACK,
    CodecError,
    Decoder,
    Encoder,
    Quality,
    VolumetricCodec,
)
from holocall_desktop.codec.control import Codec


@dataclass(frozen=True)
class CodecEntry:
    name: str
    wire: Codec  # ``hello.codec``
    transport: str  # DATACHANNEL or VIDEOTRACK
    load: Callable[[], type[VolumetricCodec[Any]]]


def _volumetric_dc() -> type[VolumetricCodec[Any]]:
    from holocall_desktop.codec.volumetric import VolumetricDataChannelCodec

    return VolumetricDataChannelCodec


def _hue_video() -> type[VolumetricCodec[Any]]:
    from holocall_desktop.codec.videotrack import HueVideoCodec

    return HueVideoCodec


#: the built-in codecs; the first of each transport is that transport's default
TABLE: tuple[CodecEntry, ...] = (
    CodecEntry("volumetric-dc", Codec.VOLUMETRIC_DC, DATACHANNEL, _volumetric_dc),
    CodecEntry("hue-video", Codec.HUE_VIDEO, VIDEOTRACK, _hue_video),
)
DEFAULT = TABLE[0].name

_ENTRIES = {e.name: e for e in TABLE}
_LOADED: dict[str, type[VolumetricCodec[Any]]] = {}

C = TypeVar("C", bound=type[VolumetricCodec[Any]])


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make another codec available under ``name`` (plug-ins, tests). It has
    no ``hello`` number of its own: peers see it as :attr:`Codec.NONE`."""

    def wrap(cls: C) -> C:
        taken = _LOADED.get(name)
        if name in _ENTRIES or (taken is not None and taken is not cls):
            raise ValueError(f"codec name {name!r} is already taken")
        cls.name = name
        _LOADED[name] = cls
        return cls

    return wrap


def names() -> list[str]:
    """Codec names, sorted."""
    return sorted({*_ENTRIES, *_LOADED})


def get_codec(name: str) -> type[VolumetricCodec[Any]]:
    """The codec class called ``name``; :class:`CodecError` naming the others if none is."""
    cls = _LOADED.get(name)
    if cls is not None:
        return cls
    entry = _ENTRIES.get(name)
    if entry is None:
        raise CodecError(f"unknown codec {name!r}; available: {', '.join(names())}")
    cls = entry.load()
    cls.name = entry.name
    _LOADED[name] = cls
    return cls


def get_encoder(name: str, quality: Quality | None = None) -> Encoder[Any]:
    return get_codec(name).encoder(quality)


def get_decoder(name: str) -> Decoder[Any]:
    return get_codec(name).decoder()


def decoder_for_transport(transport: str) -> Decoder[Any]:
    """A decoder for what arrives on a data channel or a video track (the default codec of
    that transport), whatever codec this side sends with."""
    for entry in TABLE:
        if entry.transport == transport:
            return get_decoder(entry.name)
    raise CodecError(f"no codec travels as {transport!r}")


def wire_id(name: str | None) -> Codec:
    """The ``hello.codec`` number of ``name`` (``Codec.NONE`` for none or a plug-in)."""
    entry = _ENTRIES.get(name or "")
    return entry.wire if entry is not None else Codec.NONE


def name_of(wire: Codec) -> str | None:
    """The codec a ``hello.codec`` number stands for (``None`` for ``Codec.NONE``)."""
    return next((e.name for e in TABLE if e.wire == wire), None)
