//! Money is integer minor units with a currency, never floats.

/// Number of minor units per major unit for a currency (ISO 4217 exponent).
pub fn minor_per_major(currency: &str) -> i64 {
    match currency {
        "JPY" | "KRW" | "VND" => 1,
        _ => 100,
    }
}

/// The sign buyers know a currency by, put before amounts on storefront
/// pages (`¥9.90`, `$9.90`); the code itself for one without a common sign.
pub fn currency_symbol(currency: &str) -> &str {
    match currency {
        "CNY" | "JPY" => "¥",
        "USD" => "$",
        "EUR" => "€",
        "HKD" => "HK$",
        "GBP" => "£",
        other => other,
    }
}

/// Formats minor units as a decimal string in major units: `990` CNY → `"9.90"`.
pub fn format_minor(amount_minor: i64, currency: &str) -> String {
    let per = minor_per_major(currency);
    if per == 1 {
        return amount_minor.to_string();
    }
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let per = per as u64;
    let digits = per.ilog10() as usize;
    format!("{sign}{}.{:0digits$}", abs / per, abs % per)
}

/// Parses a decimal major-unit string ("9.9", "9.90", "10") into minor units.
/// Returns `None` for anything else (more decimals than the currency has, signs, junk).
pub fn parse_major(text: &str, currency: &str) -> Option<i64> {
    let per = minor_per_major(currency);
    let digits = per.ilog10() as usize;
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > digits || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac_val: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<digits$}").parse().ok()? };
    whole.checked_mul(per)?.checked_add(frac_val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_minor(990, "CNY"), "9.90");
        assert_eq!(format_minor(5, "CNY"), "0.05");
        assert_eq!(format_minor(120000, "USD"), "1200.00");
        assert_eq!(format_minor(500, "JPY"), "500");
    }

    #[test]
    fn parses() {
        assert_eq!(parse_major("9.9", "CNY"), Some(990));
        assert_eq!(parse_major("9.90", "CNY"), Some(990));
        assert_eq!(parse_major("10", "CNY"), Some(1000));
        assert_eq!(parse_major("9.901", "CNY"), None);
        assert_eq!(parse_major("-1", "CNY"), None);
        assert_eq!(parse_major("", "CNY"), None);
    }
}
