//! Host → tenant, once per request, cached in process.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// Process-local cache of host lookups (misses included), with invalidation
/// hooks. A lookup past ¾ of its lifetime is still answered from the cache
/// while a fresh one runs in the background, so a busy host never waits for
/// the database.
#[derive(Clone)]
pub struct TenantCache {
    cache: Cache<String, Known>,
    refresh_after: Duration,
    /// Bumped by every invalidation: a lookup that was running meanwhile
    /// must not put back what the invalidation dropped.
    epoch: Arc<AtomicU64>,
    /// Hosts being looked up in the background now.
    refreshing: Arc<std::sync::Mutex<HashSet<String>>>,
}

#[derive(Clone)]
struct Known {
    tenant: Option<Arc<Tenant>>,
    looked_up: Instant,
}

impl Default for TenantCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

async fn look_up(db: &Db, host: &str, platform_host: &str, shop_host: &str) -> Result<Option<Arc<Tenant>>, StoreError> {
    Ok(match classify_host(host, platform_host, shop_host) {
        HostKind::Platform => None,
        HostKind::ShopSlug(slug) => find_tenant_by_slug(db.reader(), &slug).await?,
        HostKind::Custom(h) => find_tenant_by_verified_domain(db.reader(), &h).await?,
    }
    .map(Arc::new))
}

impl TenantCache {
    /// Hosts are remembered for `ttl` (the bus drops them sooner on a change).
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: Cache::builder().max_capacity(100_000).time_to_live(ttl).support_invalidation_closures().build(),
            refresh_after: ttl * 3 / 4,
            epoch: Arc::default(),
            refreshing: Arc::default(),
        }
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
            if hit.looked_up.elapsed() >= self.refresh_after {
                self.refresh_in_background(db, host, platform_host, shop_host);
            }
            return Ok(hit.tenant);
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let found = look_up(db, host, platform_host, shop_host).await?;
        self.remember(host, found.clone(), epoch).await;
        Ok(found)
    }

    /// Caches a lookup unless an invalidation ran since it started.
    async fn remember(&self, host: &str, tenant: Option<Arc<Tenant>>, epoch: u64) {
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        self.cache.insert(host.to_string(), Known { tenant, looked_up: Instant::now() }).await;
        if self.epoch.load(Ordering::SeqCst) != epoch {
            self.cache.invalidate(host).await;
        }
    }

    fn refresh_in_background(&self, db: &Db, host: &str, platform_host: &str, shop_host: &str) {
        if !self.refreshing.lock().unwrap_or_else(|p| p.into_inner()).insert(host.to_string()) {
            return;
        }
        let (this, db, host) = (self.clone(), db.clone(), host.to_string());
        let (platform_host, shop_host) = (platform_host.to_string(), shop_host.to_string());
        tokio::spawn(async move {
            let epoch = this.epoch.load(Ordering::SeqCst);
            if let Ok(found) = look_up(&db, &host, &platform_host, &shop_host).await {
                this.remember(&host, found, epoch).await;
            }
            this.refreshing.lock().unwrap_or_else(|p| p.into_inner()).remove(&host);
        });
    }

    /// Forgets one host (a domain added or removed).
    pub async fn invalidate_host(&self, host: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate(host).await;
    }

    /// Forgets everything.
    pub fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    /// Forgets every host of a tenant (status, mode or settings changed).
    pub fn invalidate_tenant(&self, tenant_id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let id = tenant_id.to_string();
        // Cannot fail: the predicate is registered on a cache built with support for it.
        let _ = self.cache.invalidate_entries_if(move |_, v| v.tenant.as_ref().is_some_and(|t| t.id == id));
    }
}
