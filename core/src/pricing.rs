//! Unit prices, including wholesale tiers (`qty ≥ N → unit price`).

use serde::{Deserialize, Serialize};

/// One wholesale tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub min_qty: i64,
    pub unit_price_minor: i64,
}

/// Parses a product's `wholesale_tiers` JSON; malformed or empty means no tiers.
pub fn parse_tiers(json: Option<&str>) -> Vec<Tier> {
    let mut tiers: Vec<Tier> = json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    tiers.retain(|t| t.min_qty > 1 && t.unit_price_minor >= 0);
    tiers.sort_by_key(|t| t.min_qty);
    tiers
}

/// The unit price for `quantity`: the tier with the largest `min_qty` not above it, else the base price.
pub fn unit_price(base_minor: i64, tiers: &[Tier], quantity: i64) -> i64 {
    tiers.iter().filter(|t| quantity >= t.min_qty).max_by_key(|t| t.min_qty).map_or(base_minor, |t| t.unit_price_minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_apply_from_their_minimum() {
        let tiers =
            parse_tiers(Some(r#"[{"min_qty":10,"unit_price_minor":3290},{"min_qty":5,"unit_price_minor":3590}]"#));
        assert_eq!(unit_price(3990, &tiers, 1), 3990);
        assert_eq!(unit_price(3990, &tiers, 4), 3990);
        assert_eq!(unit_price(3990, &tiers, 5), 3590);
        assert_eq!(unit_price(3990, &tiers, 12), 3290);
        assert!(parse_tiers(Some("not json")).is_empty());
        assert!(parse_tiers(None).is_empty());
    }
}
