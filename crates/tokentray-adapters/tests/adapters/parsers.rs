//! Every parser that takes outside input, fed arbitrary bytes and
//! near-miss shapes: the config, a login callback's query, a pasted URL, a
//! JWT's `exp`, every provider's token and profile answers, and the user's
//! env, JSON and TOML sink files. None may panic; each refusal is an error
//! with a message. `TOKENTRAY_FUZZ_CASES` sets the cases per parser (1,000
//! here; `scripts/bench.sh` runs 100,000).

use crate::common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use tokentray_adapters::config::Config;
use tokentray_adapters::provider::{is_token_text, jwt_exp, pasted_callback_query};
use tokentray_adapters::sinks::{rewrite, Field, SinkConfig, SinkFormat, SinkValues};
use tokentray_adapters::Secret;
use tokentray_testkit::fuzz;

/// Text that is sometimes anything at all and sometimes almost what the
/// parser wants, so that the deep paths are reached too.
fn near(vocabulary: &'static [&'static str]) -> impl Strategy<Value = String> {
    let word = prop_oneof![
        3 => prop::sample::select(vocabulary).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => "[ -~]{0,12}",
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ];
    prop_oneof![
        1 => any::<String>(),
        4 => prop::collection::vec(word, 0..40).prop_map(|words| words.concat()),
    ]
}

const CONFIG_WORDS: &[&str] = &[
    "\n",
    " = ",
    "\"",
    "[[account]]\n",
    "[account.oauth2]\n",
    "[[account.sink]]\n",
    "[account.thresholds]\n",
    "[thresholds]\n",
    "[api]\n",
    "[tray]\n",
    "icons",
    "\"light\"",
    "\"dark\"",
    "id",
    "provider",
    "\"kite\"",
    "\"upstox\"",
    "\"schwab\"",
    "\"oauth2\"",
    "api_key",
    "client_id",
    "redirect_uri",
    "\"http://127.0.0.1:5010/cb\"",
    "\"https://127.0.0.1:8182\"",
    "api_base",
    "login_base",
    "orange",
    "red",
    "\"3h\"",
    "\"90s\"",
    "\"0s\"",
    "\"7d\"",
    "\"1h30m\"",
    "storage",
    "\"plaintext\"",
    "\"keyring\"",
    "http_timeout",
    "port",
    "enabled",
    "require_key",
    "true",
    "false",
    "token_lifetime",
    "refresh_lead",
    "validate_every",
    "refresh_limit",
    "label",
    "authorize_url",
    "token_url",
    "profile_url",
    "revocation_url",
    "client_auth",
    "\"basic\"",
    "\"body\"",
    "scopes",
    "[\"a\", \"b\"]",
    "pkce",
    "format",
    "\"env\"",
    "\"json\"",
    "\"toml\"",
    "\"raw\"",
    "path",
    "\"/tmp/x\"",
    "fields",
    "{ A = \"access_token\" }",
    "api_secret",
    "#",
    "'",
    "=",
    ",",
    "{",
    "}",
    "[",
    "]",
    "9999999999999999999999",
    "-1",
    "1e308",
];

#[test]
fn the_config_parser_refuses_clearly_and_never_panics() {
    fuzz("config", near(CONFIG_WORDS), |text| match Config::parse(&text, Path::new("/c/config.toml")) {
        Ok(_) => false,
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("/c/config.toml:") && message.len() > 20, "{message}");
            true
        }
    });
}

const QUERY_KEYS: &[&str] = &[
    "state",
    "code",
    "request_token",
    "status",
    "action",
    "type",
    "error",
    "error_description",
    "redirect_params",
    "success",
    "login",
    "auth_code",
    "s",
    "message",
    "tokenId",
    "auth_token",
    "feed_token",
    "refresh_token",
    "",
];

#[tokio::test]
async fn a_login_callback_query_is_read_or_refused_never_panics() {
    let (_sb, clients) = clients().await;
    let mut attempts = Vec::new();
    for c in &clients {
        attempts.push(new_attempt(c).await);
    }
    let pairs = prop::collection::hash_map(near(QUERY_KEYS), near(QUERY_KEYS), 0..8);
    let pairs = (pairs, any::<bool>(), near(QUERY_KEYS)).prop_map(|(mut q, with_code, code)| {
        if with_code {
            q.insert("code".to_owned(), code.clone());
            q.insert("request_token".to_owned(), code.clone());
            q.insert("auth_code".to_owned(), code.clone());
            q.insert("tokenId".to_owned(), code.clone());
            q.insert("auth_token".to_owned(), code);
            q.insert("status".to_owned(), "success".to_owned());
        }
        q
    });
    fuzz("callback query", (pairs, any::<bool>()), |(mut query, real_state)| {
        let mut refused = true;
        for (client, attempt) in clients.iter().zip(&attempts) {
            if real_state {
                query.insert("state".to_owned(), attempt.state.clone());
            }
            match client.read_callback(&query, attempt) {
                Ok(code) => {
                    assert!(!code.code.is_empty());
                    refused = false;
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        refused
    });
}

#[test]
fn a_pasted_url_is_read_or_refused_never_panics() {
    let words: &'static [&'static str] =
        &["http://", "https://", "127.0.0.1", ":5010", "/cb", "?", "&", "=", "code", "state", "%", "%zz", "#", "\n"];
    fuzz("pasted url", near(words), |line| match pasted_callback_query(&line) {
        Some(query) => {
            assert!(!query.is_empty());
            false
        }
        None => true,
    });
}

#[test]
fn a_jwt_exp_is_read_or_absent_never_panics() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let payload = prop_oneof![
        any::<Vec<u8>>(),
        (any::<i64>(), any::<bool>()).prop_map(|(exp, extra)| {
            let v = if extra { serde_json::json!({"exp": exp, "sub": "x"}) } else { serde_json::json!({"exp": exp}) };
            v.to_string().into_bytes()
        }),
        near(&["{", "}", "\"exp\"", ":", "1790000000", "-5", "1e99", "\"x\"", ",", "null", "[", "]"])
            .prop_map(String::into_bytes),
    ];
    let head = prop_oneof!["[A-Za-z0-9_-]{0,12}", near(&["eyJ", ".", "abc"])];
    let token = (head, payload, near(&[".", "sig", "="]))
        .prop_map(|(head, payload, tail)| format!("{head}.{}{tail}", URL_SAFE_NO_PAD.encode(payload)));
    fuzz("jwt exp", prop_oneof![any::<String>(), token], |token| jwt_exp(&token).is_none());
}

const ANSWER_WORDS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"status\"",
    "\"success\"",
    "\"error\"",
    "\"data\"",
    "\"access_token\"",
    "\"refresh_token\"",
    "\"expires_in\"",
    "\"tok\"",
    "\"a b\"",
    "\"\"",
    "1800",
    "-1",
    "0",
    "1e308",
    "\"3600\"",
    "null",
    "true",
    "\"user_id\"",
    "\"user_name\"",
    "\"login_time\"",
    "\"2026-11-27 09:00:00\"",
    "\"errors\"",
    "\"errorCode\"",
    "\"UDAPI100050\"",
    "\"error_type\"",
    "\"TokenException\"",
    "\"message\"",
    "\"sub\"",
    "\"invalid_grant\"",
    "\"token_type\"",
    "\"Bearer\"",
    "\"s\"",
    "\"ok\"",
    "\"code\"",
    "-16",
    "\"fy_id\"",
    "\"accessToken\"",
    "\"expiryTime\"",
    "\"2026-11-28T09:00:00\"",
    "\"dhanClientId\"",
    "\"DH-901\"",
    "\"jwtToken\"",
    "\"feedToken\"",
    "\"refreshToken\"",
    "\"clientcode\"",
    "\"AG8001\"",
    "false",
];

#[tokio::test]
async fn every_provider_answer_is_read_or_refused_never_panics() {
    let (_sb, clients) = clients().await;
    let status = prop_oneof![
        4 => prop::sample::select(&[200u16, 201, 400, 401, 403, 429, 500, 502, 503][..]),
        1 => 100u16..600,
    ];
    let body = prop_oneof![
        1 => any::<Vec<u8>>(),
        1 => near(ANSWER_WORDS).prop_map(String::into_bytes),
        2 => answer_shaped().prop_map(|v| v.to_string().into_bytes()),
    ];
    let now = chrono::Utc::now();
    fuzz("provider answers", (status, body), |(status, body)| {
        let mut refused = true;
        for client in &clients {
            match client.read_token_answer(status, &body, now) {
                Ok(grant) => {
                    assert!(is_token_text(grant.tokens.access_token.expose()));
                    assert!(grant.tokens.refresh_token.iter().all(|r| is_token_text(r.expose())));
                    assert!(grant.tokens.feed_token.iter().all(|r| is_token_text(r.expose())));
                    assert!(grant.meta.expires_at > now, "a grant always has some life left");
                    refused = false;
                }
                Err(e) => assert_clear(&e),
            }
            if let Err(e) = client.read_profile_answer(status, &body) {
                assert_clear(&e);
            }
        }
        refused
    });
}

/// An error people can read: a message, on one line, of a sane length.
fn assert_clear(e: &tokentray_adapters::provider::ProviderError) {
    let text = e.to_string();
    assert!(!e.message.trim().is_empty() && !text.contains("  "), "{text:?}");
    assert!(!text.chars().any(char::is_control) && text.chars().count() < 500, "{text:?}");
}

/// A leaf a provider might put anywhere: tokens, numbers, text, nothing.
fn leaf() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    prop_oneof![
        "[A-Za-z0-9._~+/=-]{1,40}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
    ]
}

/// JSON in the shapes the providers answer with, filled with any leaves.
fn answer_shaped() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    (leaf(), leaf(), leaf(), leaf(), leaf(), any::<u8>()).prop_map(|(a, b, c, d, e, pick)| match pick % 10 {
        0 => json!({"status": "success", "data": {"access_token": a, "refresh_token": b, "user_id": c, "login_time": d, "user_name": e}}),
        1 => json!({"access_token": a, "refresh_token": b, "expires_in": c, "token_type": d, "user_id": e}),
        2 => json!({"status": "error", "errors": [{"errorCode": a, "message": b, "error_code": c}]}),
        3 => json!({"error": a, "error_description": b, "status": c, "message": d, "error_type": e}),
        5 => json!({"s": a, "code": b, "message": c, "access_token": d, "refresh_token": e}),
        6 => json!({"s": "ok", "code": 200, "data": {"fy_id": a, "name": b}, "message": c}),
        7 => json!({"dhanClientId": a, "accessToken": b, "expiryTime": c, "errorCode": d, "token": e}),
        8 => json!({"status": a, "success": b, "errorcode": c, "errorCode": d, "data": {"jwtToken": e, "clientcode": e}}),
        _ => json!({"status": "success", "data": {"user_id": a, "user_name": b}, "sub": c, "name": d}),
    })
}

const FILE_WORDS: &[&str] = &[
    "\n",
    "=",
    "\"",
    "'",
    "\\",
    "#",
    " ",
    "export ",
    "TOKEN",
    "A",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"token\"",
    "[a]",
    "[a.b]",
    "a.b",
    "x = 1",
    "\"\"\"",
    "null",
    "1",
    "true",
    "$(x)",
    "`",
    "\r\n",
    "\t",
];

#[test]
fn a_sink_file_of_any_content_is_rewritten_or_refused_never_panics() {
    let token = Secret::new("tok-123.ABC_def");
    let values = SinkValues {
        account: "a",
        access_token: &token,
        feed_token: None,
        token_secret: None,
        api_key: "key",
        user_id: Some("AB 12"),
        expires_at: Some(chrono::Utc::now()),
    };
    let sinks: Vec<SinkConfig> = [
        (SinkFormat::Env, "TOKEN"),
        (SinkFormat::Json, "/a/token"),
        (SinkFormat::Toml, "a.b.token"),
        (SinkFormat::Raw, "token"),
    ]
    .into_iter()
    .map(|(format, name)| SinkConfig {
        format,
        path: "/s/file".into(),
        fields: BTreeMap::from([(name.to_owned(), Field::AccessToken), ("USER".to_owned(), Field::UserId)]),
    })
    .collect();
    let current = prop_oneof![
        1 => near(FILE_WORDS),
        1 => leaf().prop_map(|v| serde_json::json!({"a": {"token": v.clone(), "other": v}}).to_string()),
        1 => ("[A-Za-z_]{1,8}", "[ -~]{0,20}").prop_map(|(k, v)| format!("# mine\nexport {k}={v}\nTOKEN='old' # note\n")),
        1 => ("[a-z]{1,8}", "[ -~]{0,20}").prop_map(|(k, v)| format!("{k} = {v:?}\n[a.b]\ntoken = \"old\"\n")),
    ];
    fuzz("sink files", current, |current| {
        let mut refused = true;
        for sink in &sinks {
            match rewrite(sink, &current, &values) {
                Ok(next) => {
                    let again = rewrite(sink, &next, &values).expect("a file we wrote reads back");
                    assert_eq!(again, next, "{:?}: writing twice changes nothing", sink.format);
                    refused = refused && sink.format == SinkFormat::Raw;
                }
                Err(message) => assert!(!message.is_empty()),
            }
        }
        refused
    });
}

/// A client for every account of the test config. The sandbox only lends
/// its address: answers are handed to the clients directly, without I/O.
async fn clients() -> (tokentray_sandbox::Sandbox, Vec<tokentray_adapters::provider::ProviderClient>) {
    let sb = sandbox().await;
    let config = Config::parse(&config_text(&sb), Path::new("t.toml")).unwrap();
    let http = tokentray_adapters::provider::http_client(std::time::Duration::from_secs(1));
    let clients = config
        .accounts
        .iter()
        .map(|a| tokentray_adapters::provider::ProviderClient::new(a.clone(), http.clone()))
        .collect();
    (sb, clients)
}
