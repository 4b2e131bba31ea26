//! The tray binary's arguments (`--demo`, `--show`, `--background`,
//! `--window`, `--near`, `--config`, `--engine-dir`).

use std::path::PathBuf;

/// The tray app's command line. Everything else is the `tokentray` CLI's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// Run on the built-in demo broker, whatever the config says.
    pub demo: bool,
    pub config: Option<PathBuf>,
    /// Open the window at launch.
    pub show: bool,
    /// Started at login (`--background`): the tray alone, and only for a
    /// user who has a config (the package starts it for every user).
    pub background: bool,
    /// Be the window: a process of its own, talking to the running
    /// TokenTray's engine over its control socket.
    pub window: bool,
    /// The window's engine: the directory of the control socket the tray
    /// that started it serves (so the window never works it out again from
    /// a config that may have changed since).
    pub engine_dir: Option<PathBuf>,
    /// Where the tray icon is on screen, when the desktop says (`x,y,w,h`):
    /// the window opens beside it as a compact panel.
    pub near: Option<crate::placement::Rect>,
}

impl Args {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut out = Args::default();
        let mut background = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--demo" => out.demo = true,
                "--show" => out.show = true,
                "--window" => out.window = true,
                // Start at login: the tray alone, whatever else is asked.
                "--background" => background = true,
                "--config" => out.config = Some(args.next().ok_or("--config needs a path")?.into()),
                "--engine-dir" => out.engine_dir = Some(args.next().ok_or("--engine-dir needs a path")?.into()),
                "--near" => {
                    let rect = args.next().ok_or("--near needs x,y,width,height")?;
                    out.near = Some(
                        crate::placement::Rect::parse(&rect).ok_or(format!("--near {rect}: not x,y,width,height"))?,
                    );
                }
                "-h" | "--help" => {
                    return Err("usage: tokentray-tray [--demo] [--show | --background] [--window] [--config PATH]\n\
                                The tray app (with --window, its window, which needs the tray running);\n\
                                `tokentray --help` lists the command-line tools."
                        .to_owned())
                }
                other => return Err(format!("unknown argument `{other}`; try --help")),
            }
        }
        out.show &= !background;
        out.background = background;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        let a = Args::parse(["--demo", "--config", "/c.toml", "--show"].map(String::from)).unwrap();
        assert_eq!(a, Args { demo: true, config: Some("/c.toml".into()), show: true, ..Args::default() });
        let w = Args::parse(["--window", "--engine-dir", "/d"].map(String::from)).unwrap();
        assert_eq!(w.engine_dir.as_deref(), Some(std::path::Path::new("/d")));
        assert!(Args::parse(["--window".to_owned()]).unwrap().window);
        for order in [["--show", "--background"], ["--background", "--show"]] {
            assert!(!Args::parse(order.map(String::from)).unwrap().show, "start at login: no window");
        }
        assert!(Args::parse(["--nope".to_owned()]).unwrap_err().contains("--nope"));
        assert!(Args::parse(["--config".to_owned()]).is_err());
        let near = Args::parse(["--window", "--near", "10,0,24,24"].map(String::from)).unwrap().near;
        assert_eq!(near, Some(crate::placement::Rect { x: 10, y: 0, width: 24, height: 24 }));
        assert!(Args::parse(["--near", "10,0"].map(String::from)).unwrap_err().contains("x,y,width,height"));
    }
}
