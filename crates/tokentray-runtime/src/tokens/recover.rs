//! What a start-up puts right after a crash or a kill -9:
//! - a grant the journal holds but the secret store does not is stored
//!   (a rotated refresh token is never lost);
//! - temporary files of TokenTray's atomic writes that a dead process left
//!   behind are removed (they may hold a token);
//! - sinks still holding an older token than the stored one are rewritten.

use crate::{Engine, EngineError, EventKind};
use tokentray_adapters::provider::{Grant, UserInfo};
use tokentray_adapters::sinks::is_current;
use tokentray_core::{Event, Standing};

/// What `recover` did, for the log and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    pub grants_replayed: usize,
    pub leftovers_removed: usize,
    pub sinks_rewritten: usize,
}

impl Engine {
    /// Replays the journal, and with `full` also cleans leftovers and
    /// rewrites stale sinks (the daemon and the tray; a one-shot CLI call
    /// only needs the replay, and skips the keyring reads the sinks need).
    pub async fn recover(&self, full: bool) -> Result<Recovery, EngineError> {
        let mut done = Recovery { grants_replayed: self.replay_journal().await?, ..Recovery::default() };
        // What a command stored between this engine's first read of the
        // state file and its claim of the control channel: from then on
        // such a command hands its work here, or announces it (`Adopt`).
        self.adopt_all_from_disk().await?;
        // What other machines stored while this one was away.
        self.adopt_all_shared().await?;
        if full {
            done.leftovers_removed = self.remove_leftovers();
            done.sinks_rewritten = self.rewrite_stale_sinks().await;
        }
        if done != Recovery::default() {
            tracing::info!(
                "start-up recovery: {} grant(s) replayed from the journal, {} leftover temp file(s) removed, {} stale sink(s) rewritten",
                done.grants_replayed,
                done.leftovers_removed,
                done.sinks_rewritten
            );
        }
        Ok(done)
    }

    async fn replay_journal(&self) -> Result<usize, EngineError> {
        let dir = self.data_dir().join("journal");
        if std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none()) {
            return Ok(0);
        }
        let Some(journal) = self.journal().await else { return Ok(0) };
        let mut replayed = 0;
        for id in journal.accounts()? {
            if self.with_slot(&id, |_| ()).is_err() {
                continue; // An account no longer in the config: its record stays for when it returns.
            }
            let _lock =
                crate::plumbing::file_lock::acquire(&self.lock_path(&id), std::time::Duration::from_secs(60)).await?;
            let entry = match journal.read(&id) {
                Ok(Some(entry)) => entry,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(account = %id, "{e}; it is left in place");
                    continue;
                }
            };
            let stored = self.with_slot(&id, |s| s.lifecycle.token().copied())?;
            // With Vault, a replayed renewal is judged by what Vault holds
            // (the token it replaced), never by comparing machines' clocks.
            let judged_by_vault = self.shared().is_some() && entry.replaces.is_some();
            if !judged_by_vault && stored.is_some_and(|m| m.issued_at >= entry.meta.issued_at) {
                journal.clear(&id)?;
                continue;
            }
            tracing::warn!(account = %id, "a new token was not fully saved before TokenTray stopped; saving it now");
            let grant = Grant {
                tokens: entry.tokens,
                meta: entry.meta,
                user: UserInfo { user_id: entry.user_id, user_name: entry.user_name },
            };
            // With Vault, a replayed renewal is stored only over the token it replaced.
            if let (Some(shared), Some(parent)) = (self.shared(), entry.replaces) {
                shared.expect_parent(&id, parent);
            }
            let restored = |meta| Event::Restored { meta, validated_at: None, standing: Standing::default() };
            self.install(&id, grant, restored).await?;
            replayed += 1;
        }
        Ok(replayed)
    }

    fn remove_leftovers(&self) -> usize {
        use tokentray_adapters::atomic;
        let data = self.data_dir();
        // Everything TokenTray writes in its own directories, whatever the file.
        let own: usize = [data.to_path_buf(), data.join("journal"), data.join("tls"), data.join("locks")]
            .iter()
            .map(|dir| atomic::remove_leftovers_in(dir).unwrap_or(0))
            .sum();
        // Elsewhere, only what it writes there: the config (the window's edits) and the sinks.
        let config = self.config();
        let theirs = std::iter::once(config.path.clone())
            .chain(config.accounts.iter().flat_map(|a| a.sinks.iter().map(|s| s.path.clone()).collect::<Vec<_>>()));
        own + theirs.map(|p| atomic::remove_leftovers(&p).unwrap_or(0)).sum::<usize>()
    }

    async fn rewrite_stale_sinks(&self) -> usize {
        let mut rewritten = 0;
        for account in self.config().accounts {
            if account.sinks.is_empty() {
                continue;
            }
            // Read from the store into the slot, where the sinks are written from.
            if self.tokens(&account.id).await.is_err() {
                continue;
            }
            let Ok(Some(inputs)) = self.with_slot(&account.id, |s| s.sink_inputs()) else { continue };
            let values = inputs.values();
            // A sink that cannot be read counts as stale: the write reports why.
            let stale = account.sinks.iter().any(|sink| !is_current(sink, &values).unwrap_or(false));
            if stale {
                rewritten += 1;
                self.write_sinks(&account.id).await;
                self.publish(&account.id, EventKind::StatusChanged);
            }
        }
        rewritten
    }
}
