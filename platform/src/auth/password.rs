//! Passwords: argon2id with the crate's default parameters (19 MiB, 2 passes),
//! hashed off the async threads.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

use crate::error::PageError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 200;

/// Why a new password is refused, in words for the form.
pub fn check_new_password(password: &str, email: &str) -> Option<&'static str> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Some("密码至少 10 位。The password needs at least 10 characters.");
    }
    if n > MAX_LEN {
        return Some("密码最多 200 位。The password may have at most 200 characters.");
    }
    if password.eq_ignore_ascii_case(email) {
        return Some("密码不能与邮箱相同。The password must not be your email address.");
    }
    None
}

pub async fn hash_password(password: String) -> Result<String, PageError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PageError::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| PageError::Internal(e.to_string()))?
}

/// Checks `password` against `hash`; with no account (`None`) a dummy hash is
/// checked, so a wrong email costs as long as a wrong password.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, PageError> {
    tokio::task::spawn_blocking(move || {
        let target = hash.clone().unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = PasswordHash::new(&target)
            .map(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .map_err(|e| PageError::Internal(e.to_string()))
}

/// argon2id of a random password nobody knows, with the default parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3Nq5HnIzVL7+7LOwW8cSdgLZkDNoU3ZbHcFi8Ix1CVA";
