//! What happened to each account over the last days, for the window's
//! timeline: one JSON line per engine event (its kind, the account's state
//! and colour then), in `history.jsonl` in the data directory, 0600. Never a
//! token. Bounded: entries older than `KEEP` are dropped, and the file is
//! compacted when it passes `MAX_BYTES`.
//!
//! The timeline must not claim what nobody watched: a `stopped` entry (for
//! every account) marks when the engine stopped, and `started` entries give
//! each account's state when it came back. A run that ended without saying
//! so (a crash, a power cut) is found at the next start, and its end placed
//! at the last minute it was known to run (`history.alive`, touched every
//! minute).

use crate::{Engine, EngineEvent, EventKind};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use tokentray_core::{Instant, Level, Span, State};

/// How far back the history goes.
pub const KEEP: Span = Span::days(7);
/// The file's size past which it is compacted (a busy week of 30-minute
/// Schwab refreshes for ten accounts is about 1 MB).
pub const MAX_BYTES: u64 = 2 * 1024 * 1024;
/// How often the running engine says it is still running.
pub const ALIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The kinds that are not engine events: the engine stopped (for every
/// account: `account` is empty), and an account's state when it started.
pub const STOPPED: &str = "stopped";
pub const STARTED: &str = "started";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Instant,
    /// Empty for what concerns every account (`stopped`).
    pub account: String,
    /// `token_changed`, `status_changed`, `token_invalid`, `logged_out`,
    /// `stopped`, `started`.
    pub kind: String,
    pub state: Option<State>,
    pub level: Option<Level>,
}

impl HistoryEntry {
    fn of(event: &EngineEvent) -> Option<Self> {
        (event.kind != EventKind::ConfigReloaded).then(|| Self {
            at: event.at,
            account: event.account.clone(),
            kind: event.kind.as_str().to_owned(),
            state: event.snapshot.map(|s| s.state),
            level: event.snapshot.map(|s| s.level),
        })
    }
}

fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("history.jsonl")
}

fn alive_file(data_dir: &Path) -> PathBuf {
    data_dir.join("history.alive")
}

/// Marks `now` as a moment the engine was running at.
fn touch_alive(data_dir: &Path, now: Instant) -> std::io::Result<()> {
    let f = tokentray_adapters::atomic::open_private(&alive_file(data_dir))?;
    f.set_modified(now.into())
}

/// The last moment a run was known to be running, if ever recorded.
fn last_alive(data_dir: &Path) -> Option<Instant> {
    let modified = std::fs::metadata(alive_file(data_dir)).ok()?.modified().ok()?;
    Some(Instant::from(modified))
}

/// Opens the record of a run: closes the one before if it ended without
/// saying so, then records each account's state now.
fn mark_start(data_dir: &Path, now: Instant, accounts: &[(String, State, Level)]) -> std::io::Result<()> {
    if let Some(last) = read(data_dir, now - KEEP).pop() {
        if last.kind != STOPPED {
            // Ended unannounced: it ran until the last minute it said so, or at least until its last entry.
            let at = last_alive(data_dir).map_or(last.at, |alive| alive.max(last.at)).min(now);
            append(data_dir, &stopped_entry(at), now)?;
        }
    }
    for (account, state, level) in accounts {
        let entry = HistoryEntry {
            at: now,
            account: account.clone(),
            kind: STARTED.to_owned(),
            state: Some(*state),
            level: Some(*level),
        };
        append(data_dir, &entry, now)?;
    }
    touch_alive(data_dir, now)
}

fn stopped_entry(at: Instant) -> HistoryEntry {
    HistoryEntry { at, account: String::new(), kind: STOPPED.to_owned(), state: None, level: None }
}

/// The entries since `since`, oldest first; lines that do not read (a torn
/// write, a stray byte) are skipped, never the whole history with them.
pub fn read(data_dir: &Path, since: Instant) -> Vec<HistoryEntry> {
    let bytes = std::fs::read(file(data_dir)).unwrap_or_default();
    let mut entries: Vec<HistoryEntry> = String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| serde_json::from_str::<HistoryEntry>(l).ok())
        .filter(|e| e.at >= since)
        .collect();
    // Written in order but for a wall clock set back; the timeline needs order.
    entries.sort_by_key(|e| e.at);
    entries
}

/// Appends `entry`; compacts the file when it has grown past `MAX_BYTES`.
pub fn append(data_dir: &Path, entry: &HistoryEntry, now: Instant) -> std::io::Result<()> {
    let path = file(data_dir);
    let mut line = serde_json::to_string(entry).expect("entries serialize");
    line.push('\n');
    // Appended in one write, and never through a link.
    let mut f = tokentray_adapters::atomic::open_private_append(&path)?;
    f.write_all(line.as_bytes())?;
    let size = f.metadata()?.len();
    // Closed before a compaction replaces the file (Windows would refuse
    // to replace a file this process still holds).
    drop(f);
    if size > MAX_BYTES {
        compact(data_dir, now)?;
    }
    Ok(())
}

/// Keeps what is younger than `KEEP`, and at most half of `MAX_BYTES` of it
/// (the newest), so that compacting is rare.
fn compact(data_dir: &Path, now: Instant) -> std::io::Result<()> {
    let kept: Vec<String> =
        read(data_dir, now - KEEP).iter().map(|e| serde_json::to_string(e).expect("entries serialize")).collect();
    let mut total = 0u64;
    let newest: Vec<&String> = kept
        .iter()
        .rev()
        .take_while(|l| {
            total += l.len() as u64 + 1;
            total <= MAX_BYTES / 2
        })
        .collect();
    let text: String = newest.iter().rev().map(|l| format!("{l}\n")).collect();
    tokentray_adapters::atomic::write_private(&file(data_dir), text.as_bytes())
}

impl Engine {
    /// Records every event in the history until the engine stops. The
    /// process that serves the control socket runs this: one writer per data directory.
    pub(crate) fn spawn_history(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let mut events = self.subscribe();
        let mut stopped = self.stopped();
        let accounts: Vec<(String, State, Level)> =
            self.statuses().into_iter().map(|s| (s.id, s.state, s.level)).collect();
        if let Err(e) = mark_start(self.data_dir(), self.now(), &accounts) {
            tracing::warn!("cannot record the start in the history: {e}");
        }
        // A stop waits for this task's last entries, as for any write in flight.
        let work = self.begin_work();
        tokio::spawn(async move {
            let _work = work;
            let mut alive = tokio::time::interval(ALIVE_EVERY);
            let record = |event: &EngineEvent| {
                if let Some(entry) = HistoryEntry::of(event) {
                    if let Err(e) = append(engine.data_dir(), &entry, engine.now()) {
                        tracing::warn!("cannot record the history: {e}");
                    }
                }
            };
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = alive.tick() => {
                        if let Err(e) = touch_alive(engine.data_dir(), engine.now()) {
                            tracing::warn!("cannot record that the engine runs: {e}");
                        }
                        continue;
                    }
                    _ = stopped.changed() => {
                        // What happened up to the stop, then the stop itself.
                        while let Ok(event) = events.try_recv() {
                            record(&event);
                        }
                        let _ = append(engine.data_dir(), &stopped_entry(engine.now()), engine.now());
                        let _ = touch_alive(engine.data_dir(), engine.now());
                        break;
                    }
                };
                match event {
                    Ok(event) => record(&event),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("the history missed {n} events");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// The last `KEEP` of history, every account's, oldest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        read(self.data_dir(), self.now() - KEEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: Instant, n: usize) -> HistoryEntry {
        HistoryEntry {
            at,
            account: format!("account-{n}"),
            kind: "status_changed".into(),
            state: Some(State::Valid),
            level: Some(Level::Green),
        }
    }

    #[test]
    fn the_history_keeps_a_week_within_its_size() {
        let dir = tokentray_testkit::scratch("history");
        let now: tokentray_core::Instant = "2026-12-07T10:00:00Z".parse().unwrap();
        append(&dir, &entry(now - Span::days(8), 0), now).unwrap();
        append(&dir, &entry(now - Span::hours(1), 1), now).unwrap();
        let read_back = read(&dir, now - KEEP);
        assert_eq!(read_back, vec![entry(now - Span::hours(1), 1)], "older than a week is not shown");
        // Past the size, a compaction keeps the newest half of the week.
        let mut n = 2;
        while std::fs::metadata(file(&dir)).unwrap().len() <= MAX_BYTES - 1024 {
            append(&dir, &entry(now, n), now).unwrap();
            n += 1;
        }
        for _ in 0..20 {
            append(&dir, &entry(now, n), now).unwrap();
            n += 1;
        }
        let size = std::fs::metadata(file(&dir)).unwrap().len();
        assert!(size <= MAX_BYTES / 2 + 4096, "compacted: {size}");
        let kept = read(&dir, now - KEEP);
        assert_eq!(kept.last().unwrap().account, format!("account-{}", n - 1), "the newest are kept");
        assert!(!kept.iter().any(|e| e.account == "account-0"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(file(&dir)).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // A torn or foreign line is skipped, not fatal.
        std::fs::write(file(&dir), "{\"at\": nonsense\n").unwrap();
        assert!(read(&dir, now - KEEP).is_empty());
    }

    #[test]
    fn a_run_that_ended_unannounced_is_closed_at_its_last_known_minute() {
        let dir = tokentray_testkit::scratch("history-crash");
        let now: tokentray_core::Instant = "2026-12-07T10:00:00Z".parse().unwrap();
        append(&dir, &entry(now - Span::hours(5), 1), now).unwrap();
        touch_alive(&dir, now).unwrap();
        let alive_at = now - Span::hours(3);
        let f = std::fs::File::options().write(true).open(alive_file(&dir)).unwrap();
        f.set_modified(alive_at.into()).unwrap();
        mark_start(&dir, now, &[("account-1".into(), State::NeedsLogin, Level::Expired)]).unwrap();
        let entries = read(&dir, now - KEEP);
        let kinds: Vec<(&str, &str)> = entries.iter().map(|e| (e.kind.as_str(), e.account.as_str())).collect();
        assert_eq!(kinds, [("status_changed", "account-1"), (STOPPED, ""), (STARTED, "account-1")]);
        let stopped_at = entries[1].at;
        assert!((stopped_at - alive_at).num_seconds().abs() <= 1, "stopped at {stopped_at}, alive at {alive_at}");
        assert_eq!(entries[2].level, Some(Level::Expired));

        // A run that said it stopped is not closed twice.
        append(&dir, &stopped_entry(now + Span::minutes(1)), now).unwrap();
        mark_start(&dir, now + Span::minutes(2), &[]).unwrap();
        assert_eq!(read(&dir, now - KEEP).iter().filter(|e| e.kind == STOPPED).count(), 2);
    }
}
