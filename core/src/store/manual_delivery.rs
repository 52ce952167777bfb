//! Manual-delivery products: the fields a buyer fills in at checkout, and the
//! content a merchant delivers after payment (sealed like card keys).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::crypto::TenantKeys;
use crate::entities::orders;
use crate::store::card_keys::{KeyReadError, sold_keys_of_order_for_tenant};
use crate::store::orders::status;

/// One field a buyer fills in (e.g. "游戏账号 / Game account").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputField {
    pub label: String,
    pub required: bool,
    /// A regular expression the whole answer must match, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// Longest answer accepted.
pub const MAX_ANSWER_LEN: usize = 500;

/// A product's fields (none when the JSON is absent or malformed).
pub fn parse_input_fields(json: Option<&str>) -> Vec<InputField> {
    json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    Missing(String),
    Invalid(String),
}

/// Checks the buyer's answers against the fields; returns them, trimmed and keyed by label.
pub fn check_answers(
    fields: &[InputField],
    answer_of: impl Fn(usize, &InputField) -> Option<String>,
) -> Result<Vec<(String, String)>, AnswerError> {
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let v = answer_of(i, f).map(|s| s.trim().to_string()).unwrap_or_default();
        if v.is_empty() {
            if f.required {
                return Err(AnswerError::Missing(f.label.clone()));
            }
            continue;
        }
        let pattern_ok = match &f.pattern {
            Some(p) => crate::buyer_patterns::matches(p, &v),
            None => true,
        };
        if v.chars().count() > MAX_ANSWER_LEN || v.chars().any(char::is_control) || !pattern_ok {
            return Err(AnswerError::Invalid(f.label.clone()));
        }
        out.push((f.label.clone(), v));
    }
    Ok(out)
}

/// What the buyer of an order receives: the merchant's delivery for manual
/// products, the copy kept on a resale order, else the sold keys. Empty until delivered.
pub async fn delivered_contents_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    order: &orders::Model,
) -> Result<Vec<String>, KeyReadError> {
    if order.status != status::DELIVERED {
        return Ok(Vec::new());
    }
    if let (Some(c), Some(n)) = (&order.delivery_ciphertext, &order.delivery_nonce) {
        let text = String::from_utf8_lossy(&keys.open(c, n)?).into_owned();
        // A resale order's copy of its supplier's keys, or keys bought from
        // an external supplier: one key per line.
        if order.stock_tenant_id.is_some() || order.external_connection_id.is_some() {
            return Ok(text.split('\n').map(str::to_string).collect());
        }
        return Ok(vec![text]);
    }
    sold_keys_of_order_for_tenant(conn, keys, &order.tenant_id, &order.id).await
}

/// Records the merchant's delivery of a paid manual order; `false` if the
/// order was not waiting for one (checked in the UPDATE itself).
pub async fn fulfil_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    order_id: &str,
    content: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let sealed = keys.seal(content.as_bytes());
    let r = orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value(status::DELIVERED))
        .col_expr(orders::Column::DeliveryCiphertext, Expr::value(Some(sealed.ciphertext)))
        .col_expr(orders::Column::DeliveryNonce, Expr::value(Some(sealed.nonce)))
        .col_expr(orders::Column::DeliveredAt, Expr::value(Some(now)))
        .col_expr(orders::Column::UpdatedAt, Expr::value(now))
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Id.eq(order_id))
        .filter(orders::Column::Status.eq(status::PAID))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_against_required_and_pattern() {
        let fields = vec![
            InputField { label: "QQ".into(), required: true, pattern: Some("[0-9]{5,11}".into()) },
            InputField { label: "备注".into(), required: false, pattern: None },
        ];
        let ok = check_answers(&fields, |i, _| if i == 0 { Some(" 123456 ".into()) } else { None }).expect("ok");
        assert_eq!(ok, vec![("QQ".to_string(), "123456".to_string())]);
        assert_eq!(check_answers(&fields, |_, _| None), Err(AnswerError::Missing("QQ".into())));
        assert_eq!(
            check_answers(&fields, |i, _| (i == 0).then(|| "12a45".into())),
            Err(AnswerError::Invalid("QQ".into()))
        );
        assert_eq!(
            check_answers(&fields, |i, _| (i == 0).then(|| "123456789012".into())),
            Err(AnswerError::Invalid("QQ".into())),
            "the pattern must match the whole answer"
        );
    }
}
