#!/usr/bin/env bash
# Installs the .deb on a clean Debian root filesystem and runs the installed app there, headless
# and with no network but loopback:
#   1. debootstrap a minbase root (kept as build/smoke/SUITE-minbase.tar for the next run);
#   2. apt-get install the .deb there, so that its Depends resolve from the Debian mirror;
#   3. check the install: every bundled library finds its own, the desktop entry validates and
#      registers the holocall:// and holocalls:// handlers, the recording types are known;
#   4. run `holocall check` (OpenGL, and the bundled face model loaded and run) and
#      `holocall demo --screenshot` under Xvfb, in a network namespace with only loopback;
#   5. check the screenshot is a picture, not a blank window;
#   6. apt-get purge, and check nothing of the package is left.
# Needs root, debootstrap, unshare (util-linux) and ip (iproute2).
#   packaging/linux/smoke-test.sh [DEB]      (default: the newest dist/holocall_*_amd64.deb)
set -euo pipefail
cd "$(dirname "$0")/../.."
DEB=${1:-$(ls -t dist/holocall_*_amd64.deb 2>/dev/null | head -1)}
[ -f "$DEB" ] || { echo "smoke: no .deb (build it with packaging/build-installer.sh)" >&2; exit 1; }
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${SMOKE_CACHE:-build/smoke}
PY=${PY:-.venv/bin/python}
OUT=${SMOKE_OUT:-build/smoke/out}
WORK=$(mktemp -d /var/tmp/holocall-smoke.XXXXXX)
ROOT=$WORK/root
cleanup() {
  for m in dev/pts dev sys proc; do umount -l "$ROOT/$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { echo "smoke: $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
in_root() {
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

mkdir -p "$CACHE" "$OUT" "$ROOT"
if [ -f "$CACHE/$SUITE-minbase.tar" ]; then
  step "clean $SUITE root from $CACHE/$SUITE-minbase.tar"
  tar -C "$ROOT" -xf "$CACHE/$SUITE-minbase.tar"
else
  step "debootstrap --variant=minbase $SUITE from $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
  tar -C "$ROOT" -cf "$CACHE/$SUITE-minbase.tar.part" . && mv "$CACHE/$SUITE-minbase.tar.part" "$CACHE/$SUITE-minbase.tar"
fi
mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp "$DEB" "$ROOT/tmp/holocall.deb"

step "apt-get install $(basename "$DEB") (and xvfb to run it)"
in_root apt-get update -qq >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log"; fail "apt-get update"; }
in_root apt-get install -y -qq --no-install-recommends /tmp/holocall.deb xvfb xauth \
  desktop-file-utils shared-mime-info >>"$WORK/apt.log" 2>&1 \
  || { tail -30 "$WORK/apt.log"; fail "apt-get install"; }
in_root dpkg -L holocall >"$OUT/dpkg-L.txt"

step "every bundled library finds its dependencies"
# as the app's loader sees them: the bundle's own folders first (PyInstaller's bootloader does so)
in_root sh -c 'LD_LIBRARY_PATH=$(find /opt/holocall/_internal -maxdepth 1 -type d -name "*.libs" |
  tr "\n" ":")/opt/holocall/_internal; export LD_LIBRARY_PATH
  find /opt/holocall -type f \( -name "*.so" -o -name "*.so.*" -o -name holocall \) |
  while read -r f; do
    miss=$(ldd "$f" 2>/dev/null | awk "/not found/ {print \$1}" | sort -u | tr "\n" " ")
    [ -z "$miss" ] || echo "$f: $miss"
  done' >"$OUT/ldd-missing.txt"
[ ! -s "$OUT/ldd-missing.txt" ] || { cat "$OUT/ldd-missing.txt"; fail "libraries not found"; }

step "desktop entry, invite-link handlers, recording types"
in_root desktop-file-validate /usr/share/applications/holocall.desktop || fail "desktop entry"
for scheme in holocall holocalls; do
  in_root grep -q "^x-scheme-handler/$scheme=.*holocall.desktop" \
    /usr/share/applications/mimeinfo.cache || fail "no $scheme:// handler registered"
done
for type in x-rosbag x-ros2-sqlite3; do
  [ -f "$ROOT/usr/share/mime/application/$type.xml" ] || fail "MIME type application/$type unknown"
done
[ "$(in_root holocall --version)" = "holocall $("$PY" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')" ] \
  || fail "holocall --version"

step "holocall check and holocall demo --screenshot, under Xvfb, loopback only"
offline() {  # a network namespace with nothing but loopback
  unshare -n sh -c 'ip link set lo up && exec "$@"' sh chroot "$ROOT" /usr/bin/env -i \
    PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp/xdg "$@"
}
mkdir -p "$ROOT/tmp/xdg" && chmod 700 "$ROOT/tmp/xdg"
offline xvfb-run -a -s "-screen 0 1280x800x24" holocall check >"$OUT/check.txt" 2>"$OUT/check.err" \
  || { cat "$OUT/check.txt" "$OUT/check.err"; fail "holocall check"; }
cat "$OUT/check.txt"
grep -q "^face model  *ok " "$OUT/check.txt" || fail "the face model did not load"
offline xvfb-run -a -s "-screen 0 1280x800x24" holocall demo --screenshot /tmp/demo.png \
  >"$OUT/demo.out" 2>"$OUT/demo.err" || { tail -20 "$OUT/demo.err"; fail "holocall demo"; }
! grep -q Traceback "$OUT/demo.err" || { cat "$OUT/demo.err"; fail "a traceback in the demo"; }
cp "$ROOT/tmp/demo.png" "$OUT/demo.png"
"$PY" - "$OUT/demo.png" <<'PYEOF' || fail "the screenshot is blank"
import sys
import numpy as np
from PIL import Image
px = np.asarray(Image.open(sys.argv[1]).convert("RGB"), dtype=np.float32)
colours = len(np.unique(px.reshape(-1, 3)[::7].astype(np.uint8), axis=0))
print(f"smoke: screenshot {px.shape[1]}x{px.shape[0]}, {colours} colours, spread {px.std():.1f}")
sys.exit(0 if px.std() > 10 and colours > 200 else 1)
PYEOF

step "apt-get purge holocall leaves nothing behind"
in_root apt-get purge -y -qq holocall >>"$WORK/apt.log" 2>&1 || fail "apt-get purge"
left=""
while read -r path; do
  [ -z "$path" ] || [ "$path" = "/." ] && continue
  [ -e "$ROOT$path" ] && [ ! -d "$ROOT$path" ] && left="$left $path"
done <"$OUT/dpkg-L.txt"
[ ! -e "$ROOT/opt/holocall" ] || left="$left /opt/holocall"
[ -z "$left" ] || fail "left after purge:$left"
! in_root dpkg-query -W -f='${Status}' holocall 2>/dev/null | grep -q 'install ok installed' || fail "still installed"
size_kb=$(dpkg-deb -f "$DEB" Installed-Size)
step "passed: $(basename "$DEB") $(( $(stat -c %s "$DEB") / 1000000 )) MB, installed $(( size_kb / 1000 )) MB"
