//! Files on Unix: modes, groups, `rename(2)`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What an existing regular file had that its replacement keeps: its group
/// and permission bits (setuid, setgid and sticky are not copied).
pub(crate) struct Existing {
    group: u32,
    mode: u32,
}

/// The file at `path`, if there is one. Anything else there (a FIFO, a
/// device, another user's file) is refused: its mode is not ours to copy,
/// nor its place ours to take.
pub(crate) fn existing_file(path: &Path) -> io::Result<Option<Existing>> {
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file; TokenTray writes only regular files", path.display()),
        )),
        Ok(m) if !owned_by_us_or_root(&m) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user; TokenTray writes only files of yours", path.display()),
        )),
        Ok(m) => Ok(Some(Existing { group: m.gid(), mode: m.mode() & 0o777 })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Gives the new file what the old one had, or `new_mode` for a new file
/// (`None`: TokenTray's own, 0600 always). The group first: only a member
/// of it may set it, and the mode then still applies.
pub(crate) fn keep_what_was(
    file: &File,
    _: &Path,
    existing: Option<&Existing>,
    new_mode: Option<u32>,
) -> io::Result<()> {
    if let Some(existing) = existing {
        if let Err(e) = std::os::unix::fs::fchown(file, None, Some(existing.group)) {
            tracing::warn!("cannot keep the file's group {}: {e}", existing.group);
        }
    }
    let mode = match (new_mode, existing) {
        (None, _) => 0o600,
        (Some(_), Some(existing)) => existing.mode,
        (Some(mode), None) => mode,
    };
    // Exactly: the umask may have narrowed it at creation.
    file.set_permissions(fs::Permissions::from_mode(mode))
}

/// Creates a new file only this user can read (0600).
pub(crate) fn open_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// New directories 0700.
pub(crate) fn private_dir_options(builder: &mut fs::DirBuilder) {
    std::os::unix::fs::DirBuilderExt::mode(builder, 0o700);
}

/// Options for one of TokenTray's own files: created 0600, never through a link.
pub(crate) fn open_private_options(options: &mut OpenOptions) {
    options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
}

/// Options to read a user's file: never hang on a FIFO, never follow a link
/// (links were resolved, with their owners checked, before).
pub(crate) fn read_options(options: &mut OpenOptions) {
    options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
}

/// Puts the finished temporary file in the target's place; durable once
/// the directory is synced.
pub(crate) fn replace(tmp: &Path, target: &Path, _existed: bool) -> io::Result<()> {
    fs::rename(tmp, target)?;
    sync_dir_of(target)
}

/// Makes the entry of `path` in its directory durable (a new name).
pub(crate) fn sync_dir_of(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Refuses a directory another user owns; tightens ours to 0700.
pub(crate) fn tighten_private_dir(dir: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() || !owned_by_us_or_root(&meta) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a directory of this user's", dir.display()),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Whether this process's user (or root) owns what `m` describes.
#[allow(unsafe_code)] // the SAFETY note says why it is sound
pub(crate) fn owned_by_us_or_root(m: &fs::Metadata) -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    m.uid() == me || m.uid() == 0
}

/// Whether `pid` names a running process (a zombie, dead but not yet
/// reaped, is not running).
pub fn process_is_running(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    return match fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) {
        // `pid (name) S ...`: the state follows the name, which may hold anything.
        Ok(stat) => stat.rsplit_once(')').is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    };
    // Elsewhere there is no cheap check without another crate: keep the file.
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        true
    }
}
