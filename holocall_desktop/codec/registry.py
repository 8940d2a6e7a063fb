"""Codec registry: name -> codec class, like aiortc's codec table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from holocall_desktop.codec.base import CodecError, Decoder, Encoder, Quality, VolumetricCodec

_CODECS: dict[str, type[VolumetricCodec[Any]]] = {}

C = TypeVar("C", bound=type[VolumetricCodec[Any]])


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make a codec available under ``name``."""

    def wrap(cls: C) -> C:
        if name in _CODECS and _CODECS[name] is not cls:
            raise ValueError(f"codec name {name!r} is already taken by {_CODECS[name].__name__}")
        cls.name = name
        _CODECS[name] = cls
        return cls

    return wrap


def names() -> list[str]:
    """Registered codec names, sorted."""
    _load_builtin()
    return sorted(_CODECS)


def get_codec(name: str) -> type[VolumetricCodec[Any]]:
    """The codec class registered as ``name``; :class:`CodecError` if there is none."""
    _load_builtin()
    try:
        return _CODECS[name]
    except KeyError:
        raise CodecError(
            f"unknown codec {name!r}; available: {', '.join(sorted(_CODECS))}"
        ) from None


def get_encoder(name: str, quality: Quality | None = None) -> Encoder[Any]:
    return get_codec(name).encoder(quality)


def get_decoder(name: str) -> Decoder[Any]:
    return get_codec(name).decoder()


def _load_builtin() -> None:
    # importing the modules runs their @register decorators
    from holocall_desktop.codec import videotrack, volumetric  # noqa: F401
