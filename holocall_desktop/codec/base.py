"""The codec interface shared by the data-channel and video-track volumetric codecs.

A codec turns one :class:`~holocall_desktop.model.DepthFrame` into *payloads* and back:

- data-channel codecs produce ``bytes`` messages, each at most :data:`MAX_MESSAGE_BYTES` long,
  sent unordered and unreliably; the decoder is fed every message as it arrives and returns a
  frame once all messages of one frame are in;
- video-track codecs produce one packed RGB image (``uint8`` ``(H, W, 3)``) per frame, which the
  transport wraps in an ``av.VideoFrame`` for a VP8/H.264 track; the decoder takes the decoded RGB
  image back.

Encoders are driven by a :class:`Quality` that a bitrate controller may change between frames.
Decoders never crash on bad input: anything malformed raises :class:`CodecError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from holocall_desktop.model import DepthFrame

#: aiortc's limit on one data-channel message (SCTP ``max_message_size`` it advertises).
MAX_MESSAGE_BYTES = 65536
#: how a codec's payloads travel: messages on the ``hologram`` data channel, or a video track
DATACHANNEL = "datachannel"
VIDEOTRACK = "videotrack"

PayloadT = TypeVar("PayloadT", bytes, npt.NDArray[np.uint8])


class CodecError(ValueError):
    """Input a decoder cannot accept: corrupt, truncated, wrong version, or inconsistent."""


@dataclass(frozen=True)
class Quality:
    """The knobs a bitrate controller turns.

    - ``decimation``: send every n-th depth pixel in both directions (1 = full resolution); the
      decoded frame has the decimated size and correspondingly scaled intrinsics (points budget).
    - ``depth_step_at_1m``: depth quantisation step in metres at 1 m. Depth is quantised uniformly
      in inverse depth, so the step grows as z², like a stereo camera's own error; see
      :func:`holocall_desktop.codec.depthcode.realsense_step_at_1m` for a step derived from the
      sensor. Steps finer than one depth unit keep depth exactly.
    - ``color_quality``: quality 1..100 of the colour image (data-channel codec).
    - ``color_format``: ``"webp"`` (about half the bytes of JPEG at the same PSNR, ~3 ms more to
      encode) or ``"jpeg"`` (fastest).
    - ``color_scale``: resize factor of the colour image before coding, in (0, 1].
    - ``max_fps``: frames closer together than ``1 / max_fps`` are skipped by the encoder.
    """

    decimation: int = 1
    depth_step_at_1m: float = 0.0037
    color_quality: int = 70
    color_format: str = "webp"
    color_scale: float = 1.0
    max_fps: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.decimation <= 8:
            raise ValueError(f"decimation must be 1..8, got {self.decimation}")
        if not 0.0 < self.depth_step_at_1m <= 0.1:
            raise ValueError(f"depth_step_at_1m must be in (0, 0.1] m, got {self.depth_step_at_1m}")
        if not 1 <= self.color_quality <= 100:
            raise ValueError(f"color_quality must be 1..100, got {self.color_quality}")
        if self.color_format not in ("webp", "jpeg"):
            raise ValueError(f"color_format must be 'webp' or 'jpeg', got {self.color_format!r}")
        if not 0.05 <= self.color_scale <= 1.0:
            raise ValueError(f"color_scale must be in [0.05, 1], got {self.color_scale}")
        if not self.max_fps > 0:
            raise ValueError(f"max_fps must be positive, got {self.max_fps}")


class FrameRateLimiter:
    """Skips frames that come sooner than ``1 / max_fps`` after the last one sent."""

    def __init__(self) -> None:
        self._last: float | None = None

    def due(self, timestamp: float, max_fps: float) -> bool:
        # a small tolerance so that 30 fps input is not thinned by clock jitter at max_fps=30
        if self._last is not None and 0.0 <= timestamp - self._last < 0.9 / max_fps:
            return False
        self._last = timestamp
        return True


class Encoder(ABC, Generic[PayloadT]):
    """Encodes frames of one stream. Not thread-safe: one encoder per sending thread."""

    def __init__(self, quality: Quality | None = None) -> None:
        self.quality = quality or Quality()
        self._limiter = FrameRateLimiter()

    def encode(self, frame: DepthFrame) -> list[PayloadT]:
        """The payloads of ``frame``; empty when ``quality.max_fps`` says to skip this frame."""
        if not self._limiter.due(frame.timestamp, self.quality.max_fps):
            return []
        return self._encode(frame)

    @abstractmethod
    def _encode(self, frame: DepthFrame) -> list[PayloadT]: ...


class Decoder(ABC, Generic[PayloadT]):
    """Decodes the payloads of one stream, in two steps so that a transport can keep the cheap
    one on its event loop and run the costly one in a thread pool:

    - :meth:`assemble` collects payloads (fragment reassembly) and returns a whole frame's
      data once it is complete; cheap, stateful, called in arrival order on one thread;
    - :meth:`decode_whole` turns that data into a frame; costly and stateless, so it may run on
      any thread, several at a time.
    """

    def assemble(self, payload: PayloadT) -> PayloadT | None:
        """Feed one payload; a whole frame's data when one is complete, else ``None``. The
        default: every payload is a whole frame. Raises :class:`CodecError` for input that can
        never be part of a valid frame."""
        return payload

    @property
    def pending(self) -> int:
        """Frames :meth:`assemble` holds in part (neither complete nor given up yet)."""
        return 0

    @abstractmethod
    def decode_whole(self, whole: PayloadT) -> DepthFrame:
        """Decode what :meth:`assemble` returned; :class:`CodecError` if it is malformed."""

    def decode(self, payload: PayloadT) -> DepthFrame | None:
        """Both steps: a frame when ``payload`` completes one, else ``None``."""
        whole = self.assemble(payload)
        return None if whole is None else self.decode_whole(whole)


class VolumetricCodec(ABC, Generic[PayloadT]):
    """A named codec: a factory of encoders and decoders (see :mod:`.registry`)."""

    #: registry name, e.g. ``"volumetric-dc"`` (set by :mod:`.registry` from its table)
    name: ClassVar[str]
    #: :data:`DATACHANNEL` (payloads are ``bytes``) or :data:`VIDEOTRACK` (RGB images)
    transport: ClassVar[str]

    @classmethod
    @abstractmethod
    def encoder(cls, quality: Quality | None = None) -> Encoder[PayloadT]: ...

    @classmethod
    @abstractmethod
    def decoder(cls) -> Decoder[PayloadT]: ...
