//! Passwords: the rules for a new one, and argon2id hashing on the bounded
//! pool of `kapu_core::passwords`.

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

/// Hashes on the bounded pool (`kapu_core::passwords`).
pub async fn hash_password(password: String) -> Result<String, PageError> {
    kapu_core::passwords::hash(password).await.map_err(|_| PageError::Throttled(1))
}

/// Checks `password` against `hash`; with no account (`None`) a dummy hash is
/// checked, so a wrong email costs as long as a wrong password.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, PageError> {
    kapu_core::passwords::verify(password, hash).await.map_err(|_| PageError::Throttled(1))
}
