//! Risk rules of a shop, applied when a buyer places an order: the allow list
//! wins over everything; the block list refuses; the velocity rule counts the
//! client's and the email's orders in the window and, past the limit, either
//! refuses or asks for a proof-of-work challenge.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{risk_entries, risk_events};
use crate::ids::new_id;
use crate::tenant::RiskSettings;

/// What the rules say about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On the allow list: no further checks.
    Allowed,
    /// Nothing against it.
    Pass,
    /// On the block list (which entry kind matched).
    Blocked(&'static str),
    /// Past the velocity limit and the shop blocks.
    TooFast,
    /// Past the velocity limit and the shop asks for a challenge.
    Challenge,
}

/// Parses and normalizes a list entry; `None` when it is not valid for `kind`.
pub fn normalize_entry(kind: &str, raw: &str) -> Option<String> {
    let v = raw.trim().to_lowercase();
    match kind {
        "email" => (v.contains('@') && !v.contains(char::is_whitespace) && v.len() <= 254).then_some(v),
        "domain" => {
            let d = v.trim_start_matches('@').to_string();
            (d.contains('.') && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')).then_some(d)
        }
        "ip" => v
            .parse::<IpNet>()
            .map(|n| n.trunc().to_string())
            .or_else(|_| v.parse::<IpAddr>().map(|a| a.to_string()))
            .ok(),
        _ => None,
    }
}

fn matches(entry: &risk_entries::Model, email: &str, ip: IpAddr) -> bool {
    let email = email.to_lowercase();
    match entry.kind.as_str() {
        "email" => entry.value == email,
        "domain" => {
            email.rsplit_once('@').is_some_and(|(_, d)| d == entry.value || d.ends_with(&format!(".{}", entry.value)))
        }
        "ip" => entry
            .value
            .parse::<IpNet>()
            .map(|n| n.contains(&ip))
            .or_else(|_| entry.value.parse::<IpAddr>().map(|a| a == ip))
            .unwrap_or(false),
        _ => false,
    }
}

/// What the block and allow lists say about an order: `Allowed` (no further
/// checks), `Blocked`, or nothing (the velocity rule decides).
pub fn screen_by_lists(entries: &[risk_entries::Model], email: &str, ip: IpAddr) -> Option<Verdict> {
    if entries.iter().any(|e| e.list == "allow" && matches(e, email, ip)) {
        return Some(Verdict::Allowed);
    }
    entries.iter().find(|e| e.list == "block" && matches(e, email, ip)).map(|e| {
        Verdict::Blocked(match e.kind.as_str() {
            "email" => "email",
            "domain" => "domain",
            _ => "ip",
        })
    })
}

/// Where the velocity rule's window starts.
pub fn velocity_window_start(rules: &RiskSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::minutes(i64::from(rules.velocity_window_minutes.max(1)))
}

/// How far the velocity rule needs orders counted: past the larger of its
/// two limits no count changes its verdict.
pub fn velocity_count_cap(rules: &RiskSettings) -> u64 {
    rules.velocity_ip_max.max(rules.velocity_email_max).max(1) as u64
}

/// The velocity rule, given how many orders the client address and the email
/// placed since [`velocity_window_start`].
pub fn velocity_verdict(rules: &RiskSettings, recent_by_ip: u64, recent_by_email: u64) -> Verdict {
    let over = recent_by_ip >= rules.velocity_ip_max.max(1) as u64
        || recent_by_email >= rules.velocity_email_max.max(1) as u64;
    match (over, rules.velocity_action.as_str()) {
        (false, _) => Verdict::Pass,
        (true, "block") => Verdict::TooFast,
        (true, _) => Verdict::Challenge,
    }
}

pub async fn list_risk_entries_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<risk_entries::Model>, DbErr> {
    risk_entries::Entity::find()
        .filter(risk_entries::Column::TenantId.eq(tenant_id))
        .order_by_asc(risk_entries::Column::Id)
        .all(conn)
        .await
}

/// Adds an entry (already normalized); a duplicate is a unique violation.
pub async fn add_risk_entry_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    list: &'static str,
    kind: &'static str,
    value: &str,
) -> Result<(), DbErr> {
    risk_entries::Entity::insert(risk_entries::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(new_id()),
        list: Set(list.into()),
        kind: Set(kind.into()),
        value: Set(value.into()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn delete_risk_entry_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
) -> Result<bool, DbErr> {
    let r = risk_entries::Entity::delete_by_id((tenant_id.to_string(), id.to_string())).exec(conn).await?;
    Ok(r.rows_affected == 1)
}

/// Records an attempt a rule stopped.
pub async fn record_risk_event_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    rule: &str,
    email: &str,
    ip: IpAddr,
) -> Result<(), DbErr> {
    risk_events::Entity::insert(risk_events::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(new_id()),
        rule: Set(rule.into()),
        email: Set(email.chars().take(254).collect()),
        client_ip: Set(ip.to_string()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The newest stopped attempts of a shop.
pub async fn list_recent_risk_events_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    limit: u64,
) -> Result<Vec<risk_events::Model>, DbErr> {
    use sea_orm::QuerySelect;
    risk_events::Entity::find()
        .filter(risk_events::Column::TenantId.eq(tenant_id))
        .order_by_desc(risk_events::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, value: &str) -> risk_entries::Model {
        risk_entries::Model {
            tenant_id: "t".into(),
            id: "i".into(),
            list: "block".into(),
            kind: kind.into(),
            value: value.into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn entries_normalize_and_match() {
        assert_eq!(normalize_entry("ip", "10.1.2.3/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(normalize_entry("ip", "2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(normalize_entry("ip", "not-an-ip"), None);
        assert_eq!(normalize_entry("domain", "@Spam.Example").as_deref(), Some("spam.example"));
        assert_eq!(normalize_entry("email", "A@B.c").as_deref(), Some("a@b.c"));
        let ip: IpAddr = "10.9.9.9".parse().expect("ip");
        assert!(matches(&entry("ip", "10.0.0.0/8"), "x@y.z", ip));
        assert!(!matches(&entry("ip", "192.168.0.0/16"), "x@y.z", ip));
        assert!(matches(&entry("domain", "spam.example"), "Bot@Mail.Spam.Example", ip));
        assert!(!matches(&entry("domain", "spam.example"), "me@notspam.example", ip));
        assert!(matches(&entry("email", "bad@x.io"), "BAD@x.io", ip));
    }
}
