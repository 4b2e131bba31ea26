//! The Vault store and client against a real OpenBao dev server on
//! loopback, and against a hostile or broken server: what is stored where,
//! check-and-set, sign-in by token and AppRole, and each failure's words.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{self, PlaintextStore, SecretItem, SecretStore, StorageKind, TokenSet};
use tokentray_adapters::vault::{tokens_path, TokenRecord, VaultClient, VaultError};
use tokentray_adapters::Secret;
use tokentray_testkit::openbao::OpenBao;
use tokentray_testkit::scratch;

fn config_text(address: &str, extra: &str) -> String {
    format!(
        r#"
storage = "vault"
http_timeout = "3s"

[vault]
address = "{address}"
local_secrets = "plaintext"
{extra}

[[account]]
id = "schwab"
provider = "schwab"
api_key = "app-key"
redirect_uri = "https://127.0.0.1:8182/cb"
"#
    )
}

fn config(dir: &Path, address: &str, extra: &str) -> Config {
    let path = dir.join("config.toml");
    std::fs::write(&path, config_text(address, extra)).unwrap();
    Config::load(&path).unwrap()
}

fn client(dir: &Path, address: &str, extra: &str) -> VaultClient {
    let config = config(dir, address, extra);
    let local: Arc<dyn SecretStore> = Arc::new(PlaintextStore::new(dir.join("data/secrets.json")));
    VaultClient::new(config.vault.unwrap(), tokentray_adapters::vault::local(local), Duration::from_secs(3), true)
        .unwrap()
}

fn record(access: &str) -> serde_json::Map<String, serde_json::Value> {
    TokenRecord { access_token: Some(Secret::new(access)), ..TokenRecord::default() }.to_map()
}

#[test]
fn secrets_live_in_vault_and_this_machines_keys_stay_local() {
    let bao = OpenBao::start();
    let dir = scratch("vault-store");
    // Each test names its own variable: tests run at once in one process.
    std::env::set_var("TT_VAULT_STORE", &bao.root_token);
    let config = config(&dir, &bao.address, "token_env = \"TT_VAULT_STORE\"");
    let store = store::open(&config, &dir.join("data")).unwrap();
    assert_eq!(
        store.kind(),
        StorageKind::Vault { address: format!("{}/", bao.address), location: "secret/tokentray".to_owned() }
    );

    store.set("schwab", SecretItem::ApiSecret, &Secret::new("app-secret")).unwrap();
    assert_eq!(store.get("schwab", SecretItem::ApiSecret).unwrap().unwrap().expose(), "app-secret");
    let (status, body) = bao.get("/v1/secret/data/tokentray/accounts/schwab/api_secret");
    assert_eq!(status, 200);
    assert!(body.contains("\"value\":\"app-secret\""), "{body}");

    // The journal key is this machine's: in the local store, not in Vault.
    store.set("tokentray", SecretItem::JournalKey, &Secret::new("local-key")).unwrap();
    let local = PlaintextStore::new(dir.join("data/secrets.json"));
    assert_eq!(local.get("tokentray", SecretItem::JournalKey).unwrap().unwrap().expose(), "local-key");
    // Everything under the prefix, listed: the api secret only.
    let list = |path: &str| bao.request("LIST", &format!("/v1/secret/metadata/tokentray/{path}"), None).1;
    assert!(list("").contains(r#""keys":["accounts/"]"#), "{}", list(""));
    assert!(list("accounts/").contains(r#""keys":["schwab/"]"#), "{}", list("accounts/"));
    assert!(list("accounts/schwab/").contains(r#""keys":["api_secret"]"#), "{}", list("accounts/schwab/"));

    // A token set written alone keeps the rest of the record and lands
    // even after another machine wrote (it reads again).
    let tokens = TokenSet {
        access_token: Secret::new("A1"),
        refresh_token: Some(Secret::new("R1")),
        feed_token: None,
        token_secret: None,
    };
    store.set_tokens("schwab", &tokens).unwrap();
    let other =
        TokenRecord { user_id: Some("U1".to_owned()), access_token: Some(Secret::new("A0")), ..TokenRecord::default() };
    let body = serde_json::json!({ "data": other.to_map() }).to_string();
    assert_eq!(bao.post("/v1/secret/data/tokentray/accounts/schwab/tokens", &body).0, 200);
    store.set_tokens("schwab", &tokens).unwrap();
    assert_eq!(store.tokens("schwab").unwrap().unwrap(), tokens);
    let (_, body) = bao.get("/v1/secret/data/tokentray/accounts/schwab/tokens");
    assert!(body.contains("\"user_id\":\"U1\"") && body.contains("\"access_token\":\"A1\""), "{body}");

    // A logout leaves no version of the old token readable.
    store.delete("schwab", SecretItem::Tokens).unwrap();
    assert_eq!(store.tokens("schwab").unwrap(), None);
    assert_eq!(bao.get("/v1/secret/metadata/tokentray/accounts/schwab/tokens").0, 404);

    // Names that would reach outside the prefix are refused.
    let err = store.get("../sys", SecretItem::ApiSecret).unwrap_err();
    assert!(err.to_string().contains("not a name"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_set_refuses_a_stale_version_and_metadata_follows_writes() {
    let bao = OpenBao::start();
    let dir = scratch("vault-cas");
    std::env::set_var("TT_VAULT_CAS", &bao.root_token);
    let c = client(&dir, &bao.address, "token_env = \"TT_VAULT_CAS\"");
    let path = tokens_path("schwab");
    assert!(c.read(&path).await.unwrap().is_none());
    assert_eq!(c.version(&path).await.unwrap(), None);
    let v1 = c.write(&path, &record("A1"), Some(0)).await.unwrap();
    // A second "create only" loses: another machine created it first.
    assert!(matches!(c.write(&path, &record("A2"), Some(0)).await, Err(VaultError::CasMismatch { .. })));
    let v2 = c.write(&path, &record("A2"), Some(v1)).await.unwrap();
    assert!(matches!(c.write(&path, &record("A3"), Some(v1)).await, Err(VaultError::CasMismatch { .. })));
    assert_eq!(c.version(&path).await.unwrap(), Some(v2));
    let read = c.read(&path).await.unwrap().unwrap();
    assert_eq!(read.version, v2);
    assert!(!format!("{read:?}").contains("A2"), "Debug never prints the data: {read:?}");
    assert_eq!(TokenRecord::from_map(read.data).unwrap().access_token.unwrap().expose(), "A2");

    // Someone deletes the newest version (`kv delete`): it reads as empty,
    // with the number a check-and-set write must name to go on.
    assert_eq!(bao.request("DELETE", "/v1/secret/data/tokentray/accounts/schwab/tokens", None).0, 204);
    let read = c.read(&path).await.unwrap().expect("a deleted version still has its number");
    assert_eq!((read.version, read.data.len()), (v2, 0));
    let v3 = c.write(&path, &record("A3"), Some(v2)).await.unwrap();
    // Old versions can be destroyed (a logout leaves no old token readable).
    c.destroy_versions(&path, &[v1, v2]).await.unwrap();
    let (status, _) = bao.get(&format!("/v1/secret/data/tokentray/accounts/schwab/tokens?version={v1}"));
    assert_eq!(status, 404, "version {v1} destroyed");
    assert_eq!(c.read(&path).await.unwrap().unwrap().version, v3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_token_says_what_to_fix() {
    let bao = OpenBao::start();
    let dir = scratch("vault-denied");
    let c = client(&dir, &bao.address, "token_env = \"TT_VAULT_TOKEN_WRONG\"");
    std::env::set_var("TT_VAULT_TOKEN_WRONG", "not-a-token");
    let e = c.read(&tokens_path("schwab")).await.unwrap_err();
    assert!(matches!(e, VaultError::Denied { .. }), "{e:?}");
    assert!(e.to_string().contains("secret/data/tokentray/*"), "names the policy to grant: {e}");
    assert!(!e.to_string().contains("not-a-token"), "the token is never said: {e}");

    let c = client(&dir, &bao.address, "token_env = \"TT_VAULT_TOKEN_UNSET\"");
    let e = c.read(&tokens_path("schwab")).await.unwrap_err();
    assert!(e.to_string().contains("TT_VAULT_TOKEN_UNSET") && e.to_string().contains("--vault-token"), "{e}");

    // The token may come from this machine's store instead.
    let local = PlaintextStore::new(dir.join("data/secrets.json"));
    local.set("tokentray", SecretItem::VaultToken, &Secret::new(&bao.root_token)).unwrap();
    let c = client(&dir, &bao.address, "token_env = \"TT_VAULT_TOKEN_UNSET\"");
    assert!(c.read(&tokens_path("schwab")).await.unwrap().is_none());
    let standing = c.token_standing().await.unwrap();
    assert_eq!(standing.ttl, None, "a root token never expires");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_signs_in_with_a_private_secret_id_file_and_signs_in_again_when_its_token_ends() {
    let bao = OpenBao::start();
    let dir = scratch("vault-approle");
    assert_eq!(bao.post("/v1/sys/auth/approle", r#"{"type":"approle"}"#).0, 204);
    let policy = r#"{"policy":"path \"secret/data/tokentray/*\" { capabilities = [\"create\",\"read\",\"update\",\"delete\"] }\npath \"secret/metadata/tokentray/*\" { capabilities = [\"read\",\"delete\"] }"}"#;
    assert_eq!(bao.post("/v1/sys/policies/acl/tokentray", policy).0, 204);
    // Tokens of 2 s: the client must sign in again on its own.
    let role = r#"{"token_policies":["tokentray"],"token_ttl":"2s","token_max_ttl":"2s"}"#;
    assert_eq!(bao.post("/v1/auth/approle/role/tokentray", role).0, 204);
    let (_, body) = bao.get("/v1/auth/approle/role/tokentray/role-id");
    let role_id =
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"]["role_id"].as_str().unwrap().to_owned();
    let (_, body) = bao.post("/v1/auth/approle/role/tokentray/secret-id", "{}");
    let secret_id =
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"]["secret_id"].as_str().unwrap().to_owned();

    let file = dir.join("secret-id");
    std::fs::write(&file, format!("{secret_id}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let extra = format!("auth = \"approle\"\nrole_id = \"{role_id}\"\nsecret_id_file = \"{}\"", file.display());
    let c = client(&dir, &bao.address, &extra);
    let e = c.read(&tokens_path("schwab")).await.unwrap_err();
    assert!(e.to_string().contains("chmod 600"), "a readable secret id file is refused: {e}");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = client(&dir, &bao.address, &extra);
    let v = c.write(&tokens_path("schwab"), &record("A1"), Some(0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await; // the AppRole token's own ttl, not a race
    let read = c.read(&tokens_path("schwab")).await.unwrap().expect("read after signing in again");
    assert_eq!(read.version, v);

    // A wrong role id is a refused login, with its fix.
    let bad = format!("auth = \"approle\"\nrole_id = \"nope\"\nsecret_id_file = \"{}\"", file.display());
    let e = client(&dir, &bao.address, &bad).read(&tokens_path("schwab")).await.unwrap_err();
    assert!(matches!(e, VaultError::LoginRefused { .. }) && e.to_string().contains("role_id"), "{e}");
    assert!(!e.to_string().contains(&secret_id), "the secret id is never said");
}

/// What a case's error must look like.
type Expected = fn(&VaultError) -> bool;

/// A raw HTTP/1.1 answer, for [`fake_vault`].
fn http(status: &str, body: &str) -> &'static str {
    Box::leak(format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_boxed_str())
}

/// A server that answers every request with `answer` (raw HTTP/1.1).
async fn fake_vault(answer: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                if !answer.is_empty() {
                    let _ = s.write_all(answer.as_bytes()).await;
                }
                // An empty answer: hold the connection until the client gives up.
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_and_garbage_are_told_apart_and_never_panic() {
    let dir = scratch("vault-hostile");
    std::env::set_var("TT_VAULT_FAKE", "some-token");
    let extra = "token_env = \"TT_VAULT_FAKE\"";
    let cases: [(&'static str, Expected); 5] = [
        (http("503 Service Unavailable", r#"{"errors":["Vault is sealed"]}"#), |e| {
            matches!(e, VaultError::Unavailable { status: 503, .. }) && e.is_transient()
        }),
        (http("429 Too Many Requests", ""), |e| matches!(e, VaultError::Unavailable { status: 429, .. })),
        (http("200 OK", "<html>hi"), |e| matches!(e, VaultError::Garbage { .. })),
        (http("200 OK", r#"{"data":true}"#), |e| {
            matches!(e, VaultError::Garbage { .. }) && e.to_string().contains("KV version 2")
        }),
        // No answer at all: the timeout.
        ("", |e| matches!(e, VaultError::Unreachable { .. }) && e.is_transient()),
    ];
    for (answer, expected) in cases {
        let address = fake_vault(answer).await;
        let c = client(&dir, &address, extra);
        let e = c.read(&tokens_path("schwab")).await.unwrap_err();
        assert!(expected(&e), "{answer:?} gave {e:?}");
    }
    // An oversized answer is refused, not read into memory.
    let huge: &'static str =
        Box::leak(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", 4 << 20).into_boxed_str());
    let c = client(&dir, &fake_vault(huge).await, extra);
    assert!(matches!(c.read(&tokens_path("schwab")).await, Err(VaultError::Garbage { .. })));
    // Nobody listening.
    let port = tokentray_testkit::free_port();
    let c = client(&dir, &format!("http://127.0.0.1:{port}"), extra);
    assert!(matches!(c.version(&tokens_path("schwab")).await, Err(VaultError::Unreachable { .. })));
}

#[test]
fn the_vault_table_refuses_what_would_leak_or_break() {
    let dir = scratch("vault-config");
    let path = dir.join("config.toml");
    let err = |text: &str| {
        std::fs::write(&path, text).unwrap();
        Config::load(&path).unwrap_err().to_string()
    };
    let e = err(&config_text("http://vault.example.com:8200", ""));
    assert!(e.contains("use https") && e.contains("config.toml:"), "{e}");
    let e = err(&config_text("https://vault.example.com", "prefix = \"../sys\""));
    assert!(e.contains("prefix") && e.contains("segments"), "{e}");
    let e = err(&config_text("https://vault.example.com", "lease = \"8s\""));
    assert!(e.contains("lease") && e.contains("http_timeout"), "{e}");
    let e = err(&config_text("https://vault.example.com", "auth = \"approle\""));
    assert!(e.contains("role_id"), "{e}");
    let e = err(&config_text("https://vault.example.com", "auth = \"ldap\""));
    assert!(e.contains("\"token\" or \"approle\""), "{e}");
    let e = err("storage = \"vault\"\n");
    assert!(e.contains("[vault] table"), "{e}");
    let e = err("[vault]\naddress = \"https://vault.example.com\"\n");
    assert!(e.contains("only with storage = \"vault\""), "{e}");
    let e = err(&config_text("https://vault.example.com/v1", ""));
    assert!(e.contains("only scheme, host and port"), "a path would go before /v1/: {e}");
    let e = err(&config_text("https://user:pw@vault.example.com", ""));
    assert!(e.contains("no user or password") && !e.contains("pw"), "{e}");
    let e = err(&config_text("https://vault.example.com", "").replace("id = \"schwab\"", "id = \"..\""));
    assert!(e.contains("not a name"), "{e}");
    let e = err(&config_text("https://vault.example.com", "tls = true"));
    assert!(e.contains("tls"), "an unknown key is named: {e}");
    // Loopback may be plain http (a local agent or a dev server).
    std::fs::write(&path, config_text("http://127.0.0.1:8200", "lease = \"10s\"\npoll = \"2s\"")).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.vault.unwrap().lease, chrono::TimeDelta::seconds(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_trusted_through_its_ca_only_and_a_namespace_keeps_its_own_records() {
    let bao = tokio::task::spawn_blocking(OpenBao::start_tls).await.unwrap();
    let dir = scratch("vault-tls");
    std::env::set_var("TT_VAULT_TLS", &bao.root_token);
    let ca = bao.ca_cert.clone().unwrap();
    let (status, body) = bao.request("POST", "/v1/sys/namespaces/desk", Some("{}"));
    assert_eq!(status, 200, "{body}");
    let mount = r#"{"type":"kv","options":{"version":"2"}}"#;
    assert_eq!(bao.request_in(Some("desk"), "POST", "/v1/sys/mounts/secret", Some(mount)).0, 204);

    // Without the CA the server's certificate is not trusted, and nothing is sent.
    let c = client(&dir, &bao.address, "token_env = \"TT_VAULT_TLS\"");
    let e = c.read(&tokens_path("schwab")).await.unwrap_err();
    assert!(matches!(e, VaultError::Unreachable { .. }), "{e:?}");

    let extra = format!("token_env = \"TT_VAULT_TLS\"\nca_cert = \"{}\"\nnamespace = \"desk\"", ca.display());
    let c = client(&dir, &bao.address, &extra);
    c.write(&tokens_path("schwab"), &record("in-desk"), Some(0)).await.unwrap();
    let (status, body) = bao.request_in(Some("desk"), "GET", "/v1/secret/data/tokentray/accounts/schwab/tokens", None);
    assert!(status == 200 && body.contains("in-desk"), "in the namespace: {body}");
    let (status, _) = bao.request("GET", "/v1/secret/data/tokentray/accounts/schwab/tokens", None);
    assert_eq!(status, 404, "not in the root namespace");

    // A CA file that is not one is said, with the file.
    let bad = dir.join("not-a-ca.pem");
    std::fs::write(&bad, "hello").unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, config_text(&bao.address, &format!("ca_cert = \"{}\"", bad.display()))).unwrap();
    let config = Config::load(&path).unwrap();
    let local: Arc<dyn SecretStore> = Arc::new(PlaintextStore::new(dir.join("data/secrets.json")));
    let e =
        VaultClient::new(config.vault.unwrap(), tokentray_adapters::vault::local(local), Duration::from_secs(3), true)
            .unwrap_err();
    assert!(e.to_string().contains("not-a-ca.pem"), "{e}");
}
