// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    let args = match tokentray_app::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("tokentray-tray: {message}");
            std::process::exit(2);
        }
    };
    tokentray_app::run(args)
}
