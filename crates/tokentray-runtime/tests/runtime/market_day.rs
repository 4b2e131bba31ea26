//! A day that follows the market, with the clock injected: the pre-market
//! reminder on trading days only (weekends and exchange holidays skipped),
//! and quiet hours holding what can wait while never silencing red past its
//! act-by time. The engine is driven from one wake-up to the next, as its
//! scheduler would be, through simulated days.

use crate::common::*;
use chrono::TimeZone;
use std::sync::{Arc, Mutex};
use tokentray_adapters::config::Config;
use tokentray_core::{Instant, Notice};
use tokentray_runtime::{Engine, EngineOptions, ManualClock};

/// Every notice told, with the simulated time it was told at.
struct Told {
    clock: Arc<ManualClock>,
    seen: Mutex<Vec<(Instant, String, String)>>,
    bodies: Mutex<Vec<String>>,
}

impl tokentray_runtime::Notifier for Told {
    fn notify(&self, account: &tokentray_runtime::AccountName, notice: &Notice) {
        use tokentray_runtime::Clock;
        self.seen.lock().unwrap().push((self.clock.now(), account.id.clone(), notice.summary(&account.id)));
        self.bodies.lock().unwrap().push(notice.body());
    }
}

fn ist(y: i32, m: u32, d: u32, h: u32, mi: u32) -> Instant {
    chrono_tz::Asia::Kolkata.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap().to_utc()
}

/// An engine over `accounts` (TOML) at `start`, telling `Told`.
fn engine_at(name: &str, start: Instant, toml: &str) -> (Engine, Arc<ManualClock>, Arc<Told>, std::path::PathBuf) {
    let dir = scratch(name);
    std::fs::write(dir.join("config.toml"), toml).unwrap();
    let config = Config::load(&dir.join("config.toml")).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let told = Arc::new(Told { clock: clock.clone(), seen: Mutex::new(Vec::new()), bodies: Mutex::new(Vec::new()) });
    let options = EngineOptions {
        data_dir: dir.join("data"),
        store: Arc::new(store(&dir)),
        clock: clock.clone(),
        notifier: told.clone(),
    };
    (Engine::new(config, options).unwrap(), clock, told, dir)
}

/// Runs the engine from wake-up to wake-up until `end`.
fn run_until(engine: &Engine, clock: &ManualClock, end: Instant) {
    use tokentray_runtime::Clock;
    loop {
        let next = engine.tick().unwrap_or(end);
        if clock.now() >= end {
            break;
        }
        clock.set(next.clamp(clock.now() + chrono::TimeDelta::seconds(1), end));
    }
}

#[tokio::test]
async fn a_simulated_week_reminds_on_trading_days_only() {
    // Saturday 21 noon to Saturday 28 November 2026 (no session runs at
    // either end). NSE is shut on Tuesday 24th (Guru Nanak Jayanti), NYSE on
    // Thursday 26th (Thanksgiving).
    let toml = "storage = \"plaintext\"\n\
        [[account]]\nid = \"kite\"\nprovider = \"kite\"\napi_key = \"k\"\nredirect_uri = \"http://127.0.0.1:5001/cb\"\n\
        [[account]]\nid = \"schwab\"\nprovider = \"schwab\"\napi_key = \"s\"\nredirect_uri = \"https://127.0.0.1:5002\"\n\
        [[account]]\nid = \"quiet\"\nprovider = \"upstox\"\napi_key = \"u\"\nredirect_uri = \"http://127.0.0.1:5003/cb\"\nremind_at = \"off\"\n";
    let (engine, clock, told, _dir) = engine_at("market-week", ist(2026, 11, 21, 12, 0), toml);
    run_until(&engine, &clock, ist(2026, 11, 28, 0, 0));
    let seen = told.seen.lock().unwrap().clone();
    let lines: Vec<String> = seen
        .iter()
        .map(|(at, _, what)| {
            format!("{} IST  {what}", at.with_timezone(&chrono_tz::Asia::Kolkata).format("%a %d %H:%M"))
        })
        .collect();
    eprintln!("the week's reminders:\n  {}", lines.join("\n  "));
    let on = |id: &str| -> Vec<String> {
        seen.iter()
            .filter(|(_, who, _)| who == id)
            .map(|(at, _, what)| {
                let zone = if id == "schwab" { "%a %H:%M ET" } else { "%a %H:%M" };
                let local = match id {
                    "schwab" => at.with_timezone(&chrono_tz::America::New_York).format(zone).to_string(),
                    _ => at.with_timezone(&chrono_tz::Asia::Kolkata).format(zone).to_string(),
                };
                format!("{local} {}", if what.contains("before the market opens") { "before" } else { "open" })
            })
            .collect()
    };
    let india: Vec<String> = ["Mon", "Wed", "Thu", "Fri"]
        .iter()
        .flat_map(|d| [format!("{d} 08:45 before"), format!("{d} 09:15 open")])
        .collect();
    assert_eq!(on("kite"), india, "NSE days: no Tuesday (holiday), no weekend");
    let us: Vec<String> = ["Mon", "Tue", "Wed", "Fri"]
        .iter()
        .flat_map(|d| [format!("{d} 09:00 ET before"), format!("{d} 09:30 ET open")])
        .collect();
    assert_eq!(on("schwab"), us, "NYSE days: no Thanksgiving, the early close still opens at 09:30");
    assert!(on("quiet").is_empty(), "remind_at = \"off\"");
}

/// An engine for the sandbox world's accounts with `extra` added to the
/// Kite and Schwab ones, and the `tables` after them, over an injected clock.
fn world_engine(
    w: &World,
    tables: &str,
    kite_extra: &str,
    oauth_extra: &str,
    start: Instant,
) -> (Engine, Arc<ManualClock>, Arc<Told>) {
    let text = std::fs::read_to_string(&w.config.path).unwrap();
    let text = text
        .replacen("[[account]]\nid = \"kite\"\n", &format!("[[account]]\nid = \"kite\"\n{kite_extra}"), 1)
        .replacen("[[account]]\nid = \"oauth\"\n", &format!("[[account]]\nid = \"oauth\"\n{oauth_extra}"), 1);
    std::fs::write(&w.config.path, format!("{text}{tables}")).unwrap();
    let config = Config::load(&w.config.path).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let told = Arc::new(Told { clock: clock.clone(), seen: Mutex::new(Vec::new()), bodies: Mutex::new(Vec::new()) });
    let options = EngineOptions {
        data_dir: w.dir.join("data"),
        store: Arc::new(store(&w.dir)),
        clock: clock.clone(),
        notifier: told.clone(),
    };
    (Engine::new(config, options).unwrap(), clock, told)
}

fn told_to(told: &Told, id: &str, from: Instant) -> Vec<(String, String)> {
    told.seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, who, _)| who == id && *at >= from)
        .map(|(at, _, what)| (at.with_timezone(&chrono_tz::Asia::Kolkata).format("%a %H:%M").to_string(), what.clone()))
        .collect()
}

#[tokio::test]
async fn a_login_before_the_open_ends_the_days_reminders() {
    let w = world("market-login", None).await;
    let monday = |h, m| ist(2026, 11, 23, h, m);
    // A daily token that lasts 20 hours from the login (the sandbox's Kite
    // login time would otherwise overrule the injected clock).
    let (engine, clock, told) = world_engine(&w, "", "token_lifetime = \"20h\"\n", "", monday(8, 0));
    run_until(&engine, &clock, monday(8, 50));
    log_in(&engine, "kite").await;
    run_until(&engine, &clock, monday(16, 0));
    let seen = told_to(&told, "kite", monday(0, 0));
    assert_eq!(
        seen,
        [
            ("Mon 08:45".to_owned(), "kite: log in before the market opens".to_owned()),
            ("Mon 08:50".to_owned(), "kite: logged in".to_owned()),
        ],
        "no reminder at the open: the token lasts the session"
    );
    engine.shutdown();
}

#[tokio::test]
async fn quiet_hours_hold_what_can_wait_and_never_silence_red_past_its_act_by() {
    let w = world("market-quiet", None).await;
    let head = "[notifications]\nquiet_hours = \"22:00-07:00\"\ntime_zone = \"Asia/Kolkata\"\n";
    // A Schwab grant whose 7-day limit ends at 04:00 IST on Monday 23rd,
    // with an access token that lasts as long (no renewal to watch).
    let login = ist(2026, 11, 16, 4, 0);
    let (engine, clock, told) = world_engine(&w, head, "", "token_lifetime = \"7d\"\n", login);
    let _scheduler = engine.spawn_scheduler();
    log_in(&engine, "oauth").await;
    let night = ist(2026, 11, 22, 22, 0);
    run_until(&engine, &clock, ist(2026, 11, 23, 8, 0));
    let seen = told_to(&told, "oauth", night);
    assert_eq!(
        seen,
        [
            // Orange at 01:00 could wait; red at 03:00 could not (act by 04:00, before the quiet ends).
            ("Mon 03:00".to_owned(), "oauth: log in within 1h 00m".to_owned()),
            // Dead at 04:00 with NYSE shut: told when the quiet ends, in place of the orange.
            ("Mon 07:00".to_owned(), "oauth: token expired".to_owned()),
        ]
    );
    engine.shutdown();
}

#[tokio::test]
async fn a_snooze_holds_warnings_until_it_ends_or_is_resumed() {
    use tokentray_core::Span;
    let w = world("market-snooze", None).await;
    // The 7-day limit ends at 12:00 IST on Monday 23rd.
    let (engine, clock, told) = world_engine(&w, "", "", "token_lifetime = \"7d\"\n", ist(2026, 11, 16, 12, 0));
    let _scheduler = engine.spawn_scheduler();
    log_in(&engine, "oauth").await;
    let monday = |h, m| ist(2026, 11, 23, h, m);
    run_until(&engine, &clock, monday(8, 55));
    assert_eq!(engine.snooze(Some(Span::hours(1))).await.unwrap(), Some(monday(9, 55)));
    assert_eq!(engine.silenced_until(), Some(monday(9, 55)));
    run_until(&engine, &clock, monday(10, 50));
    // Red at 11:00 acts by 12:00, after this snooze's end: it may wait.
    engine.snooze(Some(Span::hours(1))).await.unwrap();
    run_until(&engine, &clock, monday(11, 10));
    assert_eq!(engine.snooze(None).await.unwrap(), None, "resumed");
    // A century is a week: past it, notices go out by themselves.
    let week = engine.snooze(Some(Span::days(36_500))).await.unwrap();
    assert_eq!(week, Some(monday(11, 10) + Span::days(7)));
    engine.snooze(None).await.unwrap();
    run_until(&engine, &clock, monday(11, 20));
    assert_eq!(
        told_to(&told, "oauth", monday(0, 0)),
        [
            // Orange came at 09:00 and waited for the snooze's end; said as it was then.
            ("Mon 09:55".to_owned(), "oauth: log in within 2h 05m".to_owned()),
            ("Mon 11:10".to_owned(), "oauth: log in within 50m".to_owned()),
        ]
    );
    engine.shutdown();
}

#[tokio::test]
async fn a_reminder_held_by_quiet_hours_says_the_time_left_when_told() {
    let w = world("market-held-reminder", None).await;
    let tables = "[notifications]\nquiet_hours = \"22:00-09:00\"\ntime_zone = \"Asia/Kolkata\"\n";
    let monday = |h, m| ist(2026, 11, 23, h, m);
    let (engine, clock, told) = world_engine(&w, tables, "", "", monday(8, 0));
    let _scheduler = engine.spawn_scheduler();
    run_until(&engine, &clock, monday(9, 5));
    let seen = told_to(&told, "kite", monday(0, 0));
    // The 08:45 reminder could wait: the market opens at 09:15, after the quiet's end.
    assert_eq!(seen, [("Mon 09:00".to_owned(), "kite: log in before the market opens".to_owned())]);
    let bodies = told.bodies.lock().unwrap().clone();
    assert!(bodies.iter().any(|b| b.contains("The market opens in 15m")), "{bodies:?}");
    engine.shutdown();
}

#[tokio::test]
async fn before_the_open_an_ip_the_broker_did_not_register_is_told_and_a_registered_one_is_not() {
    use tokentray_adapters::store::{SecretItem, SecretStore};
    use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
    let redirect = format!("http://127.0.0.1:{}/cb", tokentray_testkit::free_port());
    let app = App::new(ProviderKind::Upstox, "upstoxapp", "upstoxsecret", &redirect, "UP0001");
    let sandbox = Sandbox::start(SandboxConfig { apps: vec![app.clone()], ..SandboxConfig::default() }).await.unwrap();
    let toml = format!(
        "storage = \"plaintext\"\n[ready]\necho = \"{}\"\n{}token_lifetime = \"20h\"\n",
        sandbox.echo_url(),
        sandbox.account_toml("upstox", &app)
    );
    let monday = |h, m| ist(2026, 11, 23, h, m);
    let (engine, clock, told, dir) = engine_at("market-ip", monday(8, 0), &toml);
    store(&dir).set("upstox", SecretItem::ApiSecret, &tokentray_adapters::Secret::new("upstoxsecret")).unwrap();
    log_in(&engine, "upstox").await;
    // Registered: another address than the one this machine sends from (203.0.113.7).
    let long_ago = chrono::Utc::now() - chrono::Duration::days(30);
    sandbox.register_static_ip("upstoxapp", "198.51.100.9", None, long_ago);
    run_until(&engine, &clock, monday(8, 46));
    tokentray_testkit::eventually("the IP told before the open", || {
        told.seen.lock().unwrap().iter().any(|(_, _, what)| what == "upstox: orders from this IP will be refused")
    })
    .await;
    let bodies = told.bodies.lock().unwrap().clone();
    assert!(bodies.iter().any(|b| b.contains("opens in 29m") && b.contains("tokentray ready")), "{bodies:?}");
    let before = told_to(&told, "upstox", monday(0, 0));
    assert!(!before.iter().any(|(_, what)| what.contains("log in")), "the token lasts: no login asked: {before:?}");

    // Registered as it should be: Wednesday's open passes in silence.
    sandbox.register_static_ip("upstoxapp", "203.0.113.7", None, long_ago);
    let checks = sandbox.requests_to("/v2/user/ip").len();
    let wednesday = |h, m| ist(2026, 11, 25, h, m);
    run_until(&engine, &clock, wednesday(8, 0));
    log_in(&engine, "upstox").await;
    run_until(&engine, &clock, wednesday(8, 46));
    // A stop waits for the check in flight: once it returns, whatever it had to say is said.
    assert!(engine.stop(std::time::Duration::from_secs(10)).await, "the check finished");
    assert!(sandbox.requests_to("/v2/user/ip").len() > checks, "Wednesday's check was made");
    let wednesday_told = told_to(&told, "upstox", wednesday(0, 0));
    assert!(wednesday_told.iter().all(|(_, what)| !what.contains("refused")), "{wednesday_told:?}");
}
