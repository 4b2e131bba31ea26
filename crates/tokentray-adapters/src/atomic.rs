//! Whole-file replacement that a concurrent reader can never see half done:
//! write a temporary file in the same directory, fsync it, rename it over the
//! target, fsync the directory. A path that is a symlink (a dotfiles repo)
//! is written at its target, so the link stays a link.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::os;

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
    replace(path, bytes, Mode::Private)
}

enum Mode {
    /// A new file gets this; an existing one keeps its mode and group.
    NewFilesGet(u32),
    Private,
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
    let existing = os::existing_file(path)?;
    let new_mode = match mode {
        Mode::Private => None,
        Mode::NewFilesGet(new_mode) => Some(new_mode),
    };
    let result = (|| {
        // Private while it is written: a crash leaves no readable copy of a
        // token behind, whatever the target's mode. The mode is set last.
        let mut file = os::open_new_private(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        os::keep_what_was(&file, &tmp, existing.as_ref(), new_mode)?;
        drop(file);
        os::replace(&tmp, path, existing.is_some())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// One of TokenTray's own directories (the data directory): created
/// private, or tightened if it exists with access for others (0700 on
/// Unix, an access list of this user's alone on Windows). Never for a
/// directory of the user's (a sink's): those keep theirs. One another
/// user owns is refused: they could read or swap everything in it.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    create_private_dir(dir)?;
    os::tighten_private_dir(dir)
}

/// Opens (creating if missing) one of TokenTray's own files for writing in
/// place, such as a lock file: private, tightened if it was more open.
pub fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    os::open_private_options(&mut options);
    let file = options.open(path)?;
    os::keep_what_was(&file, path, None, None)?;
    Ok(file)
}

/// Opens (creating if missing) one of TokenTray's own files to append to
/// (a log, the history): private, never through a link.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    os::open_private_options(&mut options);
    options.open(path)
}

/// The options [`open_private_append`] uses, for a library that opens the
/// file itself (the log's rotation).
pub fn private_append_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    os::open_private_options(&mut options);
    options
}

/// Creates `dir` and its parents; new directories are private (0700 on
/// Unix; on Windows they inherit their parent's access list).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    os::private_dir_options(&mut builder);
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
                if !os::owned_by_us_or_root(&m) {
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

/// The text of the user's file at `path` (following links as [`write`]
/// does), or `None` when there is none. Only a regular file of at most
/// `max` bytes is read: a FIFO or a device put there must not hang or
/// flood the reader.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Option<String>> {
    use std::io::Read;
    let path = resolve_links(path)?;
    let mut options = OpenOptions::new();
    options.read(true);
    os::read_options(&mut options);
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
    pid == std::process::id() || os::process_is_running(pid)
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
