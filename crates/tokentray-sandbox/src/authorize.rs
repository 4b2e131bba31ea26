//! The end of every authorize step: straight back to the app (tests), or a page
//! where a person trying the demo clicks Approve or Deny.

use crate::AppState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub fn finish(shared: &AppState, provider: &str, approve: &str, deny: &str) -> Response {
    if shared.auto_approve.load(std::sync::atomic::Ordering::Relaxed) {
        return crate::reply::redirect(approve);
    }
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox {provider} login</title>
<style>body{{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}a{{display:inline-block;padding:.6rem 1.2rem;margin-right:.5rem;border-radius:.4rem;text-decoration:none}}#approve{{background:#2ea043;color:#fff}}#deny{{border:1px solid #999;color:inherit}}</style></head>
<body><h1>TokenTray sandbox: {provider}</h1><p>This is the demo broker, not a real one. Approve to send TokenTray a login code.</p>
<p><a id="approve" href="{approve}">Approve</a><a id="deny" href="{deny}">Deny</a></p></body></html>"#,
        approve = html_escape(approve),
        deny = html_escape(deny),
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

pub fn error_page(message: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox error</title></head><body><h1>Error</h1><p>{}</p></body></html>",
        html_escape(message)
    );
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `base` with `pairs` appended to its query string.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(base) {
        Ok(u) => u,
        Err(_) => return base.to_owned(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    url.into()
}
