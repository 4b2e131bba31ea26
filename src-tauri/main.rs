// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // The tray holds every token in memory: no core file, no ptrace by others.
    if let Err(e) = tokentray_runtime::process::forbid_core_dumps() {
        eprintln!("tokentray-tray: cannot turn core dumps off ({e}); continuing");
    }
    tokentray_runtime::process::raise_open_file_limit();
    let args = match tokentray_app::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("tokentray-tray: {message}");
            std::process::exit(2);
        }
    };
    tokentray_app::run(args)
}
