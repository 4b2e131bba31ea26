//! Files on Windows: access lists instead of modes (`access.rs`), a rename
//! retried under the sharing rules, processes asked by handle, the shell.
//!
//! Owner-only is a protected access list granting this user alone (the
//! inherited entries of the profile folder, Administrators and SYSTEM among
//! them, are cut off), on the data directory (inherited) and on every new
//! file (Wine inherits nothing), as 0600 files in a 0700 directory. A sink
//! file TokenTray replaces keeps the list the old one had.

#![allow(unsafe_code)] // calls into the Win32 API; each block's SAFETY note says why it is sound

mod access;

use access::{access_list_of, owned_by_us, set_access_list};
pub use access::{current_user_sid, owner_of, Inherit, OwnerOnly};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION,
    ERROR_USER_MAPPED_FILE, HANDLE,
};
use windows_sys::Win32::Security::PSECURITY_DESCRIPTOR;
use windows_sys::Win32::System::Threading::{GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION};
use windows_sys::Win32::UI::Shell::ShellExecuteW;
use windows_sys::Win32::UI::WindowsAndMessaging::SW_SHOWNORMAL;

/// What an existing file had that its replacement keeps: its access list
/// (as a kept mode on Unix), so a sink shared on purpose stays shared.
pub(crate) struct Existing {
    /// The self-relative security descriptor holding the access list.
    descriptor: Vec<u64>,
}

pub(crate) fn existing_file(path: &Path) -> io::Result<Option<Existing>> {
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file; TokenTray writes only regular files", path.display()),
        )),
        // Another user's file (in a folder others may write, as `C:\bots`)
        // is not ours to replace, nor its access list ours to copy.
        Ok(_) if !owned_by_us(path)? => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user; TokenTray writes only files of yours", path.display()),
        )),
        Ok(m) if m.permissions().readonly() => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is read-only; clear its read-only attribute", path.display()),
        )),
        Ok(_) => Ok(Some(Existing { descriptor: access_list_of(path)? })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The replaced file's access list on the new one (a user's sink, shared
/// on purpose, stays shared); TokenTray's own files (`new_mode` `None`)
/// and new files keep the owner-only list they were made with (as 0600 on
/// Unix, whatever an older file had).
pub(crate) fn keep_what_was(
    _: &File,
    path: &Path,
    existing: Option<&Existing>,
    new_mode: Option<u32>,
) -> io::Result<()> {
    match (existing, new_mode) {
        (Some(existing), Some(_)) => set_access_list(path, existing.descriptor.as_ptr() as PSECURITY_DESCRIPTOR, false),
        _ => Ok(()),
    }
}

/// A new file only this user can open, whatever its folder gives (private
/// while it is written, as 0600 on Unix; Wine keeps no inheritance). Made
/// with no sharing, so nobody the folder's list lets in can open it in
/// the moment before its own list is set and keep the handle.
pub(crate) fn open_new_private(path: &Path) -> io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt;
    let file = OpenOptions::new().write(true).create_new(true).share_mode(0).open(path)?;
    let owner_only = OwnerOnly::new(Inherit::Nothing)?;
    if let Err(e) = set_access_list(path, owner_only.raw(), true) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

/// New directories inherit their parent's access list; the data directory
/// is then given its own ([`tighten_private_dir`]).
pub(crate) fn private_dir_options(_: &mut fs::DirBuilder) {}

/// Nothing to add: the data directory's access list is inherited.
pub(crate) fn open_private_options(_: &mut OpenOptions) {}

/// The standard library opens with read, write and delete sharing already:
/// reading a user's file never keeps TokenTray's own writers, or theirs, out.
pub(crate) fn read_options(_: &mut OpenOptions) {}

/// Moves the finished temporary file over the target. The standard
/// library's rename asks for POSIX semantics first (Windows 10 1709 and
/// later): a reader that opened the target with delete sharing (Rust's
/// default) keeps reading the old file and does not block the swap. One
/// that holds it without delete sharing (Python's `open()`, .NET's
/// defaults) makes Windows refuse: retried with growing pauses for
/// [`super::REPLACE_PATIENCE`], then reported as locked. Where POSIX
/// semantics are missing the library falls back to `MoveFileExW`, retried
/// the same way. The target keeps its old content whole all the while.
///
/// Not `ReplaceFileW`: one of its documented failures
/// (`ERROR_UNABLE_TO_MOVE_REPLACEMENT`) leaves no file under the target's
/// name, which a bot reading at that moment would see as no token at all.
pub(crate) fn replace(tmp: &Path, target: &Path, _existed: bool) -> io::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let error = match fs::rename(tmp, target) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let held = error.raw_os_error().is_some_and(|code| {
            matches!(
                code as u32,
                ERROR_SHARING_VIOLATION | ERROR_ACCESS_DENIED | ERROR_LOCK_VIOLATION | ERROR_USER_MAPPED_FILE
            )
        });
        if !held {
            return Err(error);
        }
        if started.elapsed() >= super::REPLACE_PATIENCE {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!(
                    "{} stayed open in another program (without delete sharing) for {}s; its old content is whole, and the next write tries again",
                    target.display(),
                    super::REPLACE_PATIENCE.as_secs()
                ),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// NTFS journals a new name with the file's metadata; a directory cannot
/// be opened to flush it without backup privileges.
pub(crate) fn sync_dir_of(_: &Path) -> io::Result<()> {
    Ok(())
}

/// Gives one of TokenTray's own directories an access list that grants
/// this user alone, inherited by everything made in it. One another user
/// owns is refused: they could grant themselves access again.
pub(crate) fn tighten_private_dir(dir: &Path) -> io::Result<()> {
    if !fs::symlink_metadata(dir)?.is_dir() || !owned_by_us(dir)? {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a directory of this user's", dir.display()),
        ));
    }
    let descriptor = OwnerOnly::new(Inherit::ToEverythingInside)?;
    set_access_list(dir, descriptor.raw(), true)
}

/// Symbolic links need a privilege (or developer mode) on Windows; a link
/// is followed to its target, whose owner [`existing_file`] checks.
pub(crate) fn owned_by_us_or_root(_: &fs::Metadata) -> bool {
    true
}

/// Whether `pid` names a running process.
pub fn process_is_running(pid: u32) -> bool {
    const STILL_ACTIVE: u32 = 259;
    // SAFETY: opens a handle by id (null when there is no such process), closed below.
    let handle: HANDLE = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        // Refused: it runs, as another user. Any other failure: no such process.
        // SAFETY: reads this thread's last error.
        return unsafe { GetLastError() } == ERROR_ACCESS_DENIED;
    }
    let mut code = 0u32;
    // SAFETY: `handle` is the valid process handle opened above; `code` outlives the call.
    let asked = unsafe { GetExitCodeProcess(handle, &mut code) } != 0;
    // SAFETY: closes the handle opened above, once.
    unsafe { CloseHandle(handle) };
    !asked || code == STILL_ACTIVE
}

/// Opens `target` (an address) with the user's default handler, as
/// Explorer would: `ShellExecuteW` with the "open" verb.
pub fn shell_open(target: &str) -> io::Result<()> {
    let (verb, target) = (wide(OsStr::new("open")), wide(OsStr::new(target)));
    // SAFETY: both strings are NUL-terminated and outlive the call; the rest are null (none given).
    let result = unsafe {
        ShellExecuteW(
            std::ptr::null_mut(),
            verb.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            SW_SHOWNORMAL,
        )
    };
    // Above 32 is success; at or below, an error code (documented so).
    if result as usize > 32 {
        Ok(())
    } else {
        Err(io::Error::other(format!("the shell could not open it (code {})", result as usize)))
    }
}

pub(super) fn wide(text: &OsStr) -> Vec<u16> {
    text.encode_wide().chain(std::iter::once(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_process_is_running_until_it_is_not() {
        assert!(process_is_running(std::process::id()));
        let mut child = std::process::Command::new("cmd").args(["/c", "exit 0"]).spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        drop(child);
        assert!(!process_is_running(pid));
    }
}
