"""The codec registry."""

from __future__ import annotations

import pytest

from holocall_desktop.codec import registry
from holocall_desktop.codec.base import CodecError, Quality, VolumetricCodec


def test_builtin_codecs_are_registered() -> None:
    assert {"volumetric-dc", "hue-video"} <= set(registry.names())
    assert registry.get_codec("volumetric-dc").transport == "datachannel"
    assert registry.get_codec("hue-video").transport == "videotrack"


def test_unknown_codec_names_the_available_ones() -> None:
    with pytest.raises(CodecError, match="volumetric-dc"):
        registry.get_codec("octree")


def test_a_name_can_not_be_taken_twice() -> None:
    with pytest.raises(ValueError, match="taken"):

        @registry.register("volumetric-dc")
        class Other(VolumetricCodec[bytes]):  # pragma: no cover - never instantiated
            transport = "datachannel"


def test_quality_is_validated() -> None:
    with pytest.raises(ValueError):
        Quality(decimation=0)
    with pytest.raises(ValueError):
        Quality(color_format="png")
    assert registry.get_encoder("volumetric-dc", Quality(decimation=2)).quality.decimation == 2
