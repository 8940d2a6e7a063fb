; Inno Setup script for HoloCall Desktop (built by packaging/build-installer.sh on Windows from
; the PyInstaller folder dist\holocall). Per-user or all-users install (the user chooses), a
; Start-menu entry, holocall:// and holocalls:// invite links, "Open with" for .bag and .db3
; recordings; the uninstaller removes all of it.
#ifndef Version
  #define Version "0.0.0"
#endif
[Setup]
AppId={{6F2B3C1E-6C2D-4B7A-9E55-2D7C0C4B1A10}
AppName=HoloCall
AppVersion={#Version}
AppPublisher=HoloCall
DefaultDirName={autopf}\HoloCall
DefaultGroupName=HoloCall
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputDir=..\..\dist
OutputBaseFilename=HoloCall-{#Version}-setup
SetupIconFile=..\icons\holocall.ico
UninstallDisplayIcon={app}\holocall.exe
Compression=lzma2/ultra64
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
WizardStyle=modern

[Files]
Source: "..\..\dist\holocall\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\HoloCall"; Filename: "{app}\holocall.exe"
Name: "{autodesktop}\HoloCall"; Filename: "{app}\holocall.exe"; Tasks: desktopicon

[Tasks]
Name: desktopicon; Description: "Create a desktop shortcut"; Flags: unchecked

[Registry]
; invite links
Root: HKA; Subkey: "Software\Classes\holocall"; ValueType: string; ValueName: ""; ValueData: "URL:HoloCall invite link"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\holocall"; ValueType: string; ValueName: "URL Protocol"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\holocall\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\holocall.exe"",0"
Root: HKA; Subkey: "Software\Classes\holocall\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\holocall.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\holocalls"; ValueType: string; ValueName: ""; ValueData: "URL:HoloCall invite link (TLS)"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\holocalls"; ValueType: string; ValueName: "URL Protocol"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\holocalls\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\holocall.exe"",0"
Root: HKA; Subkey: "Software\Classes\holocalls\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\holocall.exe"" ""%1"""
; recordings: offered in "Open with", never taken over from another default
Root: HKA; Subkey: "Software\Classes\HoloCall.Recording"; ValueType: string; ValueName: ""; ValueData: "RealSense recording"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\HoloCall.Recording\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\holocall.exe"",0"
Root: HKA; Subkey: "Software\Classes\HoloCall.Recording\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\holocall.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\.bag\OpenWithProgids"; ValueType: string; ValueName: "HoloCall.Recording"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.db3\OpenWithProgids"; ValueType: string; ValueName: "HoloCall.Recording"; ValueData: ""; Flags: uninsdeletevalue
