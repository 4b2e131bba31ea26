//! The page a browser gets from the login's callback server: a title, a
//! sentence, and where to go on (an https login's first page leads to the
//! provider). Escaped, uncached, and with no referrer.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub(crate) struct Page {
    status: StatusCode,
    title: String,
    text: String,
    /// Where the page sends the browser on (the provider's login), if anywhere.
    pub(crate) next: Option<String>,
}

impl Page {
    pub(crate) fn new(status: StatusCode, title: &str, text: impl Into<String>) -> Self {
        Self { status, title: title.to_owned(), text: text.into(), next: None }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        let colour = if self.status.is_success() { "#2ea043" } else { "#d63031" };
        let (refresh, link) = match &self.next {
            Some(url) => (
                format!("<meta http-equiv=\"refresh\" content=\"3;url={}\">", escape(url)),
                format!("<p><a href=\"{}\">Continue to the login</a></p>", escape(url)),
            ),
            None => (String::new(), String::new()),
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}<title>TokenTray: {t}</title>\
             <style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}\
             h1{{color:{colour}}}</style></head><body><h1>{t}</h1><p>{x}</p>{link}</body></html>",
            t = escape(&self.title),
            x = escape(&self.text),
        );
        let mut response = (self.status, Html(body)).into_response();
        response.headers_mut().insert("cache-control", "no-store".parse().expect("valid header"));
        response.headers_mut().insert("referrer-policy", "no-referrer".parse().expect("valid header"));
        response
    }
}
