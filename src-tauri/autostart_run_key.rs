//! "Start at login" on Windows: the value `TokenTray` under
//! `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`, which the installer
//! writes too. Written here rather than by tauri-plugin-autostart, whose
//! value leaves the program's path unquoted: with a space in the path
//! (`C:\Tools\Token Tray\...`) Windows would first try to run
//! `C:\Tools\Token.exe`, a file another user may be able to put there.
//! Task Manager's "Disable" (a value under `StartupApproved\Run` whose
//! first byte is odd) counts as off; turning it on clears that.

#![allow(unsafe_code)] // the registry calls; each block's SAFETY note says why it is sound

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;
use windows_sys::Win32::System::Registry::{
    RegDeleteKeyValueW, RegGetValueW, RegSetKeyValueW, HKEY_CURRENT_USER, REG_SZ, RRF_RT_REG_BINARY, RRF_RT_REG_SZ,
};

const RUN: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
const APPROVED: &str = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run";
const NAME: &str = "TokenTray";
const ERROR_FILE_NOT_FOUND: i32 = 2;

/// The command the value holds: this program, quoted, in the background.
fn command() -> std::io::Result<String> {
    Ok(format!("\"{}\" --background", std::env::current_exe()?.display()))
}

pub fn is_enabled() -> bool {
    let (key, name) = (wide(RUN), wide(NAME));
    let mut size = 0u32;
    // SAFETY: a size query of a value; nothing is written but `size`.
    let found = unsafe {
        RegGetValueW(
            HKEY_CURRENT_USER,
            key.as_ptr(),
            name.as_ptr(),
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut size,
        )
    } == 0;
    found && !disabled_in_task_manager()
}

fn disabled_in_task_manager() -> bool {
    let (key, name) = (wide(APPROVED), wide(NAME));
    let mut data = [0u8; 16];
    let mut size = data.len() as u32;
    // SAFETY: `data` holds `size` bytes; the strings are NUL-terminated.
    let read = unsafe {
        RegGetValueW(
            HKEY_CURRENT_USER,
            key.as_ptr(),
            name.as_ptr(),
            RRF_RT_REG_BINARY,
            std::ptr::null_mut(),
            data.as_mut_ptr().cast(),
            &mut size,
        )
    };
    read == 0 && size > 0 && data[0] % 2 == 1
}

pub fn set(on: bool) -> Result<(), String> {
    let (run, approved, name) = (wide(RUN), wide(APPROVED), wide(NAME));
    // Task Manager's "Disable" would outlast a tick: cleared either way.
    // SAFETY: the strings are NUL-terminated; a missing value is no error here.
    unsafe { RegDeleteKeyValueW(HKEY_CURRENT_USER, approved.as_ptr(), name.as_ptr()) };
    let status = if on {
        let value = wide(&command().map_err(|e| e.to_string())?);
        // SAFETY: the strings are NUL-terminated and outlive the call; the size is the value's, in bytes.
        unsafe {
            RegSetKeyValueW(
                HKEY_CURRENT_USER,
                run.as_ptr(),
                name.as_ptr(),
                REG_SZ,
                value.as_ptr().cast(),
                (value.len() * 2) as u32,
            )
        }
    } else {
        // SAFETY: the strings are NUL-terminated.
        match unsafe { RegDeleteKeyValueW(HKEY_CURRENT_USER, run.as_ptr(), name.as_ptr()) } as i32 {
            ERROR_FILE_NOT_FOUND => 0,
            other => other as u32,
        }
    };
    if status == 0 {
        Ok(())
    } else {
        Err(format!("the registry refused the Run value: {}", std::io::Error::from_raw_os_error(status as i32)))
    }
}

fn wide(text: &str) -> Vec<u16> {
    OsStr::new(text).encode_wide().chain(std::iter::once(0)).collect()
}

#[cfg(test)]
mod tests {
    /// On, off and on again, in this user's registry (Wine's, under test).
    #[test]
    fn the_run_value_is_quoted_and_the_tick_says_what_is_there() {
        let before = super::is_enabled();
        super::set(true).unwrap();
        assert!(super::is_enabled());
        super::set(false).unwrap();
        assert!(!super::is_enabled());
        super::set(false).unwrap();
        super::set(before).unwrap();
        assert!(super::command().unwrap().starts_with('"'));
    }
}
