//! The config file: one example per provider, and an error that names the
//! file, the line and the field for each way it can be wrong.

use std::path::Path;
use tokentray_adapters::config::{ClientAuth, Config, ConfigError, StorageChoice};
use tokentray_core::{ProviderKind, Span};

const EXAMPLE: &str = r#"
[thresholds]
orange = "3h"
red = "1h"

[[account]]
id = "kite-main"
provider = "kite"
api_key = "kitekey123"
redirect_uri = "http://127.0.0.1:5010/kite/callback"

[[account]]
id = "upstox"
provider = "upstox"
api_key = "upstox-client"
redirect_uri = "http://127.0.0.1:5011/upstox/callback"
[account.thresholds]
orange = "2h"

[[account]]
id = "schwab"
provider = "schwab"
client_id = "schwab-app-key"
redirect_uri = "https://127.0.0.1:8182"
label = "Schwab IRA"

[[account]]
id = "generic"
provider = "oauth2"
api_key = "my-client"
redirect_uri = "http://127.0.0.1:5013/callback"
refresh_lead = "2m"
[account.oauth2]
authorize_url = "https://auth.example.com/authorize"
token_url = "https://auth.example.com/token"
profile_url = "https://auth.example.com/userinfo"
scopes = ["read", "trade"]
client_auth = "body"
refresh_limit = "30d"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/home/trader/.config/tokentray/config.toml"))
}

fn error(text: &str) -> String {
    parse(text).expect_err("the config is invalid").to_string()
}

#[test]
fn one_account_per_provider_reads_with_defaults_resolved() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.storage, StorageChoice::Keyring);
    assert_eq!(c.accounts.len(), 4);
    let kite = c.account("kite-main").unwrap();
    assert_eq!(kite.provider, ProviderKind::Kite);
    assert_eq!(kite.api_base.as_str(), "https://api.kite.trade/");
    assert_eq!(kite.login_base.as_str(), "https://kite.zerodha.com/");
    assert_eq!(kite.label, "kite-main");
    assert_eq!(kite.thresholds.orange, Span::hours(3));
    assert!(kite.policy().cutoff.is_some());

    let upstox = c.account("upstox").unwrap();
    assert_eq!(upstox.thresholds.orange, Span::hours(2));
    assert_eq!(upstox.thresholds.red, Span::hours(1), "unset values inherit the global thresholds");
    assert_eq!(upstox.login_base.as_str(), "https://api.upstox.com/");

    let schwab = c.account("schwab").unwrap();
    assert_eq!(schwab.api_key, "schwab-app-key", "client_id is an alias of api_key");
    assert_eq!(schwab.label, "Schwab IRA");
    assert_eq!(schwab.refresh_limit(), Some(Span::days(7)));

    let generic = c.account("generic").unwrap();
    let o = generic.oauth2.as_ref().unwrap();
    assert_eq!(o.client_auth, ClientAuth::Body);
    assert!(o.pkce, "PKCE is on unless turned off");
    assert_eq!(o.scopes, ["read", "trade"]);
    assert_eq!(generic.refresh_limit(), Some(Span::days(30)));
    assert_eq!(generic.refresh_lead, Some(Span::minutes(2)));
    assert!(generic.policy().validate_every.is_some());
}

#[test]
fn an_empty_file_is_a_config_with_no_accounts() {
    assert!(parse("").unwrap().accounts.is_empty());
}

#[test]
fn malformed_toml_names_file_and_line() {
    let e = error("[[account]]\nid = \"a\"\nprovider = kite\n");
    assert!(e.starts_with("/home/trader/.config/tokentray/config.toml:3:"), "{e}");
}

/// An endpoint is called or opened in the browser: only http(s) is taken
/// (a `file:` authorize address from a shared snippet would run a program).
#[test]
fn endpoints_that_are_not_web_addresses_are_refused() {
    let account = "[[account]]\nid = \"o\"\nprovider = \"oauth2\"\napi_key = \"c\"\nredirect_uri = \"http://127.0.0.1:5010/cb\"\n";
    for (table, bad) in [
        ("[account.oauth2]\nauthorize_url = \"file:///C:/Windows/System32/calc.exe\"\ntoken_url = \"https://x.example/t\"\n", "authorize_url"),
        ("[account.oauth2]\nauthorize_url = \"https://x.example/a\"\ntoken_url = \"ftp://x.example/t\"\n", "token_url"),
    ] {
        let e = error(&format!("{account}{table}"));
        assert!(e.contains(&format!("{bad} must be an http:// or https:// address")), "{e}");
    }
    let e = error("[[account]]\nid = \"k\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:5010/cb\"\nlogin_base = \"file:///etc/\"\n");
    assert!(e.contains("login_base must be an http:// or https:// address"), "{e}");
}

/// The mistake every Windows user makes once: a path in "double quotes"
/// whose backslashes TOML reads as escapes. The error says how to write it.
#[test]
fn a_windows_path_in_double_quotes_is_told_how_to_write_it() {
    let e = error(
        "[[account]]\nid = \"k\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:5010/cb\"\n\
         [[account.sink]]\nformat = \"env\"\npath = \"C:\\Users\\me\\bot\\.env\"\n",
    );
    assert!(e.contains("config.toml:8:") && e.contains("'single quotes' or forward slashes"), "{e}");
    let fine =
        "[[account]]\nid = \"k\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:5010/cb\"\n\
                [[account.sink]]\nformat = \"env\"\npath = 'C:\\Users\\me\\bot\\.env'\n";
    assert_eq!(parse(fine).unwrap().accounts[0].sinks[0].path.to_string_lossy(), r"C:\Users\me\bot\.env");
}

#[test]
fn an_unknown_provider_is_named_with_the_choices() {
    let e = error(
        "[[account]]\nid = \"a\"\nprovider = \"zerodha\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n",
    );
    assert!(e.contains("config.toml:3:"), "{e}");
    assert!(e.contains("provider: unknown provider `zerodha`"), "{e}");
    assert!(e.contains("kite") && e.contains("oauth2"), "{e}");
}

#[test]
fn a_missing_field_is_named() {
    let e = error("[[account]]\nid = \"a\"\nprovider = \"kite\"\nredirect_uri = \"http://127.0.0.1:1/\"\n");
    assert!(e.contains("api_key is missing"), "{e}");
    assert!(e.contains("config.toml:2:"), "the account's id line: {e}");
    let e = error("[[account]]\nid = \"a\"\nprovider = \"kite\"\napi_key = \"k\"\n");
    assert!(e.contains("redirect_uri is missing"), "{e}");
    // A code typed (E*TRADE), a token pasted or a gateway's page: no redirect, and for
    // the last two no app key.
    let ok = |text: &str| Config::parse(text, Path::new("config.toml")).unwrap_or_else(|e| panic!("{e}"));
    ok("[[account]]\nid = \"e\"\nprovider = \"etrade\"\napi_key = \"k\"\n");
    ok("[[account]]\nid = \"u\"\nprovider = \"upstox-analytics\"\n");
    let ibkr = ok("[[account]]\nid = \"i\"\nprovider = \"ibkr\"\n");
    assert_eq!(ibkr.account("i").unwrap().api_base.as_str(), "https://localhost:5000/");
    let e = error("[[account]]\nid = \"e\"\nprovider = \"etrade\"\n");
    assert!(e.contains("api_key is missing"), "{e}");
}

#[test]
fn dhan_and_angel_one_need_a_plain_client_id() {
    let account = |provider: &str, user: &str| {
        format!("[[account]]\nid = \"a\"\nprovider = \"{provider}\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n{user}")
    };
    for provider in ["dhan", "angelone"] {
        let e = error(&account(provider, ""));
        assert!(e.contains("needs user_id") && e.contains("config.toml:2:"), "{provider}: {e}");
        let e = error(&account(provider, "user_id = \"11 00\\r\\nX: y\"\n"));
        assert!(e.contains("user_id: use the id as the broker writes it"), "{provider}: {e}");
        let ok = Config::parse(&account(provider, "user_id = \" A123 \"\n"), Path::new("config.toml")).unwrap();
        assert_eq!(ok.accounts[0].user_id.as_deref(), Some("A123"));
    }
}

#[test]
fn a_duplicate_id_points_at_both_lines() {
    let text = "[[account]]\nid = \"a\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n\n\
                [[account]]\nid = \"a\"\nprovider = \"upstox\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n";
    let e = error(text);
    assert!(e.contains("config.toml:8:"), "{e}");
    assert!(e.contains("duplicate id") && e.contains("line 2"), "{e}");
}

#[test]
fn a_misspelt_field_is_refused_not_ignored() {
    let e = error(
        "[[account]]\nid = \"a\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_url = \"http://127.0.0.1:1/\"\n",
    );
    assert!(e.contains("redirect_url"), "{e}");
    assert!(e.contains("config.toml:5:"), "{e}");
}

#[test]
fn a_secret_in_the_config_is_refused() {
    let e = error("[[account]]\nid = \"a\"\nprovider = \"kite\"\napi_key = \"k\"\napi_secret = \"s\"\nredirect_uri = \"http://127.0.0.1:1/\"\n");
    assert!(e.contains("api_secret"), "{e}");
}

#[test]
fn oauth2_needs_its_table_and_others_may_not_have_it() {
    let e = error(
        "[[account]]\nid = \"g\"\nprovider = \"oauth2\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n",
    );
    assert!(e.contains("config.toml:2:") && e.contains("[account.oauth2]"), "{e}");
    let e = error("[[account]]\nid = \"k\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n[account.oauth2]\nauthorize_url = \"https://a/\"\ntoken_url = \"https://a/t\"\n");
    assert!(e.contains("only for provider"), "{e}");
}

#[test]
fn bad_values_say_what_to_write() {
    let base =
        "[[account]]\nid = \"a\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n";
    let e = error(&format!("{base}refresh_lead = \"5 minutes\"\n"));
    assert!(e.contains("config.toml:6:") && e.contains("unit"), "{e}");
    let e = error("[[account]]\nid = \"a\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"not a url\"\n");
    assert!(e.contains("config.toml:5:"), "{e}");
    let e = error(&format!("[thresholds]\norange = \"1h\"\nred = \"2h\"\n{base}"));
    assert!(e.contains("orange must be longer than red"), "{e}");
    let e = error("[[account]]\nid = \"my account\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/\"\n");
    assert!(e.contains("config.toml:2:") && e.contains("contains ` `"), "{e}");
    let e = error("# a comment\nhttp_timeout = \"0s\"\n");
    assert!(e.contains("config.toml:2:") && e.contains("longer than zero"), "{e}");
}

#[test]
fn a_missing_file_is_told_apart_from_a_bad_one() {
    let e = Config::load(Path::new("/nonexistent/tokentray/config.toml")).unwrap_err();
    assert!(e.is_missing_file());
    assert!(e.to_string().contains("/nonexistent/tokentray/config.toml"));
}
