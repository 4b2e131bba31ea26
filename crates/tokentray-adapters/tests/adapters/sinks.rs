//! Sinks written, then read back by the tools their users read them with
//! (python-dotenv, Python's json and tomllib), and a reader looping on a file
//! during 1,000 rewrites that never sees it torn or empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::process::{Command, Stdio};
use tokentray_adapters::sinks::{write, Field, SinkConfig, SinkFormat, SinkValues};
use tokentray_adapters::Secret;

fn scratch(name: &str) -> PathBuf {
    tokentray_testkit::scratch(&format!("sinks-{name}"))
}

#[cfg(unix)]
fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3 runs");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn sink(format: SinkFormat, path: &Path, fields: &[(&str, Field)]) -> SinkConfig {
    SinkConfig {
        format,
        path: path.to_owned(),
        fields: fields.iter().map(|(n, f)| ((*n).to_owned(), *f)).collect::<BTreeMap<_, _>>(),
    }
}

fn values(token: &Secret) -> SinkValues<'_> {
    SinkValues {
        account: "kite-main",
        access_token: token,
        feed_token: None,
        token_secret: None,
        api_key: "kitekey",
        user_id: Some("AB1234"),
        expires_at: Some(chrono::DateTime::parse_from_rfc3339("2026-11-27T00:30:00Z").unwrap().to_utc()),
    }
}

// Built for Unix only: it reads back with python3 or bash, which Wine cannot start
// (Windows' sharing rules have their own tests: `sinks_windows.rs`).
#[cfg(unix)]
#[test]
fn env_files_read_back_with_python_dotenv() {
    let dir = scratch("env");
    let path = dir.join(".env");
    std::fs::write(
        &path,
        "# my bot\nexport KITE_API_KEY=old\nLOG_LEVEL=debug # noisy\n\nKITE_ACCESS_TOKEN=\"stale\"\n",
    )
    .unwrap();
    let token = Secret::new("tok/en+1=");
    write(
        &sink(
            SinkFormat::Env,
            &path,
            &[
                ("KITE_API_KEY", Field::ApiKey),
                ("KITE_ACCESS_TOKEN", Field::AccessToken),
                ("KITE_EXPIRES", Field::ExpiresAt),
            ],
        ),
        &values(&token),
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# my bot\nexport KITE_API_KEY=kitekey\nLOG_LEVEL=debug # noisy\n\n"), "{text}");
    let read = python("import sys, json, dotenv; print(json.dumps(dotenv.dotenv_values(sys.argv[1])))", &[&path]);
    let v: serde_json::Value = serde_json::from_str(&read).unwrap();
    assert_eq!(v["KITE_ACCESS_TOKEN"], "tok/en+1=");
    assert_eq!(v["KITE_API_KEY"], "kitekey");
    assert_eq!(v["LOG_LEVEL"], "debug");
    assert_eq!(v["KITE_EXPIRES"], "2026-11-27T00:30:00+00:00");
}

/// Values as real providers and configs have them, and as an attacker would
/// choose them: each must read back exactly, and no reader may run anything.
// Built for Unix only: it reads back with python3 or bash, which Wine cannot start
// (Windows' sharing rules have their own tests: `sinks_windows.rs`).
#[cfg(unix)]
#[test]
fn env_values_read_back_exactly_in_bash_dotenv_and_docker() {
    let dir = scratch("env-readers");
    let canary = dir.join("pwned");
    let cases = [
        ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x".to_owned()),
        ("SCHWAB", "I0.b2F1dGgyLmJkYy5zY2h3YWIuY29t.abc@".to_owned()),
        ("B64", "tok/en+1==".to_owned()),
        ("TILDE", "~root".to_owned()),
        ("INNER_TILDE", "abc~def".to_owned()),
        ("COLON_TILDE", "a:~root".to_owned()),
        ("SHELL", format!("x$(touch {})`touch {}`", canary.display(), canary.display())),
        ("SPACES", "a b;c|d&e".to_owned()),
    ];
    let path = dir.join(".env");
    std::fs::write(&path, "").unwrap();
    for (name, value) in &cases {
        let token = Secret::new(value.clone());
        write(&sink(SinkFormat::Env, &path, &[(name, Field::AccessToken)]), &values(&token)).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    let script = format!("set -a; . \"$1\"; for n in {}; do printf '%s\\0' \"${{!n}}\"; done", names.join(" "));
    let out = std::process::Command::new("bash").arg("-c").arg(&script).arg("_").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from_bash: Vec<String> =
        String::from_utf8(out.stdout).unwrap().split_terminator('\0').map(str::to_owned).collect();
    let read = python("import sys, json, dotenv; print(json.dumps(dotenv.dotenv_values(sys.argv[1])))", &[&path]);
    let from_dotenv: serde_json::Value = serde_json::from_str(&read).unwrap();
    for (i, (name, value)) in cases.iter().enumerate() {
        assert_eq!(&from_bash[i], value, "bash reads {name} back: {text}");
        assert_eq!(from_dotenv[name], value.as_str(), "python-dotenv reads {name} back: {text}");
        // docker --env-file takes the rest of the line as it stands: exact for unquoted values.
        let line = text.lines().find(|l| l.starts_with(&format!("{name}="))).unwrap();
        let raw = &line[name.len() + 1..];
        if !raw.starts_with(['"', '\'']) {
            assert_eq!(raw, value, "docker reads {name} back");
        }
    }
    for plain in ["JWT", "SCHWAB", "B64", "INNER_TILDE"] {
        assert!(!text.contains(&format!("{plain}=\"")) && !text.contains(&format!("{plain}='")), "{plain} unquoted");
    }
    assert!(!canary.exists(), "sourcing the file ran nothing");
}

#[test]
fn a_value_no_env_quoting_carries_is_refused_and_the_file_kept() {
    let dir = scratch("env-refused");
    let path = dir.join(".env");
    std::fs::write(&path, "KEEP=1\n").unwrap();
    let token = Secret::new("a\nINJECTED=1");
    let e = write(&sink(SinkFormat::Env, &path, &[("T", Field::AccessToken)]), &values(&token)).unwrap_err();
    assert!(e.to_string().contains("control character"), "{e}");
    assert!(!e.to_string().contains("INJECTED"), "the error does not copy the value: {e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "KEEP=1\n");
}

#[cfg(unix)]
#[test]
fn new_files_are_private_and_existing_ones_keep_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("modes");
    let token = Secret::new("t");
    let new = dir.join("new.env");
    write(&sink(SinkFormat::Env, &new, &[("T", Field::AccessToken)]), &values(&token)).unwrap();
    assert_eq!(std::fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o600);
    let shared = dir.join("shared.env");
    std::fs::write(&shared, "A=1\n").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    write(&sink(SinkFormat::Env, &shared, &[("T", Field::AccessToken)]), &values(&token)).unwrap();
    assert_eq!(std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777, 0o640);
}

// Built for Unix only: it reads back with python3 or bash, which Wine cannot start
// (Windows' sharing rules have their own tests: `sinks_windows.rs`).
#[cfg(unix)]
#[test]
fn json_files_read_back_with_python_json() {
    let dir = scratch("json");
    let path = dir.join("broker-config.json");
    std::fs::write(&path, r#"{"type": "kite", "rate_limit": {"requests_per_second": 10}, "kite": {"api_key": "x"}}"#)
        .unwrap();
    let token = Secret::new("abc123");
    write(
        &sink(SinkFormat::Json, &path, &[("/kite/access_token", Field::AccessToken), ("/kite/user_id", Field::UserId)]),
        &values(&token),
    )
    .unwrap();
    let read = python("import sys, json; d = json.load(open(sys.argv[1])); print(json.dumps(d))", &[&path]);
    let v: serde_json::Value = serde_json::from_str(&read).unwrap();
    assert_eq!(v["kite"]["access_token"], "abc123");
    assert_eq!(v["kite"]["user_id"], "AB1234");
    assert_eq!(v["kite"]["api_key"], "x");
    assert_eq!(v["rate_limit"]["requests_per_second"], 10);
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["type", "rate_limit", "kite"], "the key order is kept");
}

// Built for Unix only: it reads back with python3 or bash, which Wine cannot start
// (Windows' sharing rules have their own tests: `sinks_windows.rs`).
#[cfg(unix)]
#[test]
fn toml_files_read_back_with_tomllib_keeping_comments() {
    let dir = scratch("toml");
    let path = dir.join("secrets.toml");
    std::fs::write(&path, "# Streamlit secrets\n[upstox]\napi_key = \"k\"  # from the console\naccess_token = \"old\"\n\n[db]\nurl = \"sqlite://\"\n").unwrap();
    let token = Secret::new("eyJ.jwt.sig");
    write(&sink(SinkFormat::Toml, &path, &[("upstox.access_token", Field::AccessToken)]), &values(&token)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# Streamlit secrets") && text.contains("# from the console"), "{text}");
    let read = python("import sys, json, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], 'rb'))))", &[&path]);
    let v: serde_json::Value = serde_json::from_str(&read).unwrap();
    assert_eq!(v["upstox"]["access_token"], "eyJ.jwt.sig");
    assert_eq!(v["upstox"]["api_key"], "k");
    assert_eq!(v["db"]["url"], "sqlite://");
}

#[test]
fn raw_files_hold_the_token_alone() {
    let dir = scratch("raw");
    let path = dir.join("token");
    write(&sink(SinkFormat::Raw, &path, &[]), &values(&Secret::new("abc"))).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc\n");
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_left_alone() {
    let dir = scratch("broken");
    let path = dir.join("config.json");
    std::fs::write(&path, "{\"half\": ").unwrap();
    let e = write(&sink(SinkFormat::Json, &path, &[("/token", Field::AccessToken)]), &values(&Secret::new("t")))
        .unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"half\": ");
}

#[cfg(unix)]
#[test]
fn a_symlinked_sink_is_written_at_its_target_and_stays_a_link() {
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
    let dir = scratch("symlink");
    std::fs::create_dir_all(dir.join("dotfiles")).unwrap();
    let target = dir.join("dotfiles/bot.env");
    std::fs::write(&target, "OTHER=1\nT=old\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    // Shared with another group where this user may give it one (root in CI), else its own.
    let _ = std::os::unix::fs::chown(&target, None, Some(1));
    let group = std::fs::metadata(&target).unwrap().gid();
    // A chain, the way dotfile managers build them: relative, then absolute.
    symlink("dotfiles/bot.env", dir.join("middle.env")).unwrap();
    let link = dir.join(".env");
    symlink(dir.join("middle.env"), &link).unwrap();

    write(&sink(SinkFormat::Env, &link, &[("T", Field::AccessToken)]), &values(&Secret::new("new"))).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "OTHER=1\nT=new\n", "the real file has the token");
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.gid()), (0o640, group), "mode and group kept");
    let stray: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().filter(|e| e.path().is_file()).collect();
    assert!(stray.iter().all(|e| e.file_name() == ".env" || e.file_name() == "middle.env"), "{stray:?}");

    // A dangling link names the file to create.
    let dangling = dir.join("new-link.env");
    symlink("dotfiles/created.env", &dangling).unwrap();
    write(&sink(SinkFormat::Env, &dangling, &[("T", Field::AccessToken)]), &values(&Secret::new("t2"))).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("dotfiles/created.env")).unwrap(), "T=t2\n");
    assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
}

/// Another local user's traps in a directory both can write (`/tmp`): each
/// is refused with a message, and nothing of theirs is followed, copied or
/// read without end. (Run as root in CI, which can hand files to another uid.)
#[cfg(unix)]
#[test]
fn another_users_links_files_and_fifos_are_refused() {
    use std::os::unix::fs::{lchown, symlink, PermissionsExt};
    let dir = scratch("traps");
    let token = Secret::new("the-token");
    let write_to = |path: &Path| write(&sink(SinkFormat::Env, path, &[("T", Field::AccessToken)]), &values(&token));
    let nobody = 65534;
    let as_root = effective_uid() == 0;

    // A link another user made, pointing at a file that user can read.
    let theirs = dir.join("theirs.env");
    std::fs::write(&theirs, "").unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o666)).unwrap();
    let link = dir.join("kite.env");
    symlink(&theirs, &link).unwrap();
    if as_root {
        lchown(&link, Some(nobody), Some(nobody)).unwrap();
        let e = write_to(&link).unwrap_err().to_string();
        assert!(e.contains("a link another user made"), "{e}");
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "", "the token did not go there");

        // A file another user owns, at the sink's path.
        let planted = dir.join("planted.env");
        std::fs::write(&planted, "T=old\n").unwrap();
        lchown(&planted, Some(nobody), Some(nobody)).unwrap();
        let e = write_to(&planted).unwrap_err().to_string();
        assert!(e.contains("belongs to another user"), "{e}");
    }

    // A FIFO (or a device) at the sink's path: refused at once, not read forever.
    let fifo = dir.join("fifo.env");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let e = write_to(&fifo).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");

    // A huge file is not read whole.
    let huge = dir.join("huge.env");
    std::fs::write(&huge, vec![b'#'; 2 * 1024 * 1024]).unwrap();
    let e = write_to(&huge).unwrap_err().to_string();
    assert!(e.contains("larger than"), "{e}");

    // Our own file's setuid bit is not carried over to the new one.
    let mine = dir.join("mine.env");
    std::fs::write(&mine, "T=old\n").unwrap();
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o4750)).unwrap();
    write_to(&mine).unwrap();
    assert_eq!(std::fs::metadata(&mine).unwrap().permissions().mode() & 0o7777, 0o750);
}

#[cfg(unix)]
#[allow(unsafe_code)] // each block's SAFETY note says why it is sound
fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

#[test]
fn a_parse_error_names_the_place_and_never_copies_the_file() {
    let dir = scratch("broken-secret");
    for (format, name, text) in [
        (SinkFormat::Toml, "secrets.toml", "[db]\npassword = hunter2-secret\n"),
        (SinkFormat::Json, "bot.json", "{\"db\": {\"password\": hunter2-secret}}"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let e = write(&sink(format, &path, &[("token", Field::AccessToken)]), &values(&Secret::new("t")))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&path.display().to_string()) && e.contains("line ") && e.contains("column "), "{e}");
        assert!(!e.contains("hunter2"), "the error copies none of the file: {e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "left alone");
    }
}

// Built for Unix only: it reads back with python3 or bash, which Wine cannot start
// (Windows' sharing rules have their own tests: `sinks_windows.rs`).
#[cfg(unix)]
#[test]
fn a_reader_looping_during_1000_rewrites_never_sees_a_torn_file() {
    let dir = scratch("torn");
    let path = dir.join("bot.json");
    let stop = dir.join("stop");
    // Padding makes each write span several pages, so a torn read would show.
    let padding = "x".repeat(20_000);
    std::fs::write(&path, format!("{{\"padding\": \"{padding}\", \"access_token\": \"t0\"}}")).unwrap();
    let reader = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import json, os, sys
path, stop = sys.argv[1], sys.argv[2]
reads = 0
while not os.path.exists(stop):
    with open(path) as f:
        text = f.read()
    if not text:
        sys.exit("empty read")
    d = json.loads(text)
    if not d["access_token"].startswith("t") or len(d["padding"]) != 20000:
        sys.exit("torn read")
    reads += 1
print(reads)
"#,
        )
        .args([&path, &stop])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let config = sink(SinkFormat::Json, &path, &[("/access_token", Field::AccessToken)]);
    for i in 1..=1000 {
        write(&config, &values(&Secret::new(format!("t{i}")))).unwrap();
    }
    std::fs::write(&stop, "").unwrap();
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success(), "the reader saw a bad file: {}", String::from_utf8_lossy(&out.stderr));
    let reads: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(reads > 10, "the reader kept reading during the rewrites ({reads} reads)");
    let last: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(last["access_token"], "t1000");
    let leftovers = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(leftovers, 2, "no temporary file is left behind");
}
