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
        token_secret: Some(Secret::new(format!("secret-{n}"))),
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

/// A 4 KiB token set (a refresh token and JWTs) where the keyring takes
/// 2,560 bytes (Windows' Credential Manager; on Windows its own limit, on
/// Linux the same limit set on the real Secret Service): stored whole,
/// read back as the truth, and no old value shadows a newer one.
#[test]
fn a_token_set_longer_than_the_keyring_holds_is_kept_whole() {
    let dir = scratch("sealed");
    let store = KeyringStore::new(&format!("tokentray-test-sealed-{}", std::process::id()))
        .sealing_long_values_in(dir.join("sealed"))
        .with_limit(2560);
    let long = |n: u32| TokenSet {
        access_token: Secret::new(format!("eyJ{n}.{}", "a".repeat(2048))),
        refresh_token: Some(Secret::new(format!("r{n}.{}", "b".repeat(2040)))),
        feed_token: None,
        token_secret: None,
    };
    let sealed_files = || std::fs::read_dir(dir.join("sealed")).map(|d| d.count()).unwrap_or(0);
    store.delete("acct", SecretItem::Tokens).unwrap();
    // Short, then long, then long again, then short: each read is the last write.
    store.set_tokens("acct", &tokens(1)).unwrap();
    assert_eq!(store.tokens("acct").unwrap(), Some(tokens(1)));
    assert!(long(2).to_secret().expose().len() >= 4096);
    store.set_tokens("acct", &long(2)).unwrap();
    assert_eq!(store.tokens("acct").unwrap(), Some(long(2)), "the long set is read back whole");
    assert_eq!(sealed_files(), 1);
    store.set_tokens("acct", &long(3)).unwrap();
    assert_eq!(store.tokens("acct").unwrap(), Some(long(3)), "the newer long set, not the older");
    assert_eq!(sealed_files(), 1, "the older sealed file is gone once the entry moved on");
    store.set_tokens("acct", &tokens(4)).unwrap();
    assert_eq!(store.tokens("acct").unwrap(), Some(tokens(4)), "a short set after a long one wins");
    assert_eq!(sealed_files(), 0);
    // A crash between sealing and pointing leaves a spare file, never a wrong read.
    store.set_tokens("acct", &long(5)).unwrap();
    let spare = std::fs::read_dir(dir.join("sealed")).unwrap().next().unwrap().unwrap().path();
    std::fs::copy(
        &spare,
        spare.with_file_name(format!("{}-spare.sealed", &spare.file_stem().unwrap().to_string_lossy()[..20])),
    )
    .unwrap();
    assert_eq!(store.tokens("acct").unwrap(), Some(long(5)));
    // A damaged sealed file is reported, never taken for no token.
    std::fs::write(&spare, b"garbage garbage garbage").unwrap();
    let e = store.tokens("acct").unwrap_err().to_string();
    assert!(e.contains("does not open") && e.contains("store it again"), "{e}");
    std::fs::remove_file(&spare).unwrap();
    let e = store.tokens("acct").unwrap_err().to_string();
    assert!(e.contains("is gone"), "{e}");
    // A value that looks like a pointer is sealed too, so it reads back as written.
    let odd = Secret::new("tokentray-sealed:v1:not-a-pointer");
    store.set("acct", SecretItem::ApiSecret, &odd).unwrap();
    assert_eq!(store.get("acct", SecretItem::ApiSecret).unwrap(), Some(odd));
    store.delete("acct", SecretItem::ApiSecret).unwrap();
    store.delete("acct", SecretItem::Tokens).unwrap();
    assert_eq!(store.tokens("acct").unwrap(), None);
    assert_eq!(sealed_files(), 0, "a delete leaves no sealed file behind");
    // Without a place to seal, a long value is refused and the old one stays.
    let bare = KeyringStore::new(&format!("tokentray-test-sealed-{}", std::process::id())).with_limit(2560);
    bare.set_tokens("acct", &tokens(6)).unwrap();
    assert!(bare.set_tokens("acct", &long(7)).unwrap_err().to_string().contains("longer than the keyring holds"));
    assert_eq!(bare.tokens("acct").unwrap(), Some(tokens(6)));
    bare.delete("acct", SecretItem::Tokens).unwrap();
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
