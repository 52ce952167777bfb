//! Host → tenant, once per request, cached in process.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kapu_core::db::Db;
use kapu_core::tenant::{HostKind, Tenant, classify_host, find_tenant_by_slug, find_tenant_by_verified_domain};
use moka::future::Cache;

use crate::error::StoreError;

/// The shop a request is for. Storefront handlers take this, never a tenant id from the request.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    pub tenant: Arc<Tenant>,
    /// `{scheme}://{host[:port]}` as the buyer reached the shop: base of absolute links.
    pub base_url: String,
}

impl TenantCtx {
    pub fn id(&self) -> &str {
        &self.tenant.id
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TenantCtx {
    type Rejection = StoreError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, StoreError> {
        parts.extensions.get::<TenantCtx>().cloned().ok_or(StoreError::ShopNotFound)
    }
}

/// Process-local cache of host lookups (misses included), with an invalidation hook.
#[derive(Clone)]
pub struct TenantCache {
    cache: Cache<String, Option<Arc<Tenant>>>,
}

impl Default for TenantCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl TenantCache {
    /// Hosts are remembered for `ttl` (the bus drops them sooner on a change).
    pub fn new(ttl: Duration) -> Self {
        Self { cache: Cache::builder().max_capacity(100_000).time_to_live(ttl).support_invalidation_closures().build() }
    }

    /// The tenant serving `host` (normalized), if any.
    pub async fn resolve(
        &self,
        db: &Db,
        host: &str,
        platform_host: &str,
        shop_host: &str,
    ) -> Result<Option<Arc<Tenant>>, StoreError> {
        if let Some(hit) = self.cache.get(host).await {
            return Ok(hit);
        }
        let found = match classify_host(host, platform_host, shop_host) {
            HostKind::Platform => None,
            HostKind::ShopSlug(slug) => find_tenant_by_slug(db.reader(), &slug).await?,
            HostKind::Custom(h) => find_tenant_by_verified_domain(db.reader(), &h).await?,
        }
        .map(Arc::new);
        self.cache.insert(host.to_string(), found.clone()).await;
        Ok(found)
    }

    /// Forgets one host (a domain added or removed).
    pub async fn invalidate_host(&self, host: &str) {
        self.cache.invalidate(host).await;
    }

    /// Forgets everything.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Forgets every host of a tenant (status, mode or settings changed).
    pub fn invalidate_tenant(&self, tenant_id: &str) {
        let id = tenant_id.to_string();
        // Cannot fail: the predicate is registered on a cache built with support for it.
        let _ = self.cache.invalidate_entries_if(move |_, v| v.as_ref().is_some_and(|t| t.id == id));
    }
}
