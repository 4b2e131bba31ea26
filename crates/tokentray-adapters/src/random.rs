//! Unguessable values for `state`, PKCE verifiers and temporary file names.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// `n` random bytes as URL-safe base64 without padding.
pub fn url_safe(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the OS random source works");
    URL_SAFE_NO_PAD.encode(buf)
}
