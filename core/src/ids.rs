//! Opaque identifiers.

use rand::Rng;

/// A new row id: a time-ordered UUIDv7 as 32 lowercase hex characters, so
/// primary-key indexes grow at their end.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A public order number: the UTC date and 10 random digits (`20261122` +
/// `4829301746`), readable over the phone and not guessable.
pub fn new_order_no(now: chrono::DateTime<chrono::Utc>) -> String {
    let n: u64 = rand::thread_rng().gen_range(0..10_000_000_000);
    format!("{}{n:010}", now.format("%Y%m%d"))
}

/// A secret for a cookie or an emailed link: 32 random bytes, base64url.
pub fn new_secret_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a secret token is stored: lowercase hex SHA-256, so a database dump
/// cannot be replayed as a cookie or a link.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    crate::crypto::hex(&sha2::Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_ordered() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a < b);
    }

    #[test]
    fn order_numbers_have_a_date_prefix() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T03:00:00Z").expect("date").to_utc();
        let no = new_order_no(now);
        assert_eq!(no.len(), 18);
        assert!(no.starts_with("20261122"));
    }
}
