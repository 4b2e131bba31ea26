//! Response builders in each provider's own error shape.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A JWT with these claims: clients read `exp`, nobody checks the signature here.
pub fn jwt(claims: Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(random_token(16)))
}

pub fn json(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Kite: `{"status":"error","message":..,"data":null,"error_type":..}`.
pub fn kite_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    json(status, json!({"status": "error", "message": message, "data": null, "error_type": error_type}))
}

pub fn kite_ok(data: Value) -> Response {
    json(StatusCode::OK, json!({"status": "success", "data": data}))
}

/// Upstox: a list of errors, each with camelCase fields and their snake_case twins.
pub fn upstox_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        json!({"status": "error", "errors": [{
            "errorCode": code, "message": message, "propertyPath": null, "invalidValue": null,
            "error_code": code, "property_path": null, "invalid_value": null
        }]}),
    )
}

/// Fyers: `{"s":"error","code":<negative>,"message":..}`.
pub fn fyers_error(status: StatusCode, code: i64, message: &str) -> Response {
    json(status, json!({"s": "error", "code": code, "message": message}))
}

/// Dhan's api.dhan.co shape.
pub fn dhan_error(status: StatusCode, error_type: &str, code: &str, message: &str) -> Response {
    json(status, json!({"errorType": error_type, "errorCode": code, "errorMessage": message}))
}

/// Angel One's API envelope (`status`/`errorcode`).
pub fn angel_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, json!({"status": false, "message": message, "errorcode": code, "data": null}))
}

/// Angel One's gateway envelope (`success`/`errorCode`), sent with HTTP 200.
pub fn angel_gateway_error(code: &str, message: &str) -> Response {
    json(StatusCode::OK, json!({"success": false, "message": message, "errorCode": code, "data": ""}))
}

pub fn angel_ok(data: Value) -> Response {
    json(StatusCode::OK, json!({"status": true, "message": "SUCCESS", "errorcode": "", "data": data}))
}

/// RFC 6749 section 5.2.
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(status, json!({"error": error, "error_description": description}))
}

pub fn malformed() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"status\": \"success\", \"data\": {")
        .into_response()
}

/// 200 with a valid JSON body of 2 MiB.
pub fn huge() -> Response {
    let padding = "x".repeat(2 * 1024 * 1024);
    json(StatusCode::OK, json!({"status": "success", "data": {"padding": padding}}))
}

pub fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

pub fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
