//! The notification log a merchant reads in the notification inspector:
//! every payment notification the shop received, with its verdict and the
//! reason in words, and the body as it came with secrets and signatures
//! masked (blanked after [`BODY_DAYS`] days by the retention sweep).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::payment_notifications;
use crate::ids::new_id;

/// How long a notification's (masked) body is kept.
pub const BODY_DAYS: i64 = 7;

/// What became of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Verified and applied: the order moved on.
    Accepted,
    /// Verified, already applied before (providers repeat notifications).
    Duplicate,
    /// Verified: the provider says the payment failed or was cancelled.
    PaymentFailed,
    BadSignature,
    AmountMismatch,
    /// No attempt of this shop has the id in the notification's URL.
    UnknownAttempt,
    /// Signed for another attempt, another merchant, or a transaction that paid another attempt.
    WrongAttempt,
    Malformed,
    /// The provider, asked directly, does not confirm the payment.
    NotConfirmed,
    /// The shop's credentials for the channel are missing or wrong.
    NotConfigured,
    /// The sandbox channel in a live shop.
    NotAllowed,
    /// Ours: the notification could not be applied (the provider will retry).
    Error,
}

impl Verdict {
    /// Every verdict, in the order the inspector's filters list them.
    pub const ALL: [Verdict; 12] = [
        Self::Accepted,
        Self::Duplicate,
        Self::PaymentFailed,
        Self::BadSignature,
        Self::AmountMismatch,
        Self::UnknownAttempt,
        Self::WrongAttempt,
        Self::Malformed,
        Self::NotConfirmed,
        Self::NotConfigured,
        Self::NotAllowed,
        Self::Error,
    ];

    /// The verdict a stored text names.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::PaymentFailed => "payment_failed",
            Self::BadSignature => "bad_signature",
            Self::AmountMismatch => "amount_mismatch",
            Self::UnknownAttempt => "unknown_attempt",
            Self::WrongAttempt => "wrong_attempt",
            Self::Malformed => "malformed",
            Self::NotConfirmed => "not_confirmed",
            Self::NotConfigured => "not_configured",
            Self::NotAllowed => "not_allowed",
            Self::Error => "error",
        }
    }

    /// Verdicts that changed nothing because the notification was refused.
    pub fn is_rejection(self) -> bool {
        !matches!(self, Self::Accepted | Self::Duplicate | Self::PaymentFailed | Self::Error)
    }

    /// What the verdict means, for the merchant (zh, en).
    pub fn meaning(self) -> (&'static str, &'static str) {
        match self {
            Self::Accepted => ("已确认，订单已处理", "Verified; the order moved on"),
            Self::Duplicate => ("重复通知，此前已处理", "A repeat of a notification already applied"),
            Self::PaymentFailed => ("支付失败或已取消", "The provider says the payment failed or was cancelled"),
            Self::BadSignature => (
                "签名校验失败（可能是伪造的通知或密钥不符）",
                "Signature does not verify (forged, or the key does not match)",
            ),
            Self::AmountMismatch => ("金额或币种与订单不符", "Amount or currency differs from the attempt"),
            Self::UnknownAttempt => ("找不到对应的支付记录", "No payment attempt of this shop has this id"),
            Self::WrongAttempt => ("通知属于其他支付记录或商户", "The notification is for another attempt or merchant"),
            Self::Malformed => ("通知格式错误", "The notification could not be read"),
            Self::NotConfirmed => {
                ("向支付渠道查询后未确认付款", "The provider, asked directly, did not confirm the payment")
            }
            Self::NotConfigured => ("收款渠道未配置或凭据无效", "The channel's credentials are missing or invalid"),
            Self::NotAllowed => (
                "此渠道当前不可用（如正式模式下的测试渠道）",
                "The channel is not allowed now (e.g. the sandbox in live mode)",
            ),
            Self::Error => ("处理时出错，渠道会重发", "We could not apply it; the provider will send it again"),
        }
    }
}

/// One line of the log.
pub struct NotificationRecord<'a> {
    pub tenant_id: &'a str,
    pub payment_id: &'a str,
    pub order_no: &'a str,
    pub channel: &'a str,
    pub source_ip: &'a str,
    pub verdict: Verdict,
    pub reason: &'a str,
    /// Already masked (see [`masked_body`]).
    pub body: &'a str,
}

pub async fn record_notification<C: ConnectionTrait>(conn: &C, r: NotificationRecord<'_>) -> Result<(), DbErr> {
    payment_notifications::Entity::insert(payment_notifications::ActiveModel {
        tenant_id: Set(r.tenant_id.into()),
        id: Set(new_id()),
        payment_id: Set(r.payment_id.chars().take(64).collect()),
        order_no: Set(r.order_no.into()),
        channel: Set(r.channel.chars().take(32).collect()),
        source_ip: Set(r.source_ip.chars().take(64).collect()),
        verdict: Set(r.verdict.as_str().into()),
        reason: Set(r.reason.chars().take(500).collect()),
        body: Set(r.body.chars().take(16 * 1024).collect()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The notifications of one order, oldest first.
pub async fn notifications_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_no: &str,
) -> Result<Vec<payment_notifications::Model>, DbErr> {
    payment_notifications::Entity::find()
        .filter(payment_notifications::Column::TenantId.eq(tenant_id))
        .filter(payment_notifications::Column::OrderNo.eq(order_no))
        .order_by_asc(payment_notifications::Column::Id)
        .limit(200)
        .all(conn)
        .await
}

/// The newest notifications of a shop, optionally of one verdict only.
pub async fn recent_notifications_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    verdict: Option<&str>,
    limit: u64,
) -> Result<Vec<payment_notifications::Model>, DbErr> {
    let mut q = payment_notifications::Entity::find().filter(payment_notifications::Column::TenantId.eq(tenant_id));
    if let Some(v) = verdict {
        q = q.filter(payment_notifications::Column::Verdict.eq(v));
    }
    q.order_by_desc(payment_notifications::Column::Id).limit(limit).all(conn).await
}

/// Blanks the bodies older than [`BODY_DAYS`]; returns how many.
pub async fn blank_old_bodies<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>) -> Result<u64, DbErr> {
    use sea_orm::sea_query::Expr;
    Ok(payment_notifications::Entity::update_many()
        .col_expr(payment_notifications::Column::Body, Expr::value(""))
        .filter(payment_notifications::Column::CreatedAt.lt(now - chrono::Duration::days(BODY_DAYS)))
        .filter(payment_notifications::Column::Body.ne(""))
        .exec(conn)
        .await?
        .rows_affected)
}

const MASK: &str = "••••";

/// Whether a field or header of this name carries a secret or a signature.
fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["sign", "signature", "secret", "key", "token", "password", "authorization", "cookie", "nonce", "serial"]
        .iter()
        .any(|s| n.contains(s))
        || n == "sig"
        || n.ends_with("_sig")
}

/// The notification as the merchant sees it: fields (form, query or JSON)
/// and the headers that say who sent it, secrets and signatures masked.
pub fn masked_body(fields: &BTreeMap<String, String>, headers: &BTreeMap<String, String>, raw: &str) -> String {
    let mask = |k: &str, v: &str| if is_secret_name(k) { MASK.to_string() } else { v.to_string() };
    let mut out = String::new();
    for (k, v) in headers {
        let shown = k.starts_with("wechatpay-")
            || k.starts_with("stripe-")
            || matches!(k.as_str(), "content-type" | "user-agent" | "authorization");
        if shown {
            out.push_str(&format!("{k}: {}\n", mask(k, v)));
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    if !fields.is_empty() {
        let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", mask(k, v))).collect();
        out.push_str(&pairs.join("&"));
    } else if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(raw) {
        mask_json(&mut v);
        out.push_str(&v.to_string());
    } else if !raw.is_empty() {
        out.push_str("(unreadable body, not kept)");
    }
    out
}

fn mask_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_name(k) && !v.is_object() && !v.is_array() {
                    *v = serde_json::Value::String(MASK.into());
                } else {
                    mask_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_keys_are_masked_and_the_rest_is_kept() {
        let fields: BTreeMap<String, String> =
            [("out_trade_no", "P1"), ("sign", "abc123"), ("sign_type", "MD5"), ("money", "9.90"), ("app_key", "k")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let headers: BTreeMap<String, String> =
            [("wechatpay-signature", "sig=="), ("wechatpay-timestamp", "1"), ("x-forwarded-for", "1.2.3.4")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let body = masked_body(&fields, &headers, "");
        assert!(body.contains("out_trade_no=P1"), "{body}");
        assert!(body.contains("money=9.90"));
        assert!(!body.contains("abc123") && !body.contains("sig==") && !body.contains("app_key=k"), "{body}");
        assert!(body.contains("wechatpay-timestamp: 1"));
        assert!(!body.contains("x-forwarded-for"));
        let json =
            masked_body(&BTreeMap::new(), &BTreeMap::new(), r#"{"id":"e1","data":{"client_secret":"s","amount":5}}"#);
        assert!(json.contains("\"amount\":5") && !json.contains("\"s\""), "{json}");
        assert!(Verdict::BadSignature.is_rejection() && !Verdict::Duplicate.is_rejection());
    }
}
