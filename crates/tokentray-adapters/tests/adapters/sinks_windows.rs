//! Sinks under Windows' sharing rules: a bot holds its file open without
//! delete sharing (Python's `open()` does), and Windows then refuses to
//! replace it. The rewrite waits it out, or reports the file as locked;
//! a reader never sees it torn, empty or gone (in the instant of a swap
//! Windows refuses its open with a sharing violation, and it reads again).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokentray_adapters::sinks::{write, Field, SinkConfig, SinkFormat, SinkValues};
use tokentray_adapters::Secret;

/// FILE_SHARE_READ | FILE_SHARE_WRITE, not FILE_SHARE_DELETE: how Python,
/// and most runtimes, open a file on Windows.
const SHARE_LIKE_PYTHON: u32 = 0x1 | 0x2;

fn sink(path: &Path) -> SinkConfig {
    SinkConfig {
        format: SinkFormat::Json,
        path: path.to_owned(),
        fields: [("/access_token".to_owned(), Field::AccessToken)].into_iter().collect::<BTreeMap<_, _>>(),
    }
}

fn values(token: &Secret) -> SinkValues<'_> {
    SinkValues {
        account: "kite-main",
        access_token: token,
        feed_token: None,
        token_secret: None,
        api_key: "k",
        user_id: None,
        expires_at: None,
    }
}

fn open_like_python(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().read(true).share_mode(SHARE_LIKE_PYTHON).open(path)
}

fn scratch(name: &str) -> PathBuf {
    let dir = tokentray_testkit::scratch(&format!("sinks-windows-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_reader_without_delete_sharing_delays_a_rewrite_but_never_sees_it_torn() {
    let dir = scratch("looping-reader");
    let path = dir.join("token.json");
    let padding = "x".repeat(20_000);
    std::fs::write(&path, format!("{{\"padding\": \"{padding}\", \"access_token\": \"t0\"}}")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut reads, mut busy) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                let mut text = String::new();
                let mut file = match open_like_python(&path) {
                    Ok(file) => file,
                    // The instant of the swap holds the file for deletion:
                    // Windows refuses an open without delete sharing then
                    // (a reader on Windows tries again); never "not found".
                    Err(e) if e.raw_os_error() == Some(32) => {
                        busy += 1;
                        continue;
                    }
                    Err(e) => panic!("the file is always there: {e}"),
                };
                file.read_to_string(&mut text).unwrap();
                drop(file);
                let d: serde_json::Value = serde_json::from_str(&text).expect("never torn");
                assert!(d["access_token"].as_str().unwrap().starts_with('t'));
                assert_eq!(d["padding"].as_str().unwrap().len(), 20_000);
                reads += 1;
                // Between reads it lets go, as a bot that reads its token
                // now and then does (one reopening it without a pause
                // would hold it nearly always: past the retries, the write
                // is reported, as the next test shows).
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            eprintln!("{reads} whole reads, {busy} opens refused in the instant of a swap");
            reads
        })
    };
    for i in 1..=200 {
        write(&sink(&path), &values(&Secret::new(format!("t{i}")))).expect("the reader lets go in time");
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("the reader saw only whole files");
    assert!(reads > 10, "the reader kept reading during the rewrites ({reads} reads)");
    let last: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(last["access_token"], "t200");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file is left behind");
}

#[test]
fn a_file_held_open_past_the_retries_is_reported_and_left_whole() {
    let dir = scratch("held");
    let path = dir.join("token.json");
    write(&sink(&path), &values(&Secret::new("old"))).unwrap();
    let held = open_like_python(&path).unwrap();
    let e = write(&sink(&path), &values(&Secret::new("new"))).unwrap_err().to_string();
    assert!(e.contains("stayed open in another program"), "{e}");
    let kept: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(kept["access_token"], "old", "the old content stays whole");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file is left behind");
    drop(held);
    write(&sink(&path), &values(&Secret::new("new"))).expect("once the reader let go");
    let now: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(now["access_token"], "new");
}
