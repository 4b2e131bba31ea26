//! Whole-file replacement that a concurrent reader can never see half done:
//! write a temporary file in the same directory, fsync it, rename it over the
//! target, fsync the directory. A path that is a symlink (a dotfiles repo)
//! is written at its target, so the link stays a link.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` (or, if it is a symlink, the file it points to) with
/// `bytes`. A new file gets `new_mode` (Unix permission bits); an existing
/// file keeps its mode and group. Missing parent directories are created
/// with mode 0700.
pub fn write(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
    replace(path, bytes, Mode::NewFilesGet(new_mode))
}

/// Replaces one of TokenTray's own files (state, journal, secrets): 0600
/// always, whatever mode an older version or a hand left it with.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, Mode::Always(0o600))
}

enum Mode {
    /// A new file gets this; an existing one keeps its mode and group.
    NewFilesGet(u32),
    Always(u32),
}

fn replace(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    let target = resolve_links(path)?;
    let path = target.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(
        "{}{}-{}",
        temp_prefix(&name.to_string_lossy()),
        std::process::id(),
        crate::random::url_safe(6)
    ));
    let existing = existing_file(path)?;
    let mode = match mode {
        Mode::Always(mode) => mode,
        Mode::NewFilesGet(new_mode) => existing.map_or(new_mode, |(_, mode)| mode),
    };
    let result = (|| {
        // Private while it is written: a crash leaves no readable copy of a
        // token behind, whatever the target's mode. The mode is set last.
        let mut file = open_new(&tmp, 0o600)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Some((group, _)) = existing {
            keep_group(&file, group);
        }
        set_mode(&file, mode)?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// One of TokenTray's own directories (the data directory): created 0700,
/// or tightened to 0700 if it exists with access for others. Never for a
/// directory of the user's (a sink's): those keep their mode. One another
/// user owns is refused: they could read or swap everything in it.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    create_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::symlink_metadata(dir)?;
        if !meta.is_dir() || !owned_by_us_or_root(&meta) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not a directory of this user's", dir.display()),
            ));
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Opens (creating if missing) one of TokenTray's own files for writing in
/// place, such as a lock file: 0600, tightened if it was more open.
pub fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    set_mode(&file, 0o600)?;
    Ok(file)
}

/// Creates `dir` and its parents; new directories are private (0700).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The file a path names after following its symlinks (each relative link
/// read against its own directory). A dangling link names the file to create.
/// Only links of this user's (or root's) are followed: another user who can
/// write the sink's directory (`/tmp`) must not steer the token elsewhere.
pub fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_owned();
    // The kernel's own limit on links in one lookup (MAXSYMLINKS).
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                if !owned_by_us_or_root(&m) {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("{} is a link another user made; TokenTray does not follow it", current.display()),
                    ));
                }
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("{}: too many levels of symbolic links", path.display())))
}

/// The group and permission bits of the regular file at `path`, if there is
/// one. Anything else there (a FIFO, a device, another user's file) is
/// refused: its mode is not ours to copy, nor its place ours to take.
#[cfg(unix)]
fn existing_file(path: &Path) -> io::Result<Option<(u32, u32)>> {
    use std::os::unix::fs::MetadataExt;
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file; TokenTray writes only regular files", path.display()),
        )),
        Ok(m) if !owned_by_us_or_root(&m) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user; TokenTray writes only files of yours", path.display()),
        )),
        // Permission bits only: setuid, setgid and sticky are not copied.
        Ok(m) => Ok(Some((m.gid(), m.mode() & 0o777))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn existing_file(_: &Path) -> io::Result<Option<(u32, u32)>> {
    Ok(None)
}

/// Whether this process's user (or root) owns what `m` describes.
#[allow(unsafe_code)] // each block's SAFETY note says why it is sound
fn owned_by_us_or_root(m: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid cannot fail and touches no memory.
        let me = unsafe { libc::geteuid() };
        m.uid() == me || m.uid() == 0
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        true
    }
}

/// The text of the user's file at `path` (following links as [`write`]
/// does), or `None` when there is none. Only a regular file of at most
/// `max` bytes is read: a FIFO or a device put there must not hang or
/// flood the reader.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Option<String>> {
    use std::io::Read;
    let path = resolve_links(path)?;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK | libc::O_NOFOLLOW);
    let file = match options.open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "it is not a regular file"));
    }
    if meta.len() > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("it is larger than {max} bytes")));
    }
    let mut text = String::new();
    file.take(max + 1).read_to_string(&mut text)?;
    Ok(Some(text))
}

/// Gives the new file the replaced file's group, so a file shared with a
/// group stays shared. Only a member of that group may do so; otherwise
/// the file keeps this user's group (and the mode set next still applies).
fn keep_group(file: &File, group: u32) {
    #[cfg(unix)]
    if let Err(e) = std::os::unix::fs::fchown(file, None, Some(group)) {
        tracing::warn!("cannot keep the file's group {group}: {e}");
    }
    #[cfg(not(unix))]
    let _ = (file, group);
}

fn temp_prefix(file_name: &str) -> String {
    format!(".{file_name}.tmp-")
}

/// Removes the temporary files that writes to `path` left behind when their
/// process died between creating and renaming them. Files of a process that
/// still runs are in use and stay. Returns how many were removed.
pub fn remove_leftovers(path: &Path) -> io::Result<usize> {
    let path = resolve_links(path)?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return Ok(0) };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = temp_prefix(&name.to_string_lossy());
    sweep(dir, |file_name| file_name.strip_prefix(&prefix))
}

/// Removes the temporary files of every write into `dir` (a directory
/// TokenTray owns) that a dead process left behind.
pub fn remove_leftovers_in(dir: &Path) -> io::Result<usize> {
    sweep(dir, |file_name| file_name.strip_prefix('.')?.rsplit_once(".tmp-").map(|(_, rest)| rest))
}

/// Removes the files in `dir` that `temp_rest` recognises as temporary (it
/// returns the part after `.tmp-`: the writer's pid, a dash, a counter)
/// whose writer no longer runs.
fn sweep(dir: &Path, temp_rest: impl Fn(&str) -> Option<&str>) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(&temp_rest) else { continue };
        // A name without a writer's pid is not one of ours.
        let Some(pid) = rest.split_once('-').and_then(|(p, _)| p.parse::<u32>().ok()) else { continue };
        if process_is_running(pid) {
            continue;
        }
        if fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether `pid` names a running process (ours included).
fn process_is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(target_os = "linux")]
    return Path::new("/proc").join(pid.to_string()).exists();
    // Elsewhere there is no cheap, portable check: keep the file.
    #[cfg(not(target_os = "linux"))]
    return true;
}

fn open_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Sets the mode exactly: the umask may have narrowed it at creation, and an
/// existing file's mode must survive as it was.
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (file, mode);
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        tokentray_testkit::scratch(&format!("atomic-{name}"))
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_private_and_existing_modes_survive() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("modes");
        let path = dir.join("nested").join("token.env");
        write(&path, b"A=1\n", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"A=1\n");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"A=2\n", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"A=2\n");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn leftovers_of_dead_writers_are_removed_and_live_ones_kept() {
        let dir = scratch("leftovers");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token.env");
        fs::write(&path, "A=1\n").unwrap();
        // pid 0 is never a process we could have been; ours is running.
        let dead = dir.join(".token.env.tmp-0-abcdef");
        let live = dir.join(format!(".token.env.tmp-{}-abcdef", std::process::id()));
        let other = dir.join(".other.env.tmp-0-abcdef");
        for p in [&dead, &live, &other] {
            fs::write(p, "secret").unwrap();
        }
        assert_eq!(remove_leftovers(&path).unwrap(), 1);
        assert!(!dead.exists() && live.exists() && other.exists() && path.exists());
        // In a directory of TokenTray's own, every file's leftovers go.
        let user_file = dir.join(".profile.tmp-notes");
        fs::write(&user_file, "not ours").unwrap();
        assert_eq!(remove_leftovers_in(&dir).unwrap(), 1);
        assert!(!other.exists() && live.exists() && path.exists() && user_file.exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
