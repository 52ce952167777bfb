//! Amounts as providers write them ("12.30" yuan) and as Kapu keeps them (1230 fen).

/// Why an amount field is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("amount {0:?} is not a positive amount with at most two decimals")]
pub struct BadAmount(pub String);

/// Parses a provider's decimal amount strictly: digits, optionally a point and
/// one or two decimals, greater than zero. No sign, exponent, spaces, arrays.
pub fn parse_decimal_minor(text: &str) -> Result<i64, BadAmount> {
    let bad = || BadAmount(text.chars().take(40).collect());
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !digits(whole) || frac.len() > 2 || !digits(frac) {
        return Err(bad());
    }
    if text.ends_with('.') {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    let minor = whole * 100 + frac;
    if minor <= 0 {
        return Err(bad());
    }
    Ok(minor)
}

/// 1230 → "12.30".
pub fn format_decimal(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_decimals_only() {
        assert_eq!(parse_decimal_minor("12.30"), Ok(1230));
        assert_eq!(parse_decimal_minor("12.3"), Ok(1230));
        assert_eq!(parse_decimal_minor("12"), Ok(1200));
        assert_eq!(parse_decimal_minor("0.01"), Ok(1));
        for bad in ["", "0", "0.00", "-1.00", "+1", "1.001", "1e2", " 1", "1.", ".5", "[1]", "{}", "NaN", "1,00"] {
            assert!(parse_decimal_minor(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(format_decimal(1230), "12.30");
        assert_eq!(format_decimal(5), "0.05");
    }
}
