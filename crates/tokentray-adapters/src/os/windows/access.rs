//! Who may open what, on Windows: this user's SID, owner-only access
//! lists (for the data directory, new files, the control pipe), reading
//! and copying a file's list, and whose a file or pipe is.

#![allow(unsafe_code)] // calls into the Win32 API; each block's SAFETY note says why it is sound

use super::wide;
use std::ffi::{c_void, OsStr};
use std::io;
use std::os::windows::io::{AsRawHandle, BorrowedHandle};
use std::path::Path;
use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo, SDDL_REVISION_1,
    SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    GetFileSecurityW, GetSecurityDescriptorOwner, GetTokenInformation, SetFileSecurityW, TokenUser,
    DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// The access list of `path`, as a self-relative security descriptor.
pub(super) fn access_list_of(path: &Path) -> io::Result<Vec<u64>> {
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
pub(super) fn set_access_list(path: &Path, descriptor: PSECURITY_DESCRIPTOR, protected: bool) -> io::Result<()> {
    let name = wide(path.as_os_str());
    let what = DACL_SECURITY_INFORMATION | if protected { PROTECTED_DACL_SECURITY_INFORMATION } else { 0 };
    // SAFETY: `name` is NUL-terminated; the caller keeps the descriptor alive across the call.
    if unsafe { SetFileSecurityW(name.as_ptr(), what, descriptor) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this user, the Administrators group (an elevated token's files
/// are owned by it) or the system owns `path`.
pub(super) fn owned_by_us(path: &Path) -> io::Result<bool> {
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

    /// The descriptor, valid while `self` lives.
    pub(super) fn raw(&self) -> PSECURITY_DESCRIPTOR {
        self.raw
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
pub(super) fn sid_text(sid: PSID) -> io::Result<String> {
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
}
