#!/usr/bin/env bash
# Wraps the PyInstaller folder app (dist/holocall, from packaging/build-installer.sh) into
# dist/holocall_VERSION_amd64.deb:
#   /opt/holocall/                     the app (its own Python, Qt, MediaPipe, the face model)
#   /usr/bin/holocall                  -> /opt/holocall/holocall
#   /usr/share/applications/holocall.desktop   launcher; holocall:// and holocalls:// links;
#                                      .bag and .db3 recordings
#   /usr/share/mime/packages/holocall.xml      the recording types
#   /usr/share/icons/hicolor/*/apps/holocall.png
# Depends are the system libraries the bundle does not carry (X11/xcb, OpenGL, PortAudio,
# libusb); apt resolves them. The desktop, MIME and icon caches are refreshed by the dpkg
# triggers of desktop-file-utils, shared-mime-info and the icon theme: no maintainer scripts.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=${VERSION:?set VERSION}
APP=dist/holocall
[ -x "$APP/holocall" ] || { echo "build-deb: $APP/holocall missing: build the app first" >&2; exit 1; }
ROOT=build/deb/holocall
rm -rf build/deb
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
  "$ROOT/usr/share/mime/packages" "$ROOT/usr/share/doc/holocall"
cp -a "$APP" "$ROOT/opt/holocall"
# Symbol tables out (about 130 MB: libmediapipe.so alone 128 -> 98 MB), except in what
# auditwheel patched (the *.libs folders, and modules whose RPATH points there): strip breaks
# those ("ELF load command address/offset not page-aligned" from numpy's OpenBLAS).
find "$ROOT/opt/holocall" -type f \( -name "*.so" -o -name "*.so.*" \) -not -path "*.libs/*" |
  while read -r lib; do
    readelf -d "$lib" 2>/dev/null | grep -Eq "R(UN)?PATH.*\.libs" || strip --strip-unneeded "$lib"
  done
ln -s /opt/holocall/holocall "$ROOT/usr/bin/holocall"
install -m 644 packaging/linux/holocall.desktop "$ROOT/usr/share/applications/holocall.desktop"
install -m 644 packaging/linux/holocall-mime.xml "$ROOT/usr/share/mime/packages/holocall.xml"
for size in 48 128 256 512; do
  dir="$ROOT/usr/share/icons/hicolor/${size}x${size}/apps"
  mkdir -p "$dir"
  "${PY:-.venv/bin/python}" - "$size" "$dir/holocall.png" <<'PYEOF'
import sys
from PIL import Image
size = int(sys.argv[1])
Image.open("packaging/icons/holocall.png").resize((size, size), Image.Resampling.LANCZOS).save(sys.argv[2])
PYEOF
done
cat > "$ROOT/usr/share/doc/holocall/copyright" <<TXT
HoloCall Desktop $VERSION. The bundled third-party components keep their own licences; their
notices are in /opt/holocall/_internal (the *.dist-info folders).
TXT
depends=$(grep -vE '^\s*(#|$)' packaging/linux/deb-depends.txt | paste -sd, | sed 's/,/, /g')
size_kb=$(du -sk "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CTRL
Package: holocall
Version: $VERSION
Architecture: amd64
Maintainer: HoloCall <maintainers@holocall.invalid>
Installed-Size: $size_kb
Depends: $depends
Recommends: pulseaudio | pipewire-pulse, desktop-file-utils, shared-mime-info, hicolor-icon-theme
Section: net
Priority: optional
Homepage: https://holocall.invalid
Description: Volumetric (3D) video calls
 HoloCall Desktop captures a person with a depth camera (Intel RealSense) or
 a recording, sends the hologram over WebRTC and draws everyone in a shared 3D
 room. Without a depth camera a participant is an avatar driven by the face.
CTRL
find "$ROOT" -type d -exec chmod 755 {} +
out="dist/holocall_${VERSION}_amd64.deb"
dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-xz}" --build "$ROOT" "$out" >/dev/null
echo "$out"
