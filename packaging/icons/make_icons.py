"""Draws HoloCall's icon (a person as a hologram of scan lines on a dark tile) at every size the
installers need: holocall.png (512 px, Linux), holocall.ico (Windows), holocall.icns (macOS).

    .venv/bin/python packaging/icons/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 1024  # drawn large, scaled down with antialiasing


def draw() -> Image.Image:
    s = SIZE
    tile = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(tile)
    d.rounded_rectangle((24, 24, s - 24, s - 24), radius=200, fill=(14, 22, 40, 255))
    # the person: head and shoulders as a mask, then shown through horizontal scan lines
    person = Image.new("L", (s, s), 0)
    p = ImageDraw.Draw(person)
    p.ellipse((s * 0.36, s * 0.17, s * 0.64, s * 0.49), fill=255)
    p.rounded_rectangle((s * 0.22, s * 0.55, s * 0.78, s * 0.98), radius=int(s * 0.2), fill=255)
    lines = np.zeros((s, s), np.uint8)
    for y in range(int(s * 0.15), int(s * 0.85), 22):
        lines[y : y + 13, :] = 255
    glyph = np.minimum(np.asarray(person), lines)
    glyph[int(s * 0.83) :, :] = 0
    mask = Image.fromarray(glyph)
    # colour: cyan to violet from top to bottom, with a soft glow
    ramp = np.linspace(0.0, 1.0, s)[:, None]
    rgb = np.zeros((s, s, 3), np.float32)
    rgb[..., 0] = 60 + 120 * ramp
    rgb[..., 1] = 230 - 140 * ramp
    rgb[..., 2] = 255
    colour = Image.fromarray(rgb.astype(np.uint8), "RGB").convert("RGBA")
    glow = colour.copy()
    glow.putalpha(mask.filter(ImageFilter.GaussianBlur(18)).point(lambda v: v * 0.7))
    colour.putalpha(mask)
    tile.alpha_composite(glow)
    tile.alpha_composite(colour)
    # the floor ring the hologram stands on
    d = ImageDraw.Draw(tile)
    d.ellipse((s * 0.2, s * 0.8, s * 0.8, s * 0.9), outline=(90, 220, 255, 255), width=14)
    return tile


def main() -> None:
    icon = draw()
    icon.resize((512, 512), Image.Resampling.LANCZOS).save(HERE / "holocall.png")
    icon.save(HERE / "holocall.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128),
                                             (256, 256)])  # fmt: skip
    icon.resize((512, 512), Image.Resampling.LANCZOS).save(HERE / "holocall.icns")


if __name__ == "__main__":
    main()
