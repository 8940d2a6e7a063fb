#!/usr/bin/env bash
# Builds the installer for the OS it runs on, in its own virtual environment (build/venv) with
# only what the app runs on (no test tools):
#   Linux   -> dist/holocall_VERSION_amd64.deb (packaging/linux/build-deb.sh)
#   macOS   -> dist/HoloCall-VERSION.dmg
#   Windows -> dist/HoloCall-VERSION-setup.exe (Inno Setup, packaging/windows/holocall.iss)
# The one-folder app it wraps is dist/holocall (dist/HoloCall.app on macOS).
set -euo pipefail
cd "$(dirname "$0")/.."
HOST_PY=${PYTHON:-python3}
VENV=build/venv
[ -x "$VENV/bin/python" ] || [ -x "$VENV/Scripts/python.exe" ] || "$HOST_PY" -m venv "$VENV"
PY=$VENV/bin/python
[ -x "$PY" ] || PY=$VENV/Scripts/python.exe
VERSION=$("$PY" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q "pyinstaller>=6.5" .
# MediaPipe asks for opencv-contrib-python, the GUI build (Qt 5 and more inside: ~200 MB).
# HoloCall's headless OpenCV gives MediaPipe everything it calls: keep only that one (both
# install the same cv2 package, so the headless one is put back after the other is removed).
if "$PY" -m pip show -q opencv-contrib-python >/dev/null 2>&1; then
  "$PY" -m pip uninstall -y -q opencv-contrib-python
  "$PY" -m pip install -q --force-reinstall --no-deps opencv-python-headless
fi
"$PY" -m holocall_desktop.avatar.model_files install
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
  packaging/holocall.spec
case "$(uname -s)" in
  Linux)
    VERSION=$VERSION PY=$PY packaging/linux/build-deb.sh ;;
  Darwin)
    hdiutil create -volname HoloCall -srcfolder dist/HoloCall.app -ov -format UDZO "dist/HoloCall-$VERSION.dmg"
    echo "dist/HoloCall-$VERSION.dmg" ;;
  MINGW*|MSYS*|CYGWIN*)
    ISCC=${ISCC:-$(command -v iscc || echo "/c/Program Files (x86)/Inno Setup 6/ISCC.exe")}
    "$ISCC" "/DVersion=$VERSION" packaging/windows/holocall.iss
    echo "dist/HoloCall-$VERSION-setup.exe" ;;
esac
