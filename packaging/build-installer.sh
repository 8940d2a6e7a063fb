#!/usr/bin/env bash
# Builds the installer for the OS it runs on, from a checkout set up with scripts/setup.sh:
#   Linux   -> dist/holocall-VERSION-linux-x86_64.tar.gz (folder app + .desktop file)
#   macOS   -> dist/HoloCall-VERSION.dmg
#   Windows -> dist/HoloCall-VERSION-setup.exe (Inno Setup, packaging/windows/holocall.iss)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=.venv/Scripts/python.exe
VERSION=$("$PY" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
"$PY" -m pip install -q "pyinstaller>=6.5"
"$PY" -m holocall_desktop.avatar.model_files install
"$PY" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/holocall.spec
case "$(uname -s)" in
  Linux)
    cp packaging/linux/holocall.desktop dist/holocall/
    tar -C dist -czf "dist/holocall-$VERSION-linux-x86_64.tar.gz" holocall
    echo "dist/holocall-$VERSION-linux-x86_64.tar.gz" ;;
  Darwin)
    hdiutil create -volname HoloCall -srcfolder dist/HoloCall.app -ov -format UDZO "dist/HoloCall-$VERSION.dmg"
    echo "dist/HoloCall-$VERSION.dmg" ;;
  MINGW*|MSYS*|CYGWIN*)
    iscc "/DVersion=$VERSION" packaging/windows/holocall.iss
    echo "dist/HoloCall-$VERSION-setup.exe" ;;
esac
