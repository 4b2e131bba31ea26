//! Files on Windows: access lists instead of modes, a rename retried under
//! the sharing rules, processes asked by handle.
//!
//! Owner-only is a protected access list granting this user alone (the
//! inherited entries of the profile folder, Administrators and SYSTEM among
//! them, are cut off); files made inside inherit it, as 0600 files in a
//! 0700 directory would be. A sink's file keeps whatever its folder gives.

#![allow(unsafe_code)] // calls into the Win32 API; each block's SAFETY note says why it is sound

use std::ffi::{c_void, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, BorrowedHandle};
use std::path::Path;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, LocalFree, ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION,
    ERROR_USER_MAPPED_FILE, HANDLE,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo, SDDL_REVISION_1,
    SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    GetFileSecurityW, GetSecurityDescriptorOwner, GetTokenInformation, SetFileSecurityW, TokenUser,
    DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetExitCodeProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};
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

/// The access list of `path`, as a self-relative security descriptor.
fn access_list_of(path: &Path) -> io::Result<Vec<u64>> {
    let name = wide(path.as_os_str());
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer is written.
    unsafe { GetFileSecurityW(name.as_ptr(), DACL_SECURITY_INFORMATION, std::ptr::null_mut(), 0, &mut needed) };
    // u64s: aligned for the descriptor.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    // SAFETY: `buffer` holds at least `needed` bytes.
    let read = unsafe {
        GetFileSecurityW(name.as_ptr(), DACL_SECURITY_INFORMATION, buffer.as_mut_ptr().cast(), needed, &mut needed)
    };
    if read == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(buffer)
}

/// Gives `path` the access list of `descriptor`.
fn set_access_list(path: &Path, descriptor: PSECURITY_DESCRIPTOR, protected: bool) -> io::Result<()> {
    let name = wide(path.as_os_str());
    let what = DACL_SECURITY_INFORMATION | if protected { PROTECTED_DACL_SECURITY_INFORMATION } else { 0 };
    // SAFETY: `name` is NUL-terminated; the caller keeps the descriptor alive across the call.
    if unsafe { SetFileSecurityW(name.as_ptr(), what, descriptor) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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
    if let Err(e) = set_access_list(path, owner_only.raw, true) {
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
    set_access_list(dir, descriptor.raw, true)
}

/// Symbolic links need a privilege (or developer mode) on Windows; a link
/// is followed to its target, whose owner [`existing_file`] checks.
pub(crate) fn owned_by_us_or_root(_: &fs::Metadata) -> bool {
    true
}

/// Whether this user, the Administrators group (an elevated token's files
/// are owned by it) or the system owns `path`.
fn owned_by_us(path: &Path) -> io::Result<bool> {
    let name = wide(path.as_os_str());
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer is written.
    unsafe { GetFileSecurityW(name.as_ptr(), OWNER_SECURITY_INFORMATION, std::ptr::null_mut(), 0, &mut needed) };
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    // SAFETY: `buffer` holds at least `needed` bytes.
    let read = unsafe {
        GetFileSecurityW(name.as_ptr(), OWNER_SECURITY_INFORMATION, buffer.as_mut_ptr().cast(), needed, &mut needed)
    };
    if read == 0 {
        return Err(io::Error::last_os_error());
    }
    let (mut owner, mut defaulted): (PSID, i32) = (std::ptr::null_mut(), 0);
    // SAFETY: the descriptor lives in `buffer`; `owner` points into it, used while it lives.
    if unsafe { GetSecurityDescriptorOwner(buffer.as_mut_ptr().cast(), &mut owner, &mut defaulted) } == 0 {
        return Err(io::Error::last_os_error());
    }
    if owner.is_null() {
        return Ok(false);
    }
    let owner = sid_text(owner)?;
    Ok(owner == current_user_sid()? || owner == "S-1-5-32-544" || owner == "S-1-5-18")
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

/// Whether an owner-only access list passes on to what is made inside.
#[derive(Clone, Copy)]
pub enum Inherit {
    /// A folder: its files and folders get the same list.
    ToEverythingInside,
    /// One object (a named pipe).
    Nothing,
}

/// A security descriptor whose access list grants this user alone, every right.
pub struct OwnerOnly {
    raw: PSECURITY_DESCRIPTOR,
}

// SAFETY: the descriptor is an immutable block of memory this value owns
// alone; it is only read after creation and freed once on drop.
unsafe impl Send for OwnerOnly {}
// SAFETY: as above; shared references only read it.
unsafe impl Sync for OwnerOnly {}

impl OwnerOnly {
    pub fn new(inherit: Inherit) -> io::Result<Self> {
        let sid = current_user_sid()?;
        let flags = match inherit {
            Inherit::ToEverythingInside => "OICI",
            Inherit::Nothing => "",
        };
        // O: this user owns it (an elevated token would make it
        // Administrators'), which a client checks; P: protected (nothing
        // inherited from above); GA: all rights.
        let sddl = wide(OsStr::new(&format!("O:{sid}D:P(A;{flags};GA;;;{sid})")));
        let mut raw: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated; `raw` receives a LocalAlloc'd block freed on drop.
        let made = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut raw,
                std::ptr::null_mut(),
            )
        };
        if made == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { raw })
    }

    /// Attributes for a `Create*` call; valid while `self` lives.
    pub fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.raw,
            bInheritHandle: 0,
        }
    }
}

impl Drop for OwnerOnly {
    fn drop(&mut self) {
        // SAFETY: `raw` came from LocalAlloc (through the conversion) and is freed once.
        unsafe { LocalFree(self.raw) };
    }
}

/// The owner of the kernel object behind `handle` (a named pipe), as a SID
/// string: a pipe of another user's, made first under our pipe's name,
/// shows here.
pub fn owner_of(handle: BorrowedHandle<'_>) -> io::Result<String> {
    let mut owner: PSID = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `handle` is open while borrowed; `owner` points into `descriptor`, freed below.
    let status = unsafe {
        GetSecurityInfo(
            handle.as_raw_handle(),
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    if status != 0 {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    let sid = sid_text(owner);
    // SAFETY: frees the descriptor GetSecurityInfo allocated, once; `owner` is not used after.
    unsafe { LocalFree(descriptor) };
    sid
}

/// A SID as text; `sid` must be valid for the call.
fn sid_text(sid: PSID) -> io::Result<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: the caller keeps `sid` alive; `text` is LocalAlloc'd, freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `text` is a NUL-terminated UTF-16 string from the call above.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        String::from_utf16_lossy(std::slice::from_raw_parts(text, len))
    };
    // SAFETY: frees the string allocated by ConvertSidToStringSidW, once.
    unsafe { LocalFree(text as *mut c_void) };
    Ok(sid)
}

/// This process's user as a SID string (`S-1-5-21-...`).
pub fn current_user_sid() -> io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo handle of this process needs no closing; `token` receives a handle closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let result = (|| {
        let mut needed = 0u32;
        // SAFETY: a size query: no buffer is written.
        unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
        // u64s: aligned for TOKEN_USER, whose SID follows it in the same buffer.
        let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
        // SAFETY: `buffer` holds `needed` bytes, aligned for TOKEN_USER.
        if unsafe { GetTokenInformation(token, TokenUser, buffer.as_mut_ptr().cast(), needed, &mut needed) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the call above filled the buffer with a TOKEN_USER.
        let user = unsafe { &*(buffer.as_ptr() as *const TOKEN_USER) };
        // The SID points into `buffer`, alive here.
        sid_text(user.User.Sid)
    })();
    // SAFETY: closes the token opened above, once.
    unsafe { CloseHandle(token) };
    result
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

fn wide(text: &OsStr) -> Vec<u16> {
    text.encode_wide().chain(std::iter::once(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use windows_sys::Win32::Security::Authorization::ConvertSecurityDescriptorToStringSecurityDescriptorW;

    /// The access list of `path` in SDDL (`D:P(A;OICI;FA;;;S-1-...)`).
    fn access_list(path: &Path) -> String {
        let mut buffer = access_list_of(path).unwrap();
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: the descriptor lives in `buffer`; `text` is LocalAlloc'd, freed below.
        let made = unsafe {
            ConvertSecurityDescriptorToStringSecurityDescriptorW(
                buffer.as_mut_ptr().cast(),
                SDDL_REVISION_1,
                DACL_SECURITY_INFORMATION,
                &mut text,
                std::ptr::null_mut(),
            )
        };
        assert_ne!(made, 0, "{}", io::Error::last_os_error());
        // SAFETY: `text` is a NUL-terminated UTF-16 string from the call above, freed once.
        unsafe {
            let len = (0..).take_while(|&i| *text.add(i) != 0).count();
            let sddl = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
            LocalFree(text.cast());
            sddl
        }
    }

    /// Whether this runs under Wine (its ntdll says so).
    fn under_wine() -> bool {
        use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
        let ntdll = wide(OsStr::new("ntdll.dll"));
        // SAFETY: ntdll is loaded in every process; the name is NUL-terminated.
        unsafe { GetProcAddress(GetModuleHandleW(ntdll.as_ptr()), c"wine_get_version".as_ptr().cast()).is_some() }
    }

    /// Whether an access list lets anyone in but this user and the system.
    fn lets_others_in(list: &str, sid: &str) -> bool {
        list.split('(').skip(1).any(|ace| !(ace.contains(sid) || ace.contains(";;;SY)")))
    }

    /// The data directory grants this user alone, protected from what its
    /// parent grants, and a file made in it inherits that (a profile path
    /// that is not ASCII included).
    #[test]
    fn the_private_directory_grants_this_user_alone_and_its_files_inherit_it() {
        let dir = tokentray_testkit::scratch("windows-acl").join("Zoë Müller").join("tokentray");
        crate::atomic::ensure_private_dir(&dir).unwrap();
        let sid = current_user_sid().unwrap();
        let file = dir.join("state.json");
        crate::atomic::write_private(&file, b"{}").unwrap();
        // Replaced: the new file keeps the old one's list.
        crate::atomic::write_private(&file, b"{\"again\": true}").unwrap();
        let (list, inherited) = (access_list(&dir), access_list(&file));
        assert!(list.contains(&sid) && inherited.contains(&sid), "this user's: {list} {inherited}");
        assert!(!lets_others_in(&list, &sid) && !lets_others_in(&inherited, &sid), "nobody else's: {list} {inherited}");
        // Wine keeps an access list as Unix mode bits and reads back what
        // those say (SYSTEM and the user, unprotected): the exact list is
        // Windows' to show.
        if !under_wine() {
            assert!(list.starts_with("D:P"), "protected from the parent's entries: {list}");
            assert_eq!(list.matches("(A;").count(), 1, "one entry: {list}");
            assert_eq!(inherited.matches("(A;").count(), 1, "inherited, one entry: {inherited}");
        }
    }

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
