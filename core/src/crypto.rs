//! Encryption at rest and keyed hashes.
//!
//! One 32-byte master key (from `KAPU_MASTER_KEY`, or generated into the data
//! directory on the embedded default) derives, per tenant and per purpose,
//! independent keys with HKDF-SHA256. Card keys are sealed with AES-256-GCM
//! under the tenant's key; fingerprints (for dedupe) and order tokens are
//! HMAC-SHA256 under other derived keys, so a database dump alone reveals no
//! card key and allows no order lookup.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Errors of key handling and decryption.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("master key must be base64 of exactly 32 bytes")]
    BadMasterKey,
    #[error("master key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("ciphertext could not be decrypted (wrong key or tampered data)")]
    Decrypt,
}

/// The platform master key. Never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// What a derived key is for; part of the HKDF info so keys never collide.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// AES-256-GCM key sealing card keys and credentials.
    Seal,
    /// HMAC key for card-key fingerprints.
    Fingerprint,
    /// HMAC key for order access tokens.
    OrderToken,
    /// HMAC key signing sandbox payment notifications.
    SandboxNotify,
    /// HMAC key binding the dashboard's CSRF tokens to their cookie (tenant id `platform`).
    DashboardCsrf,
    /// HMAC key signing the "password accepted, code pending" login cookie (tenant id `platform`).
    LoginChallenge,
    /// HMAC key signing a shop's proof-of-work checkout challenges.
    CheckoutChallenge,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Seal => "seal",
            Purpose::Fingerprint => "fingerprint",
            Purpose::OrderToken => "order-token",
            Purpose::SandboxNotify => "sandbox-notify",
            Purpose::DashboardCsrf => "dashboard-csrf",
            Purpose::LoginChallenge => "login-challenge",
            Purpose::CheckoutChallenge => "checkout-challenge",
        }
    }
}

impl MasterKey {
    /// Parses base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| CryptoError::BadMasterKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Self(arr))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        Self(k)
    }

    /// Base64 text of the key (for writing the embedded default's key file).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads `path`, or creates it with a fresh key (mode 0600). Returns the key and
    /// whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        let io = |source| CryptoError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_base64(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let key = Self::generate();
                write_private(path, &key.to_base64()).map_err(io)?;
                Ok((key, true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key of `tenant_id` for `purpose`.
    pub fn derive(&self, tenant_id: &str, purpose: Purpose) -> [u8; 32] {
        let hk = Hkdf::<Sha256>::new(Some(b"kapu/v1"), &self.0);
        let mut out = [0u8; 32];
        let info = format!("{}:{}", purpose.label(), tenant_id);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        hk.expand(info.as_bytes(), &mut out).expect("32-byte HKDF output");
        out
    }

    /// The keys of one tenant.
    pub fn tenant(&self, tenant_id: &str) -> TenantKeys {
        TenantKeys {
            seal: self.derive(tenant_id, Purpose::Seal),
            fingerprint: self.derive(tenant_id, Purpose::Fingerprint),
            order_token: self.derive(tenant_id, Purpose::OrderToken),
            sandbox_notify: self.derive(tenant_id, Purpose::SandboxNotify),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// A sealed value: ciphertext with its 96-bit nonce.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
}

/// The derived keys of one tenant.
#[derive(Clone)]
pub struct TenantKeys {
    seal: [u8; 32],
    fingerprint: [u8; 32],
    order_token: [u8; 32],
    sandbox_notify: [u8; 32],
}

impl std::fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenantKeys(***)")
    }
}

impl TenantKeys {
    /// Encrypts `plaintext` with AES-256-GCM and a random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Sealed {
        let cipher = Aes256Gcm::new_from_slice(&self.seal).expect("32-byte key");
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext =
            cipher.encrypt(Nonce::from_slice(&nonce), plaintext).expect("AES-GCM encryption of an in-memory buffer");
        Sealed { ciphertext, nonce: nonce.to_vec() }
    }

    /// Decrypts what [`seal`](Self::seal) produced.
    pub fn open(&self, ciphertext: &[u8], nonce: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if nonce.len() != 12 {
            return Err(CryptoError::Decrypt);
        }
        let cipher = Aes256Gcm::new_from_slice(&self.seal).expect("32-byte key");
        cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| CryptoError::Decrypt)
    }

    /// Keyed fingerprint of a card key, for dedupe without decrypting (hex).
    pub fn fingerprint(&self, card_key: &str) -> String {
        hex(&hmac(&self.fingerprint, card_key.as_bytes()))
    }

    /// The access token of an order: derived, so it is never stored.
    pub fn order_token(&self, order_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(&hmac(&self.order_token, order_id.as_bytes())[..24])
    }

    /// Constant-time check of an order token.
    pub fn verify_order_token(&self, order_id: &str, token: &str) -> bool {
        let expected = self.order_token(order_id);
        expected.as_bytes().ct_eq(token.as_bytes()).into()
    }

    /// The token of the shop's preview link in generation `epoch` (a test-mode
    /// shop opens only with it). Order ids never contain `:`, so no order
    /// token equals a preview token.
    pub fn preview_token(&self, epoch: i32) -> String {
        URL_SAFE_NO_PAD.encode(&hmac(&self.order_token, format!("preview:{epoch}").as_bytes())[..24])
    }

    /// Constant-time check of a preview token.
    pub fn verify_preview_token(&self, epoch: i32, token: &str) -> bool {
        self.preview_token(epoch).as_bytes().ct_eq(token.as_bytes()).into()
    }

    /// HMAC-SHA256 (hex) of a sandbox notification's canonical text.
    pub fn sandbox_signature(&self, canonical: &str) -> String {
        hex(&hmac(&self.sandbox_notify, canonical.as_bytes()))
    }
}

/// HMAC-SHA256 of `data` under `key`, as lowercase hex.
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    hex(&hmac(key, data))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Constant-time string equality.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let mk = MasterKey::generate();
        let keys = mk.tenant("t1");
        let sealed = keys.seal(b"CARD-1234");
        assert_ne!(sealed.ciphertext, b"CARD-1234");
        assert_eq!(keys.open(&sealed.ciphertext, &sealed.nonce).expect("open"), b"CARD-1234");
        let mut bad = sealed.ciphertext.clone();
        bad[0] ^= 1;
        assert!(keys.open(&bad, &sealed.nonce).is_err());
        // Another tenant's key cannot open it.
        assert!(mk.tenant("t2").open(&sealed.ciphertext, &sealed.nonce).is_err());
    }

    #[test]
    fn derived_values_are_per_tenant() {
        let mk = MasterKey::generate();
        let (a, b) = (mk.tenant("a"), mk.tenant("b"));
        assert_ne!(a.fingerprint("K"), b.fingerprint("K"));
        assert_eq!(a.fingerprint("K"), a.fingerprint("K"));
        let tok = a.order_token("o1");
        assert!(a.verify_order_token("o1", &tok));
        assert!(!b.verify_order_token("o1", &tok));
        assert!(!a.verify_order_token("o2", &tok));
    }

    #[test]
    fn master_key_file_is_created_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/master.key");
        let (k1, created) = MasterKey::load_or_create(&path).expect("create");
        assert!(created);
        let (k2, created) = MasterKey::load_or_create(&path).expect("load");
        assert!(!created);
        assert_eq!(k1.to_base64(), k2.to_base64());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }
}
