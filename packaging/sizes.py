"""Sizes of an installed or built HoloCall folder app by component, largest first (Markdown).

    .venv/bin/python packaging/sizes.py build/deb/holocall/opt/holocall [dist/holocall_*.deb]

A component is a top-level entry of ``_internal/``; a wheel's ``NAME.libs`` folder (the shared
libraries auditwheel bundled with it) counts with ``NAME``, and loose shared libraries are
grouped by their name up to the first dot.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path


def _size(path: Path) -> int:
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def components(app: Path) -> Counter[str]:
    internal = app / "_internal"
    sizes: Counter[str] = Counter()
    for entry in internal.iterdir():
        name = entry.name
        if name.endswith(".libs"):
            name = name.removesuffix(".libs")
            name = "opencv (cv2)" if name.startswith("opencv") else name
        elif name == "cv2":
            name = "opencv (cv2)"
        elif name.endswith(".dist-info"):
            name = "licences and metadata (*.dist-info)"
        elif entry.is_file() and ".so" in name:
            name = "system libraries: " + re.sub(r"\.so.*$", "", name)
        sizes[name] += _size(entry)
    sizes["holocall (executable)"] += sum(_size(p) for p in app.iterdir() if p.is_file())
    return sizes


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    app = Path(argv[0])
    sizes = components(app)
    total = sum(sizes.values())
    print("| Component | MB | Share |\n|---|---|---|")
    small = 0
    for name, size in sizes.most_common():
        if size < 3_000_000:
            small += size
            continue
        print(f"| {name} | {size / 1e6:.0f} | {100 * size / total:.0f} % |")
    print(
        f"| everything under 3 MB each ({len([1 for s in sizes.values() if s < 3e6])}) "
        f"| {small / 1e6:.0f} | {100 * small / total:.0f} % |"
    )
    print(f"| **total, unpacked** | **{total / 1e6:.0f}** | |")
    for deb in argv[1:]:
        print(f"| **{Path(deb).name}** (xz) | **{Path(deb).stat().st_size / 1e6:.0f}** | |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
