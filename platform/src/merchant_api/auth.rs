//! Who is calling: `Authorization: Bearer kapu_sk_…` names one live key of
//! one shop. Everything the caller touches is that shop's, so another shop's
//! ids simply are not found (404). Each key is rate-limited by its shop's
//! plan (`api_requests_per_minute`).

use std::num::NonZeroU32;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::Utc;
use governor::Quota;
use kapu_core::entities::api_keys;
use kapu_core::entities::tenants;
use kapu_core::fleet::limits::Limit;
use kapu_core::store::api_keys::{Scope, find_live_api_key_by_secret, touch_api_key_for_tenant};
use kapu_core::tenant::{Tenant, TenantStatus};
use sea_orm::EntityTrait;

use super::error::ApiError;
use crate::state::PlatformState;

/// An authenticated API call.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key: api_keys::Model,
    pub scope: Scope,
    pub shop: Tenant,
}

impl ApiCaller {
    pub fn tenant_id(&self) -> &str {
        &self.shop.id
    }

    /// Refuses a read-only key where the call changes something, and any
    /// key but a supply (or read-write) key where the call buys stock.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.scope.allows(needed) {
            return Ok(());
        }
        Err(match needed {
            Scope::Supply => supply_only(),
            _ => ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "此 API 密钥只读，不能修改数据；请使用读写密钥。This API key is read-only; use a read-write key to make changes.",
            ),
        })
    }
}

/// The paths a supply key may call (an outside reseller's key sees nothing else).
const SUPPLY_PATHS: [&str; 2] = ["/supply/products", "/supply/orders"];

/// A path a supply key may call: one of [`SUPPLY_PATHS`], or one order's `/supply/orders/{reference}`.
fn supply_path(path: &str) -> bool {
    SUPPLY_PATHS.contains(&path)
        || path.strip_prefix("/supply/orders/").is_some_and(|r| !r.is_empty() && !r.contains('/'))
}

fn supply_only() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        "供货密钥只能查看可进货商品并下单进货。A supply key can only list the products offered to it and buy them.",
    )
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<PlatformState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, ApiError> {
        let secret = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let key = find_live_api_key_by_secret(state.db.reader(), secret).await?.ok_or_else(ApiError::unauthorized)?;
        let shop: Tenant = tenants::Entity::find_by_id(key.tenant_id.clone())
            .one(state.db.reader())
            .await?
            .ok_or_else(ApiError::unauthorized)?
            .into();
        if shop.status == TenantStatus::Closed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "shop_closed",
                "本店已关闭，API 不可用。This shop is closed; its API is off.",
            ));
        }
        let plan = kapu_core::store::plans::plan_or_default(state.db.reader(), &shop.plan_id).await?;
        let quota = plan
            .api_requests_per_minute
            .and_then(|n| u32::try_from(n).ok())
            .and_then(NonZeroU32::new)
            .map(Quota::per_minute);
        let limits: Vec<Limit> = quota.map(|q| Limit::new(format!("rl:api:{}", key.id), q)).into_iter().collect();
        if let Err(wait) = state.limits.check(&limits).await.map_err(|r| r.retry_after_secs) {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "请求过于频繁：套餐「{}」每分钟最多 {} 次，请 {wait} 秒后重试。Too many requests: your plan allows {} per minute; retry in {wait} s.",
                    plan.name,
                    plan.api_requests_per_minute.unwrap_or(0),
                    plan.api_requests_per_minute.unwrap_or(0)
                ),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
        let scope = Scope::parse(&key.scope).unwrap_or(Scope::Read);
        // Checked here, for every path: an outside reseller's key reaches
        // the supply endpoints and nothing of the shop's own.
        let path = parts.uri.path();
        if scope == Scope::Supply && !supply_path(path.strip_prefix("/api/merchant/v1").unwrap_or(path)) {
            return Err(supply_only());
        }
        touch_api_key_for_tenant(state.db.writer(), &key, Utc::now()).await?;
        Ok(ApiCaller { key, scope, shop })
    }
}
