#!/usr/bin/env bash
# macOS release step (documented in docs/packaging.md; run by packaging/ci/installers.yml when
# the signing secrets exist): sign dist/HoloCall.app with a Developer ID certificate and the
# hardened runtime, rebuild the .dmg around it, sign the .dmg, notarise it with Apple, staple.
# Environment: CERT_P12 (base64 of the .p12), CERT_PASSWORD, MACOS_SIGNING_IDENTITY
# ("Developer ID Application: NAME (TEAMID)"), APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD
# (an app-specific password).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CERT_P12:?}" "${CERT_PASSWORD:?}" "${MACOS_SIGNING_IDENTITY:?}"
: "${APPLE_ID:?}" "${APPLE_TEAM_ID:?}" "${APPLE_APP_PASSWORD:?}"
VERSION=$(python3 -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
KEYCHAIN=$PWD/build/signing.keychain-db
mkdir -p build
echo "$CERT_P12" | base64 --decode > build/cert.p12
security create-keychain -p ci "$KEYCHAIN"
security set-keychain-settings -lut 3600 "$KEYCHAIN"
security unlock-keychain -p ci "$KEYCHAIN"
security import build/cert.p12 -k "$KEYCHAIN" -P "$CERT_PASSWORD" -T /usr/bin/codesign
security set-key-partition-list -S apple-tool:,apple: -s -k ci "$KEYCHAIN" >/dev/null
security list-keychains -d user -s "$KEYCHAIN"
rm -f build/cert.p12
codesign --force --deep --options runtime --timestamp \
  --entitlements packaging/macos/entitlements.plist \
  --sign "$MACOS_SIGNING_IDENTITY" dist/HoloCall.app
codesign --verify --deep --strict --verbose=2 dist/HoloCall.app
DMG=dist/HoloCall-$VERSION.dmg
rm -f "$DMG"
hdiutil create -volname HoloCall -srcfolder dist/HoloCall.app -ov -format UDZO "$DMG"
codesign --sign "$MACOS_SIGNING_IDENTITY" --timestamp "$DMG"
xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
  --password "$APPLE_APP_PASSWORD" --wait
xcrun stapler staple "$DMG"
spctl --assess --type open --context context:primary-signature --verbose "$DMG"
echo "$DMG"
