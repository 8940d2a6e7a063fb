"""A video file to share as a screen in tests: four coloured quadrants that swap halfway."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

#: the quadrants' colours (top-left, top-right, bottom-left, bottom-right), before the swap
QUADRANTS = ((220, 30, 30), (30, 200, 40), (30, 40, 220), (235, 235, 235))


def quadrant_picture(width: int, height: int, swapped: bool = False) -> npt.NDArray[np.uint8]:
    image = np.empty((height, width, 3), np.uint8)
    colours = QUADRANTS[::-1] if swapped else QUADRANTS
    h2, w2 = height // 2, width // 2
    for i, (ys, xs) in enumerate(
        (
            (slice(0, h2), slice(0, w2)),
            (slice(0, h2), slice(w2, None)),
            (slice(h2, None), slice(0, w2)),
            (slice(h2, None), slice(w2, None)),
        )
    ):
        image[ys, xs] = colours[i]
    return image


def make_screen_video(
    path: Path, seconds: float = 2.0, size: tuple[int, int] = (640, 360), fps: int = 20
) -> Path:
    """A VP8 WebM of ``seconds``: the quadrants, swapped (reversed) from the second half on."""
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        count = round(seconds * fps)
        for n in range(count):
            picture = quadrant_picture(width, height, swapped=n >= count // 2)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def quadrant_colours(image: npt.NDArray[np.uint8]) -> list[tuple[int, int, int]]:
    """The mean colour of each quadrant's inner half (away from edges VP8 blurs)."""
    h, w = image.shape[:2]
    out = []
    for y0, x0 in ((0, 0), (0, w // 2), (h // 2, 0), (h // 2, w // 2)):
        inner = image[y0 + h // 8 : y0 + 3 * h // 8, x0 + w // 8 : x0 + 3 * w // 8]
        mean = inner.reshape(-1, 3).mean(axis=0)
        out.append((int(mean[0]), int(mean[1]), int(mean[2])))
    return out


def shows_quadrants(image: npt.NDArray[np.uint8], tolerance: int = 40) -> str | None:
    """``plain`` or ``swapped`` when ``image`` shows the quadrants (within ``tolerance``),
    else None."""
    got = quadrant_colours(image)
    for name, want in (("plain", QUADRANTS), ("swapped", QUADRANTS[::-1])):
        if all(
            max(abs(a - b) for a, b in zip(g, c, strict=True)) <= tolerance
            for g, c in zip(got, want, strict=True)
        ):
            return name
    return None
