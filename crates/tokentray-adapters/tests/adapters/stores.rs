//! Secret stores and the state file, on the real keyring daemon and real files.
//!
//! The keyring test needs a Secret Service on the D-Bus session bus (the test
//! command starts gnome-keyring); it is never skipped: without one it fails
//! with the message a user would get.

use std::path::PathBuf;
use tokentray_adapters::store::state::{AccountState, StateFile};
use tokentray_adapters::store::{KeyringStore, PlaintextStore, SecretItem, SecretStore, StorageKind, TokenSet};
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, Refreshability, Span, TokenMeta};

/// A directory that does not exist yet: the store creates it, privately.
fn scratch(name: &str) -> PathBuf {
    tokentray_testkit::scratch(&format!("stores-{name}")).join("data")
}

fn tokens(n: u32) -> TokenSet {
    TokenSet {
        access_token: Secret::new(format!("access-{n}-0123456789")),
        refresh_token: Some(Secret::new(format!("refresh-{n}"))),
        feed_token: Some(Secret::new(format!("feed-{n}"))),
    }
}

/// The same contract for every store.
fn exercise(store: &dyn SecretStore) {
    let account = "kite-main";
    store.delete(account, SecretItem::ApiSecret).unwrap();
    store.delete(account, SecretItem::Tokens).unwrap();
    assert_eq!(store.get(account, SecretItem::ApiSecret).unwrap(), None, "a missing entry is None, not an error");
    assert_eq!(store.tokens(account).unwrap(), None);

    store.set(account, SecretItem::ApiSecret, &Secret::new("s3cret")).unwrap();
    store.set(account, SecretItem::Pin, &Secret::new("4321")).unwrap();
    store.set_tokens(account, &tokens(1)).unwrap();
    store.set_tokens("other", &tokens(9)).unwrap();
    assert_eq!(store.get(account, SecretItem::ApiSecret).unwrap(), Some(Secret::new("s3cret")));
    assert_eq!(store.tokens(account).unwrap(), Some(tokens(1)));

    // A rotation replaces access and refresh token together.
    store.set_tokens(account, &tokens(2)).unwrap();
    assert_eq!(store.tokens(account).unwrap(), Some(tokens(2)));
    assert_eq!(store.tokens("other").unwrap(), Some(tokens(9)), "accounts are kept apart");

    store.delete(account, SecretItem::Tokens).unwrap();
    assert_eq!(store.tokens(account).unwrap(), None);
    assert_eq!(
        store.get(account, SecretItem::ApiSecret).unwrap(),
        Some(Secret::new("s3cret")),
        "logout keeps the api secret"
    );
    assert_eq!(store.get(account, SecretItem::Pin).unwrap(), Some(Secret::new("4321")), "and the PIN, apart from it");
    store.delete(account, SecretItem::Tokens).unwrap();
    for (a, item) in [(account, SecretItem::ApiSecret), (account, SecretItem::Pin), ("other", SecretItem::Tokens)] {
        store.delete(a, item).unwrap();
    }
}

#[test]
fn keyring_store_on_the_real_secret_service() {
    let store = KeyringStore::new(&format!("tokentray-test-{}", std::process::id()));
    if let Err(e) = store.get("probe", SecretItem::ApiSecret) {
        panic!("the keyring test needs a running Secret Service; run the README's test command. {e}");
    }
    exercise(&store);
    assert_eq!(store.kind(), StorageKind::Keyring);
}

#[cfg(unix)]
#[test]
fn plaintext_store_is_a_private_file_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("plaintext");
    let path = dir.join("secrets.json");
    let store = PlaintextStore::new(path.clone());
    exercise(&store);
    store.set("a", SecretItem::ApiSecret, &Secret::new("x")).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(store.kind().to_string().contains("PLAINTEXT"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_corrupt_plaintext_file_is_reported_not_overwritten() {
    let dir = scratch("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secrets.json");
    std::fs::write(&path, "{not json").unwrap();
    let store = PlaintextStore::new(path.clone());
    let e = store.set("a", SecretItem::ApiSecret, &Secret::new("x")).unwrap_err();
    assert!(e.to_string().contains("secrets.json"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json", "nothing is lost");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_state_file_round_trips_and_holds_no_secret() {
    let dir = scratch("state");
    let file = StateFile::in_dir(&dir);
    assert!(file.load().unwrap().accounts.is_empty(), "no file yet is an empty state");
    let now = chrono::Utc::now();
    let mut state = file.load().unwrap();
    state.accounts.insert(
        "schwab".into(),
        AccountState {
            token: Some(TokenMeta {
                issued_at: now,
                expires_at: now + Span::minutes(30),
                login_at: now,
                refresh: Refreshability::Until(now + Span::days(7)),
            }),
            user_id: Some("AB1234".into()),
            user_name: None,
            last_validated: Some(now),
            standing: tokentray_core::Standing {
                refresh_failures: 2,
                retry_at: Some(now + Span::seconds(40)),
                last_error: Some(ErrorClass::Transient),
                ..Default::default()
            },
            last_error_message: Some("schwab: cannot connect".into()),
            pending_save: None,
            sinks: Vec::new(),
            renewals_refused: 1,
            logins_refused: 0,
        },
    );
    file.save(&state).unwrap();
    assert_eq!(file.load().unwrap(), state);
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert!(!text.contains("access_token") && !text.contains("refresh_token") && text.contains("expires_at"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Two writers with their own store objects (as two processes have) each
/// write their own account 300 times: the file lock keeps every write.
#[test]
fn two_writers_of_the_plaintext_store_lose_nothing() {
    let dir = scratch("plaintext-race");
    let path = dir.join("secrets.json");
    let writers: Vec<_> = ["alpha", "beta"]
        .into_iter()
        .map(|account| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = PlaintextStore::new(path);
                for i in 0..300 {
                    store.set(account, SecretItem::ApiSecret, &Secret::new(format!("{account}-{i}"))).unwrap();
                    store.set(&format!("{account}-{i}"), SecretItem::ApiSecret, &Secret::new("x")).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let store = PlaintextStore::new(path);
    for account in ["alpha", "beta"] {
        assert_eq!(store.get(account, SecretItem::ApiSecret).unwrap().unwrap().expose(), format!("{account}-299"));
        let lost =
            (0..300).filter(|i| store.get(&format!("{account}-{i}"), SecretItem::ApiSecret).unwrap().is_none()).count();
        assert_eq!(lost, 0, "{account}: writes lost");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
