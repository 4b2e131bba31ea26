//! Opening the system browser, as Linux openers do: `$BROWSER` first (a
//! `:`-separated list of commands, `;` on Windows, `%s` standing for the
//! URL), then the platform's opener. Only an http(s) address is opened: a
//! `file:` address, a share or another handler's scheme (from a config
//! snippet someone sent) would run a program, not show a login page.

use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("cannot open a browser ({tried}); open this URL yourself: {url}")]
    NoBrowser { tried: String, url: String },
    #[error("TokenTray opens only http(s) addresses in the browser, not `{0}`: check the account's authorize_url")]
    NotWeb(String),
}

pub fn open_in_browser(url: &str) -> Result<(), BrowserError> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
        _ => return Err(BrowserError::NotWeb(url.chars().take(80).collect())),
    }
    let mut tried = Vec::new();
    let from_env = std::env::var("BROWSER").unwrap_or_default();
    let candidates: Vec<String> = from_env
        .split(if cfg!(windows) { ';' } else { ':' })
        .filter(|c| !c.trim().is_empty())
        .map(str::to_owned)
        .chain(platform_openers().iter().map(|s| (*s).to_owned()))
        .collect();
    for candidate in candidates {
        let mut words: Vec<String> = candidate.split_whitespace().map(str::to_owned).collect();
        if words.is_empty() {
            continue;
        }
        if words.iter().any(|w| w.contains("%s")) {
            words.iter_mut().for_each(|w| *w = w.replace("%s", url));
        } else {
            words.push(url.to_owned());
        }
        let spawned = Command::new(&words[0])
            .args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(mut child) => {
                // Reap it in the background; a browser opener may outlive us.
                std::thread::spawn(move || child.wait());
                return Ok(());
            }
            Err(_) => tried.push(words[0].clone()),
        }
    }
    // Windows' own way: the shell opens the address with the default browser.
    #[cfg(windows)]
    match tokentray_adapters::os::windows::shell_open(url) {
        Ok(()) => return Ok(()),
        Err(e) => tried.push(format!("the Windows shell ({e})")),
    }
    Err(BrowserError::NoBrowser { tried: tried.join(", "), url: url.to_owned() })
}

fn platform_openers() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        // After `$BROWSER`: `ShellExecuteW` (below), not a program.
        &[]
    } else {
        &["xdg-open", "sensible-browser"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a config snippet could slip in as an authorize address is never
    /// handed to the shell or an opener: no program runs.
    #[test]
    fn only_web_addresses_are_opened() {
        for url in [
            "file:///C:/Windows/System32/calc.exe",
            "file://attacker/share/payload.exe",
            r"\\attacker\share\payload.exe",
            "C:/Windows/System32/calc.exe",
            "ms-settings:privacy",
            "javascript:alert(1)",
            "",
        ] {
            assert!(matches!(open_in_browser(url), Err(BrowserError::NotWeb(_))), "{url}");
        }
    }
}
