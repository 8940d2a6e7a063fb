; Inno Setup script for HoloCall Desktop (built by packaging/build-installer.sh on Windows)
#ifndef Version
  #define Version "0.0.0"
#endif
[Setup]
AppName=HoloCall
AppVersion={#Version}
AppPublisher=HoloCall
DefaultDirName={autopf}\HoloCall
DefaultGroupName=HoloCall
OutputDir=..\..\dist
OutputBaseFilename=HoloCall-{#Version}-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "..\..\dist\holocall\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\HoloCall"; Filename: "{app}\holocall.exe"
Name: "{autodesktop}\HoloCall"; Filename: "{app}\holocall.exe"; Tasks: desktopicon

[Tasks]
Name: desktopicon; Description: "Create a desktop shortcut"; Flags: unchecked
