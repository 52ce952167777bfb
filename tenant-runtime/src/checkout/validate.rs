//! Buyer input, parsed at the edge into values that are known to be valid.

use crate::error::StoreError;

/// A plausible email address, trimmed and lowercased in its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyerEmail(String);

impl BuyerEmail {
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let s = raw.trim();
        let (local, domain) = s.rsplit_once('@').ok_or(StoreError::InvalidEmail)?;
        let ok = s.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
        if !ok {
            return Err(StoreError::InvalidEmail);
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a quantity against the product's bounds. The refusal names the
/// bound that binds: with 3 keys in stock and a limit of 20 per order, the
/// buyer may choose "between 1 and 3". (A quantity within the limit but
/// over the stock is left to the reservation, which says how many remain.)
pub fn quantity(raw: i64, min: i32, max: i32, in_stock: u64) -> Result<u32, StoreError> {
    let (min, max) = (i64::from(min.max(1)), i64::from(max.max(1)));
    if raw < min || raw > max {
        let stock = i64::try_from(in_stock).unwrap_or(i64::MAX);
        let shown = if stock >= min { max.min(stock) } else { max };
        return Err(StoreError::InvalidQuantity { min, max: shown });
    }
    Ok(raw as u32)
}

/// An optional lookup password: 4–64 characters when given; blank means none.
pub fn lookup_password(raw: Option<&str>) -> Result<Option<String>, StoreError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) if (4..=64).contains(&p.chars().count()) => Ok(Some(p.to_string())),
        Some(_) => Err(StoreError::InvalidLookupPassword),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_quantity_names_the_bound_that_binds() {
        let bounds = |raw, stock| match quantity(raw, 1, 20, stock) {
            Err(StoreError::InvalidQuantity { min, max }) => Some((min, max)),
            _ => None,
        };
        assert_eq!(bounds(0, 3), Some((1, 3)), "3 in stock binds before the limit of 20");
        assert_eq!(bounds(21, 3), Some((1, 3)));
        assert_eq!(bounds(0, 500), Some((1, 20)), "the limit binds");
        assert_eq!(bounds(0, 0), Some((1, 20)), "sold out: the limit, and the reservation says sold out");
        assert!(quantity(5, 1, 20, 3).is_ok(), "within the limit: the reservation answers with what is left");
    }

    #[test]
    fn emails() {
        assert_eq!(BuyerEmail::parse(" Buyer@Example.COM ").expect("ok").as_str(), "Buyer@example.com");
        for bad in ["", "nobody", "a@b", "a@.com", "a b@c.com", "a@b..com", "<a@b.com>", "a@b.com,c@d.com"] {
            assert!(BuyerEmail::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(2, 1, 5, 100).expect("ok"), 2);
        assert!(quantity(0, 1, 5, 100).is_err());
        assert!(quantity(6, 1, 5, 100).is_err());
        assert!(quantity(-1, 1, 5, 100).is_err());
    }

    #[test]
    fn lookup_passwords() {
        assert_eq!(lookup_password(None).expect("ok"), None);
        assert_eq!(lookup_password(Some("  ")).expect("ok"), None);
        assert!(lookup_password(Some("abc")).is_err());
        assert_eq!(lookup_password(Some("abcd")).expect("ok").as_deref(), Some("abcd"));
    }
}
