//! The certificate of the login callback for providers that only redirect to
//! `https` (Schwab): self-signed, for 127.0.0.1, ::1 and localhost only,
//! made once on first use and kept in the data directory, the key 0600. The
//! browser warns about it once; it protects a code that never leaves the
//! machine, so no authority has to vouch for it.

use std::io;
use std::path::{Path, PathBuf};

/// The certificate and its private key, PEM-encoded.
pub struct CallbackCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The names the certificate is for: this machine's loopbacks only.
pub const NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("callback-cert.pem"), dir.join("callback-key.pem"))
}

impl CallbackCertificate {
    /// The certificate kept in `dir`, made there first if there is none.
    pub fn load_or_make(dir: &Path) -> io::Result<Self> {
        let (cert_path, key_path) = paths(dir);
        match (std::fs::read_to_string(&cert_path), std::fs::read_to_string(&key_path)) {
            (Ok(cert_pem), Ok(key_pem)) if !cert_pem.is_empty() && !key_pem.is_empty() => {
                return Ok(Self { cert_pem, key_pem });
            }
            _ => {}
        }
        let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
        let made = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        let made = Self { cert_pem: made.cert.pem(), key_pem: made.signing_key.serialize_pem() };
        // The key first: a certificate without its key would be taken as complete.
        crate::atomic::write_private(&key_path, made.key_pem.as_bytes())?;
        crate::atomic::write_private(&cert_path, made.cert_pem.as_bytes())?;
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_kept_and_the_key_is_private() {
        let dir = tokentray_testkit::scratch("tls").join("tls");
        let first = CallbackCertificate::load_or_make(&dir).unwrap();
        assert!(first.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = CallbackCertificate::load_or_make(&dir).unwrap();
        assert_eq!((first.cert_pem, first.key_pem), (again.cert_pem, again.key_pem), "made once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let (_, key) = paths(&dir);
            assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
