//! `/metrics` in the Prometheus text format (version 0.0.4).

use crate::Engine;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub async fn metrics(State(engine): State<Engine>) -> impl IntoResponse {
    let now = engine.now();
    let statuses = engine.statuses();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: &mut dyn Iterator<Item = (String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let base = |s: &crate::AccountStatus| format!("account=\"{}\",provider=\"{}\"", label(&s.id), s.provider);
    family(
        "tokentray_token_expiry_timestamp_seconds",
        "gauge",
        "When the access token expires, as a Unix time.",
        &mut statuses.iter().filter_map(|s| s.expires_at.map(|e| (base(s), e.timestamp() as f64))),
    );
    family(
        "tokentray_action_due_seconds",
        "gauge",
        "Seconds until the user must log in (absent when no login will be needed).",
        &mut statuses.iter().filter_map(|s| s.act_by.map(|a| (base(s), (a - now).num_seconds() as f64))),
    );
    family(
        "tokentray_token_valid",
        "gauge",
        "1 while the access token can be used.",
        &mut statuses.iter().map(|s| (base(s), f64::from(u8::from(s.state == tokentray_core::State::Valid)))),
    );
    let counters: Vec<_> = statuses.iter().filter_map(|s| engine.counters(&s.id).ok().map(|c| (base(s), c))).collect();
    family(
        "tokentray_refresh_total",
        "counter",
        "Refreshes by outcome since the process started.",
        &mut counters.iter().flat_map(|(b, c)| {
            [
                (format!("{b},outcome=\"success\""), c.refresh_ok as f64),
                (format!("{b},outcome=\"failure\""), c.refresh_failed as f64),
            ]
        }),
    );
    family(
        "tokentray_validation_total",
        "counter",
        "Validations with the provider by outcome since the process started.",
        &mut counters.iter().flat_map(|(b, c)| {
            [
                (format!("{b},outcome=\"success\""), c.validation_ok as f64),
                (format!("{b},outcome=\"failure\""), c.validation_failed as f64),
            ]
        }),
    );
    family(
        "tokentray_sink_ok",
        "gauge",
        "1 if the last write to the sink succeeded.",
        &mut statuses.iter().flat_map(|s| {
            s.sinks.iter().map(move |k| (format!("{},path=\"{}\"", base(s), label(&k.path)), f64::from(u8::from(k.ok))))
        }),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out)
}
