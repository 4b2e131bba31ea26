//! Opening the system browser, as Linux openers do: `$BROWSER` first (a
//! `:`-separated list of commands, `%s` standing for the URL), then the
//! platform's opener.

use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
#[error("cannot open a browser ({tried}); open this URL yourself: {url}")]
pub struct BrowserError {
    tried: String,
    url: String,
}

pub fn open_in_browser(url: &str) -> Result<(), BrowserError> {
    let mut tried = Vec::new();
    let from_env = std::env::var("BROWSER").unwrap_or_default();
    let candidates: Vec<String> = from_env
        .split(':')
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
    Err(BrowserError { tried: tried.join(", "), url: url.to_owned() })
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
