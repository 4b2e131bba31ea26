//! Values too long for the keyring, kept whole: sealed (AES-256-GCM) in a
//! file of the data directory under a fresh key, with the keyring entry
//! holding only that key and the file's name.
//!
//! Windows' Credential Manager takes at most 2,560 bytes per credential
//! (`CRED_MAX_CREDENTIAL_BLOB_SIZE`), and keyring writes the text as
//! UTF-16: about 1,280 characters. A token set with a refresh token and
//! JWTs can be longer. The keyring entry stays the one truth: a reader
//! follows whatever it holds (a value, or the way to a sealed one), so an
//! old value can never shadow a new one. Each write seals into a file of
//! its own, made durable before the entry points at it; files the entry
//! no longer names are removed after the entry moved on. A crash between
//! the two steps leaves the old entry, still true, and a spare file.

use crate::store::StoreError;
use crate::Secret;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// How an entry that points to a sealed file begins. A value of the
/// user's that happens to begin so is sealed too, so it is never misread.
const MARK: &str = "tokentray-sealed:v1:";
const NONCE_LEN: usize = 12;
/// A sealed file is never larger than a token set can be (16 KiB per
/// token, three tokens, JSON and the AEAD's overhead), with room.
const MAX_FILE: u64 = 256 * 1024;

/// The folder of sealed values, inside the data directory.
pub struct SealedDir {
    dir: PathBuf,
}

/// What the keyring entry holds for a sealed value.
pub struct Pointer(Secret);

impl Pointer {
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

/// Whether an entry's text points to a sealed value.
pub fn is_pointer(entry: &str) -> bool {
    entry.starts_with(MARK)
}

/// Whether `value` must be sealed rather than stored as is: too long for
/// the store's limit (counted as the UTF-16 bytes the Credential Manager
/// counts), or looking like a pointer.
pub fn must_seal(value: &str, limit: Option<usize>) -> bool {
    is_pointer(value) || limit.is_some_and(|limit| value.encode_utf16().count() * 2 > limit)
}

impl SealedDir {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The files of one entry share a prefix named after its service and
    /// key (hashed: keys hold `/` and account ids).
    fn prefix(service: &str, key: &str) -> String {
        let digest = Sha256::digest(format!("{service}\n{key}").as_bytes());
        digest[..10].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals `value` into a new file, fsync'd, and returns what the entry
    /// should then hold. Nothing points at the file until the caller
    /// stores the pointer.
    pub fn seal(&self, service: &str, key: &str, value: &Secret) -> Result<Pointer, StoreError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the OS random source works");
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let cipher = Aes256Gcm::new_from_slice(&secret).expect("32 bytes is an AES-256 key");
        let aad = format!("{service}\n{key}");
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: value.expose().as_bytes(), aad: aad.as_bytes() })
            .expect("AES-GCM encrypts any length we give it");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let name = format!("{}-{}.sealed", Self::prefix(service, key), crate::random::url_safe(12));
        let path = self.dir.join(&name);
        crate::atomic::ensure_private_dir(&self.dir).map_err(|source| self.io(&self.dir, source))?;
        // Under its final name (new, private, synced): no rename a power cut
        // could undo after the entry already points here. Nothing reads it
        // until the entry does.
        write_new(&path, &bytes).map_err(|source| self.io(&path, source))?;
        let key_text = URL_SAFE_NO_PAD.encode(secret);
        secret.fill(0);
        Ok(Pointer(Secret::new(format!("{MARK}{name}:{key_text}"))))
    }

    /// The value an entry's pointer leads to.
    pub fn open(&self, service: &str, key: &str, pointer: &str) -> Result<Secret, StoreError> {
        let corrupt = |why: &str| StoreError::Corrupt(format!("the sealed value of {key}: {why}"));
        let rest = pointer.strip_prefix(MARK).ok_or_else(|| corrupt("not a pointer"))?;
        let (name, key_text) = rest.split_once(':').ok_or_else(|| corrupt("the pointer is damaged"))?;
        if !name.starts_with(&Self::prefix(service, key)) || name.contains(['/', '\\']) || name.contains("..") {
            return Err(corrupt("the pointer names another entry's file"));
        }
        let secret = URL_SAFE_NO_PAD.decode(key_text).map_err(|_| corrupt("the pointer's key is damaged"))?;
        let cipher = Aes256Gcm::new_from_slice(&secret).map_err(|_| corrupt("the pointer's key is damaged"))?;
        let path = self.dir.join(name);
        let bytes = read_file(&path).map_err(|source| self.io(&path, source))?.ok_or_else(|| {
            corrupt(&format!("its file {} is gone (a data directory restored without it?)", path.display()))
        })?;
        if bytes.len() <= NONCE_LEN {
            return Err(corrupt("its file is too short"));
        }
        let aad = format!("{service}\n{key}");
        let plain = cipher
            .decrypt(Nonce::from_slice(&bytes[..NONCE_LEN]), Payload { msg: &bytes[NONCE_LEN..], aad: aad.as_bytes() })
            .map_err(|_| corrupt("its file does not open with the key the keyring holds"))?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| corrupt("it is not UTF-8"))
    }

    /// Removes the entry's sealed files other than the one `keep` names
    /// (what a write left before the entry moved on, or all of them).
    pub fn sweep(&self, service: &str, key: &str, keep: Option<&str>) {
        let prefix = Self::prefix(service, key);
        let kept = keep.and_then(|p| p.strip_prefix(MARK)).and_then(|rest| rest.split_once(':')).map(|(name, _)| name);
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(&prefix) && name.ends_with(".sealed") && Some(name) != kept {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn io(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::File { path: path.to_owned(), source }
    }
}

fn read_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    (&mut file).take(MAX_FILE).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Writes a new file at `path` and syncs it; an existing one is an error.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let result = (|| {
        let mut file = crate::os::open_new_private(path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        crate::os::sync_dir_of(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}
