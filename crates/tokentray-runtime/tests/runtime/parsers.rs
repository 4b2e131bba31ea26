//! The runtime's own parsers of outside input, fed arbitrary bytes: the
//! control socket's request lines and an SSE client's `Last-Event-ID`. None
//! may panic. `TOKENTRAY_FUZZ_CASES` sets the cases (1,000 here;
//! `scripts/bench.sh` runs 100,000).

use crate::common::*;
use proptest::prelude::*;
use tokentray_runtime::api::last_event_id;
use tokentray_runtime::control::{LineError, LineReader, Request, MAX_LINE};
use tokentray_testkit::fuzz;

#[test]
fn control_socket_lines_are_read_or_refused_never_panics() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let request_like = prop_oneof![
        any::<Vec<u8>>(),
        "[ -~]{0,80}\n".prop_map(String::into_bytes),
        ("[a-z_]{0,12}", "[ -~]{0,20}")
            .prop_map(|(cmd, account)| format!("{{\"cmd\":\"{cmd}\",\"account\":{account:?}}}\n").into_bytes()),
        (0usize..3 * MAX_LINE).prop_map(|n| vec![b'{'; n]),
    ];
    fuzz("control socket lines", request_like, |bytes| {
        let mut reader = LineReader::new(&bytes[..], MAX_LINE);
        let mut refused = false;
        loop {
            match runtime.block_on(reader.next()) {
                Ok(None) => break,
                Ok(Some(line)) => {
                    assert!(line.len() <= MAX_LINE);
                    if let Err(e) = serde_json::from_str::<Request>(&line) {
                        assert!(!e.to_string().is_empty());
                        refused = true;
                    }
                }
                Err(why) => {
                    assert!(matches!(why, LineError::TooLong(MAX_LINE) | LineError::NotUtf8), "{why}");
                    refused = true;
                    break;
                }
            }
        }
        refused
    });
}

#[tokio::test]
async fn a_last_event_id_of_any_kind_resumes_or_resets_never_panics() {
    let w = world("fuzz-last-event-id", None).await;
    let engine = w.engine();
    log_in(&engine, "oauth").await;
    let id = prop_oneof![
        any::<String>(),
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..8).prop_map(|n| format!(" {n} ")),
        "[ 0-9+-]{0,24}",
    ];
    fuzz("last-event-id", id, |text| match last_event_id(&text) {
        // An id from the future or from before the ring asks the client to re-read.
        Some(after) => engine.events_since(after).is_none(),
        None => true,
    });
}
