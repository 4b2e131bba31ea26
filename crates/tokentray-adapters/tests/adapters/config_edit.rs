//! Edits from the account form keep comments and unknown fields, and never
//! produce a config that does not load.

use std::path::Path;
use tokentray_adapters::config::edit::{remove_account, set_thresholds, upsert_account, AccountDraft};
use tokentray_adapters::config::Config;

const START: &str = r#"# My TokenTray accounts
http_timeout = "10s"  # slow VPN

[[account]]
id = "kite-main"   # the family account
provider = "kite"
api_key = "abc"
redirect_uri = "http://127.0.0.1:5010/cb"
api_base = "https://proxy.example/kite"
"#;

fn path() -> &'static Path {
    Path::new("/home/t/.config/tokentray/config.toml")
}

fn draft(id: &str, provider: &str) -> AccountDraft {
    AccountDraft {
        id: id.into(),
        provider: provider.into(),
        api_key: "key".into(),
        redirect_uri: "http://127.0.0.1:5020/cb".into(),
        ..AccountDraft::default()
    }
}

#[test]
fn a_dhan_account_is_written_with_its_client_id_or_refused_without_it() {
    let mut d = draft("dhan", "dhan");
    let e = upsert_account(START, path(), &d, None).unwrap_err();
    assert!(e.to_string().contains("user_id"), "{e}");
    d.user_id = Some(" 1100000001 ".into());
    let text = upsert_account(START, path(), &d, None).unwrap();
    let c = Config::parse(&text, path()).unwrap();
    assert_eq!(c.account("dhan").unwrap().user_id.as_deref(), Some("1100000001"));
    d.provider = "zerodha".into();
    let e = upsert_account(START, path(), &d, None).unwrap_err();
    assert!(e.to_string().contains("kite, upstox, schwab, fyers, dhan, angelone, tastytrade, etrade"), "{e}");
}

#[test]
fn adding_an_account_keeps_everything_else() {
    let mut d = draft("upstox", "upstox");
    d.orange = Some("2h".into());
    let text = upsert_account(START, path(), &d, None).unwrap();
    assert!(text.starts_with("# My TokenTray accounts\nhttp_timeout = \"10s\"  # slow VPN\n"), "{text}");
    assert!(text.contains("id = \"kite-main\"   # the family account"));
    let c = Config::parse(&text, path()).unwrap();
    assert_eq!(c.accounts.len(), 2);
    assert_eq!(c.account("upstox").unwrap().thresholds.orange, tokentray_core::Span::hours(2));
}

#[test]
fn editing_keeps_fields_the_form_does_not_show() {
    let mut d = draft("kite-family", "kite");
    d.label = Some("Family".into());
    let text = upsert_account(START, path(), &d, Some("kite-main")).unwrap();
    let c = Config::parse(&text, path()).unwrap();
    let a = c.account("kite-family").unwrap();
    assert_eq!(a.label, "Family");
    assert_eq!(a.api_base.as_str(), "https://proxy.example/kite");
    assert!(c.account("kite-main").is_none(), "renamed, not copied");
}

#[test]
fn a_duplicate_or_invalid_account_is_refused_before_writing() {
    let e = upsert_account(START, path(), &draft("kite-main", "kite"), None).unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    let e = upsert_account(START, path(), &draft("x", "zerodha"), None).unwrap_err();
    assert!(e.to_string().contains("zerodha"), "{e}");
    let mut bad = draft("x", "kite");
    bad.redirect_uri = "not a url".into();
    let e = upsert_account(START, path(), &bad, None).unwrap_err();
    assert!(e.to_string().contains("redirect_uri"), "{e}");
    let e = upsert_account(START, path(), &draft("x", "oauth2"), None).unwrap_err();
    assert!(e.to_string().contains("authorize_url"), "{e}");
}

#[test]
fn oauth2_accounts_get_their_table() {
    let mut d = draft("generic", "oauth2");
    d.authorize_url = Some("https://auth.example/authorize".into());
    d.token_url = Some("https://auth.example/token".into());
    d.scopes = Some("read trade".into());
    let text = upsert_account("", path(), &d, None).unwrap();
    let c = Config::parse(&text, path()).unwrap();
    assert_eq!(c.account("generic").unwrap().oauth2.as_ref().unwrap().scopes, ["read", "trade"]);
}

#[test]
fn removing_and_thresholds() {
    let text = remove_account(START, path(), "kite-main").unwrap();
    assert!(Config::parse(&text, path()).unwrap().accounts.is_empty());
    assert!(text.contains("# slow VPN"));
    assert!(remove_account(START, path(), "nope").is_err());
    let text = set_thresholds(START, path(), "4h", "90m").unwrap();
    let c = Config::parse(&text, path()).unwrap();
    assert_eq!(c.accounts[0].thresholds.red, tokentray_core::Span::minutes(90));
    assert!(set_thresholds(START, path(), "1h", "2h").unwrap_err().to_string().contains("orange must be longer"));
}

#[test]
fn an_edit_error_says_where_it_really_is() {
    let broken = "[thresholds]\norange = \"3h\"\nred = = \"1h\"\n";
    let e = set_thresholds(broken, path(), "3h", "1h").unwrap_err().to_string();
    assert!(e.contains("config.toml:3:"), "the line of the broken file: {e}");
    let e = upsert_account(START, path(), &draft("kite-main", "kite"), None).unwrap_err().to_string();
    assert!(e.starts_with("id: "), "a form error names the form's field, not a place in the file: {e}");
    assert!(!e.contains(":1:1"), "{e}");
}

/// A config may list its accounts as one inline array: it loads, and the
/// window's edits say what to do instead of failing in the engine.
#[test]
fn accounts_written_as_an_inline_array_are_refused_with_what_to_do() {
    let inline = "account = [{ id = \"kite-main\", provider = \"kite\", api_key = \"abc\", \
                  redirect_uri = \"http://127.0.0.1:5010/cb\" }]\n";
    assert_eq!(Config::parse(inline, path()).unwrap().accounts.len(), 1, "it loads");
    for edit in
        [upsert_account(inline, path(), &draft("upstox", "upstox"), None), remove_account(inline, path(), "kite-main")]
    {
        let e = edit.unwrap_err().to_string();
        assert!(e.contains("inline array") && e.contains("[[account]]"), "{e}");
    }
    // Thresholds are not in the array: that edit still works.
    assert!(set_thresholds(inline, path(), "3h", "1h").is_ok());
}
