//! Merchant accounts: sign up, email verification, log in and out, password reset.

pub mod email;
pub mod login;
pub mod logout;
pub mod password_reset;
pub mod signup;
pub mod two_factor;
pub mod verify;

/// Lowercases and checks an email address; `None` if it is not one.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && e.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        && !domain.contains('@');
    ok.then_some(e)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Shop@Example.COM "), Some("shop@example.com".into()));
        assert_eq!(normalize_email("no-at.example.com"), None);
        assert_eq!(normalize_email("a@b"), None);
        assert_eq!(normalize_email("a b@example.com"), None);
        assert_eq!(normalize_email("a@b@example.com"), None);
    }
}
