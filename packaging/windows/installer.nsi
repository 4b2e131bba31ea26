; TokenTray's Windows installer, built on Linux with Debian's makensis and
; only the plugins and headers NSIS ships (Tauri's own NSIS bundling
; downloads plugin DLLs from GitHub while it bundles). Per user, no
; administrator: the program goes to %LOCALAPPDATA%\Programs\TokenTray.
;
; scripts/package-windows.sh passes:
;   /DVERSION=0.1.0  /DSTAGE=<folder with the files>  /DOUTFILE=<installer path>
;
; What it does: the tray (tokentray-tray.exe, with WebView2Loader.dll
; beside it, which the gnu target needs), the CLI (tokentray.exe) on the
; user's PATH, a Start-menu entry, start at login (the registry's Run key,
; the value the tray's own "Start at login" reads and writes), the
; WebView2 runtime where it is missing (Microsoft's bootstrapper, fetched
; over https by PowerShell: NSIS's own downloader has no https), and an
; uninstaller that leaves the user's config (%APPDATA%\tokentray), data
; (%LOCALAPPDATA%\tokentray) and credentials (Credential Manager).

Unicode true
!include "MUI2.nsh"
!include "StrFunc.nsh"
!include "WinMessages.nsh"
${StrLoc}
${UnStrRep}

!ifndef VERSION
  !error "pass /DVERSION=..."
!endif
!ifndef STAGE
  !error "pass /DSTAGE=<folder holding the files to install>"
!endif
!ifndef OUTFILE
  !define OUTFILE "TokenTray-${VERSION}-setup.exe"
!endif

!define NAME "TokenTray"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\TokenTray"
!define TOAST_KEY "Software\Classes\AppUserModelId\dev.tokentray.app"
; WebView2's client id (Microsoft's docs: "Detect if a WebView2 Runtime is already installed").
!define WEBVIEW2_CLIENT "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
!define WEBVIEW2_BOOTSTRAPPER "https://go.microsoft.com/fwlink/p/?LinkId=2124703"

Name "${NAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\TokenTray"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel user
SetCompressor /SOLID lzma
Icon "${STAGE}\icon.ico"
UninstallIcon "${STAGE}\icon.ico"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${NAME}"
VIAddVersionKey "FileDescription" "TokenTray: keeps broker and OAuth API tokens alive"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "MIT OR Apache-2.0"

!define MUI_ICON "${STAGE}\icon.ico"
!define MUI_UNICON "${STAGE}\icon.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\tokentray-tray.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start TokenTray"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; A running tray holds its files: asked to close first (its windows get
; WM_CLOSE), then ended. Its journal keeps a token a renewal had in hand.
!macro StopTray
  nsExec::Exec 'taskkill /IM tokentray-tray.exe'
  Sleep 1500
  nsExec::Exec 'taskkill /F /IM tokentray-tray.exe'
!macroend

Section "TokenTray" SecMain
  SectionIn RO
  !insertmacro StopTray
  SetOutPath "$INSTDIR"
  File "${STAGE}\tokentray-tray.exe"
  File "${STAGE}\tokentray.exe"
  File "${STAGE}\WebView2Loader.dll"
  File "${STAGE}\icon.png"
  File "${STAGE}\icon.ico"
  File "${STAGE}\README.txt"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortCut "$SMPROGRAMS\TokenTray.lnk" "$INSTDIR\tokentray-tray.exe" "" "$INSTDIR\icon.ico"

  ; The CLI on the user's PATH, once. Whole entries are compared (";" on
  ; both sides), so C:\X\TokenTray-dev is not taken for C:\X\TokenTray. A
  ; PATH longer than NSIS reads (1,024 characters) is left alone, never
  ; cut: the README says how to add the folder by hand.
  ClearErrors
  ReadRegStr $0 HKCU "Environment" "Path"
  IfErrors 0 path_read
    ; Empty with an error: no Path value yet, or one too long to read.
    StrCpy $2 0
    path_scan:
      EnumRegValue $1 HKCU "Environment" $2
      StrCmp $1 "" path_read
      StrCmp $1 "Path" path_too_long
      IntOp $2 $2 + 1
      Goto path_scan
  path_read:
  ${StrLoc} $1 ";$0;" ";$INSTDIR;" ">"
  StrCmp $1 "" 0 path_done
    StrCmp $0 "" 0 +3
      WriteRegExpandStr HKCU "Environment" "Path" "$INSTDIR"
      Goto path_told
    WriteRegExpandStr HKCU "Environment" "Path" "$0;$INSTDIR"
    Goto path_told
  path_too_long:
    DetailPrint "Your PATH is longer than this installer reads: add $INSTDIR to it yourself"
    Goto path_done
  path_told:
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
  path_done:

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "TokenTray"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\icon.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Start at login" SecAutostart
  WriteRegStr HKCU "${RUN_KEY}" "${NAME}" '"$INSTDIR\tokentray-tray.exe" --background'
SectionEnd

; The window needs Microsoft's WebView2 runtime (Windows 11 has it, and
; Windows 10 since 20H2); the tray and the CLI do not.
Section "WebView2 runtime (if missing)" SecWebView2
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 webview2_done
  ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 webview2_done
  DetailPrint "Installing Microsoft's WebView2 runtime"
  nsExec::ExecToLog 'powershell -NoProfile -ExecutionPolicy Bypass -Command "Invoke-WebRequest -UseBasicParsing -Uri ''${WEBVIEW2_BOOTSTRAPPER}'' -OutFile ''$TEMP\MicrosoftEdgeWebview2Setup.exe''"'
  Pop $1
  StrCmp $1 "0" 0 webview2_failed
  ExecWait '"$TEMP\MicrosoftEdgeWebview2Setup.exe" /silent /install' $1
  Delete "$TEMP\MicrosoftEdgeWebview2Setup.exe"
  StrCmp $1 "0" webview2_done webview2_failed
  webview2_failed:
    DetailPrint "WebView2 could not be installed ($1): the tray works; the window needs it (https://developer.microsoft.com/microsoft-edge/webview2/)"
  webview2_done:
SectionEnd

Section "Uninstall"
  !insertmacro StopTray
  Delete "$INSTDIR\tokentray-tray.exe"
  Delete "$INSTDIR\tokentray.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\icon.png"
  Delete "$INSTDIR\icon.ico"
  Delete "$INSTDIR\README.txt"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\TokenTray.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${NAME}"
  DeleteRegKey HKCU "${TOAST_KEY}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ; Only the whole entry this installer added; a PATH too long to read
  ; whole is left as it is.
  ClearErrors
  ReadRegStr $0 HKCU "Environment" "Path"
  IfErrors path_kept
  ${UnStrRep} $0 ";$0;" ";$INSTDIR;" ";"
  ; The ";" added on both sides, taken off again.
  StrCpy $0 $0 "" 1
  StrCpy $0 $0 -1
  StrCmp $0 "" 0 +3
    DeleteRegValue HKCU "Environment" "Path"
    Goto +2
  WriteRegExpandStr HKCU "Environment" "Path" "$0"
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
  path_kept:
  ; Left on purpose: %APPDATA%\tokentray (the config), %LOCALAPPDATA%\tokentray
  ; (state, journal, logs) and the Credential Manager's entries (secrets,
  ; tokens): a reinstall finds the accounts as they were.
SectionEnd
