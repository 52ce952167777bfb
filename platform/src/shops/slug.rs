//! Shop addresses (`{slug}.{shop domain}`).

/// Names that could be mistaken for Kapu itself or a common service host.
pub const RESERVED: &[&str] = &[
    "www",
    "admin",
    "api",
    "app",
    "ops",
    "dashboard",
    "platform",
    "static",
    "assets",
    "cdn",
    "mail",
    "smtp",
    "imap",
    "pop",
    "ftp",
    "ns1",
    "ns2",
    "dns",
    "status",
    "help",
    "support",
    "docs",
    "blog",
    "kapu",
    "demo",
    "kapu-canary",
    "test",
    "shop",
    "shops",
    "login",
    "signup",
    "account",
    "billing",
    "pay",
    "payment",
    "internal",
    "localhost",
    "root",
    "system",
];

/// Why a slug is refused, in words for the form; `None` when it is fine.
pub fn check_slug(slug: &str) -> Option<&'static str> {
    let n = slug.len();
    if !(3..=32).contains(&n) {
        return Some("店铺地址需 3–32 位。The address must be 3–32 characters long.");
    }
    if !slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Some(
            "店铺地址只能包含小写字母、数字和连字符。The address may only hold lowercase letters, digits and hyphens.",
        );
    }
    if slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
        return Some("连字符不能在开头、结尾或连续出现。Hyphens cannot start or end the address, or repeat.");
    }
    if RESERVED.contains(&slug) {
        return Some("这个地址被保留，请换一个。This address is reserved; choose another.");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::check_slug;

    #[test]
    fn slugs() {
        assert_eq!(check_slug("my-shop"), None);
        assert_eq!(check_slug("abc"), None);
        assert!(check_slug("ab").is_some());
        assert!(check_slug(&"a".repeat(33)).is_some());
        assert!(check_slug("My-Shop").is_some());
        assert!(check_slug("-shop").is_some());
        assert!(check_slug("sh--op").is_some());
        assert!(check_slug("www").is_some());
        assert!(check_slug("admin").is_some());
        assert!(check_slug("shop.evil").is_some());
    }
}
