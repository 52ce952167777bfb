//! Access to one shop's dashboard, layered by role: `ShopAccess` (any member)
//! and `OwnerAccess` (the owner). The shop comes from the `{slug}` in the path
//! and the account's membership; a shop the account is not a member of is a
//! plain 404, exactly like a shop that does not exist.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use kapu_core::entities::tenants;
use kapu_core::store::accounts::{Role, find_shop_of_account_by_slug};

use crate::auth::csrf::request_port;
use crate::auth::session::{Account, Merchant};
use crate::error::PageError;
use crate::state::PlatformState;

/// A member of the shop named in the path.
#[derive(Debug, Clone)]
pub struct ShopAccess {
    pub account: Account,
    pub shop: tenants::Model,
    pub role: Role,
    /// The shop's public URL, on the port the dashboard was reached on.
    pub shop_url: String,
    /// When a failed plan payment's grace period ends (shown on every page).
    pub grace_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl ShopAccess {
    pub fn tenant_id(&self) -> &str {
        &self.shop.id
    }

    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }
}

impl FromRequestParts<PlatformState> for ShopAccess {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, PageError> {
        if let Some(hit) = parts.extensions.get::<ShopAccess>() {
            return Ok(hit.clone());
        }
        let Merchant(account) = Merchant::from_request_parts(parts, state).await?;
        let Path(params) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await.map_err(|_| PageError::NotFound)?;
        let slug = params.get("slug").ok_or(PageError::NotFound)?;
        let (shop, role) =
            find_shop_of_account_by_slug(state.db.reader(), &account.id, slug).await?.ok_or(PageError::NotFound)?;
        let shop_url = state.shop_url(&shop.slug, request_port(&parts.headers));
        let grace_until = kapu_core::store::subscriptions::find_subscription_for_tenant(state.db.reader(), &shop.id)
            .await?
            .and_then(|s| s.grace_until);
        let access = ShopAccess { account, shop, role, shop_url, grace_until };
        parts.extensions.insert(access.clone());
        Ok(access)
    }
}

/// The owner of the shop named in the path; staff get a clear 403.
#[derive(Debug, Clone)]
pub struct OwnerAccess(pub ShopAccess);

impl FromRequestParts<PlatformState> for OwnerAccess {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PlatformState) -> Result<Self, PageError> {
        let access = ShopAccess::from_request_parts(parts, state).await?;
        if access.role < Role::Owner {
            return Err(PageError::OwnerOnly);
        }
        Ok(OwnerAccess(access))
    }
}
