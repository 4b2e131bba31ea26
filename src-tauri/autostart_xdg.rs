//! "Start at login" on Linux, by the XDG Autostart rules.
//!
//! The package installs a system entry (`/etc/xdg/autostart/TokenTray.desktop`):
//! installed, TokenTray starts at login for everyone. A user's own entry of
//! the same name in `~/.config/autostart` overrides it, and one with
//! `Hidden=true` turns it off. (tauri-plugin-autostart only writes or deletes
//! the user's entry: with a system entry present, its "off" would be a lie.)
//! Spec: https://specifications.freedesktop.org/autostart-spec/latest/

use std::path::PathBuf;

/// The file's name in every autostart directory (the name tauri-plugin-autostart
/// used, so an entry written before is still this one).
pub const ENTRY_NAME: &str = "TokenTray.desktop";

pub struct Autostart {
    /// `$XDG_CONFIG_HOME/autostart`: the user's entries.
    user_dir: PathBuf,
    /// `$XDG_CONFIG_DIRS/*/autostart`, most important first.
    system_dirs: Vec<PathBuf>,
    /// What the entry runs.
    exec: PathBuf,
}

impl Autostart {
    pub fn new(user_dir: PathBuf, system_dirs: Vec<PathBuf>, exec: PathBuf) -> Self {
        Self { user_dir, system_dirs, exec }
    }

    /// The directories of this session's environment, running this binary.
    pub fn from_env() -> std::io::Result<Self> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.map(|h| h.join(".config")))
            .ok_or_else(|| std::io::Error::other("neither XDG_CONFIG_HOME nor HOME is set"))?;
        let config_dirs = std::env::var("XDG_CONFIG_DIRS").ok().filter(|s| !s.is_empty());
        let system_dirs = config_dirs
            .as_deref()
            .unwrap_or("/etc/xdg")
            .split(':')
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|p| p.join("autostart"))
            .collect();
        Ok(Self::new(config_home.join("autostart"), system_dirs, std::env::current_exe()?))
    }

    /// Whether TokenTray will start at the next login: the user's entry if
    /// there is one, else the first system entry, and that entry not turned off.
    pub fn is_enabled(&self) -> bool {
        std::iter::once(&self.user_dir)
            .chain(&self.system_dirs)
            .map(|dir| dir.join(ENTRY_NAME))
            .find_map(|path| std::fs::read_to_string(path).ok())
            .is_some_and(|text| turned_on(&text))
    }

    pub fn set(&self, on: bool) -> std::io::Result<()> {
        let user_entry = self.user_dir.join(ENTRY_NAME);
        let system_entry = self.system_dirs.iter().map(|d| d.join(ENTRY_NAME)).any(|p| p.is_file());
        // On with the package's entry, or off without one: no entry of the
        // user's is wanted (the package's names the installed program, which
        // an upgrade keeps right).
        if on == system_entry {
            return match std::fs::remove_file(&user_entry) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let text = match on {
            true => self.entry()?,
            // Overrides the package's entry: TokenTray does not start at login.
            false => "[Desktop Entry]\nType=Application\nName=TokenTray\nHidden=true\n".to_owned(),
        };
        std::fs::create_dir_all(&self.user_dir)?;
        tokentray_adapters::atomic::write(&user_entry, text.as_bytes(), 0o644)
    }

    fn entry(&self) -> std::io::Result<String> {
        // After an upgrade replaced the file, Linux names the running program "... (deleted)".
        let exec = self.exec.to_string_lossy();
        let exec = exec.strip_suffix(" (deleted)").unwrap_or(&exec);
        let exec = exec_arg(exec).ok_or_else(|| {
            std::io::Error::other(format!("cannot name {exec} in a desktop entry: it holds control characters"))
        })?;
        Ok(format!(
            "[Desktop Entry]\nType=Application\nName=TokenTray\nComment=Keeps broker and OAuth API tokens alive\n\
             Exec={exec} --background\nIcon=tokentray-tray\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
        ))
    }
}

/// Whether a desktop entry's `[Desktop Entry]` group leaves it on.
fn turned_on(text: &str) -> bool {
    let mut in_group = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_group = line == "[Desktop Entry]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        match (in_group, key.trim(), value.trim()) {
            (true, "Hidden", "true") | (true, "X-GNOME-Autostart-enabled", "false") => return false,
            _ => {}
        }
    }
    true
}

/// The program as the `Exec` key wants it: quoted, with the Exec rules'
/// escapes, then the string rules' (a backslash is unescaped twice); `None`
/// for a path no entry can hold.
fn exec_arg(path: &str) -> Option<String> {
    if path.chars().any(char::is_control) {
        return None;
    }
    if path.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c)) {
        return Some(path.to_owned());
    }
    let mut quoted = String::from("\"");
    for c in path.chars() {
        match c {
            '"' | '`' | '$' => {
                quoted.push_str(r"\\");
                quoted.push(c);
            }
            '\\' => quoted.push_str(r"\\\\"),
            '%' => quoted.push_str("%%"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    Some(quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(name: &str) -> (Autostart, PathBuf, PathBuf) {
        let root = tokentray_testkit::scratch(name);
        let (user, system) = (root.join("home/autostart"), root.join("etc/autostart"));
        let a = Autostart::new(user.clone(), vec![system.clone()], "/usr/bin/tokentray-tray".into());
        (a, user, system)
    }

    #[test]
    fn without_a_system_entry_the_users_entry_is_the_switch() {
        let (a, user, _) = dirs("autostart-user");
        assert!(!a.is_enabled());
        a.set(true).unwrap();
        assert!(a.is_enabled());
        let text = std::fs::read_to_string(user.join(ENTRY_NAME)).unwrap();
        assert!(text.contains("Exec=/usr/bin/tokentray-tray --background\n"), "{text}");
        a.set(false).unwrap();
        assert!(!a.is_enabled());
        assert!(!user.join(ENTRY_NAME).exists(), "nothing left behind");
        a.set(false).unwrap();
    }

    #[test]
    fn the_packages_entry_is_on_until_the_user_turns_it_off() {
        let (a, user, system) = dirs("autostart-system");
        std::fs::create_dir_all(&system).unwrap();
        std::fs::write(system.join(ENTRY_NAME), include_str!("../packaging/autostart.desktop")).unwrap();
        assert!(a.is_enabled(), "installed: on");
        a.set(false).unwrap();
        assert!(!a.is_enabled(), "the user's Hidden entry wins");
        assert!(std::fs::read_to_string(user.join(ENTRY_NAME)).unwrap().contains("Hidden=true"));
        a.set(true).unwrap();
        assert!(a.is_enabled());
        assert!(!user.join(ENTRY_NAME).exists(), "on again: the package's entry, which an upgrade keeps right");
    }

    #[test]
    fn entries_turned_off_by_any_desktop_read_as_off() {
        assert!(!turned_on("[Desktop Entry]\nHidden=true\n"));
        assert!(!turned_on("[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n"));
        assert!(turned_on("[Desktop Entry]\nExec=x\n[Desktop Action a]\nHidden=true\n"), "another group's key");
        assert!(turned_on("[Desktop Entry]\nHidden=false\n"));
    }

    #[test]
    fn an_odd_program_path_is_quoted_as_the_spec_says() {
        // In the file: `\\$` (a `\$` for Exec, once the string's `\\` is read) and `\\\\` for one backslash.
        assert_eq!(exec_arg("/opt/Token Tray/t$x%").unwrap(), r#""/opt/Token Tray/t\\$x%%""#);
        assert_eq!(exec_arg(r"/opt/a\b").unwrap(), r#""/opt/a\\\\b""#);
        assert_eq!(exec_arg("/usr/bin/tokentray-tray").unwrap(), "/usr/bin/tokentray-tray");
        assert_eq!(exec_arg("/opt/x\nHidden=true"), None, "no line of its own smuggled in");
    }

    #[test]
    fn after_an_upgrade_the_running_program_is_named_by_its_path() {
        let root = tokentray_testkit::scratch("autostart-upgrade");
        let a = Autostart::new(root.join("autostart"), vec![], "/usr/bin/tokentray-tray (deleted)".into());
        a.set(true).unwrap();
        let text = std::fs::read_to_string(root.join("autostart").join(ENTRY_NAME)).unwrap();
        assert!(text.contains("Exec=/usr/bin/tokentray-tray --background\n"), "{text}");
    }
}
