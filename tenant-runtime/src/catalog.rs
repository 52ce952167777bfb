//! Per-shop catalog cache: products, categories and live stock, plus the
//! rendered home page per language. Invalidated in process whenever this
//! process changes a shop's stock or settings; entries also expire after
//! two seconds, which bounds staleness for changes made by other processes.
//! Stock shown on pages may lag by that much; checkout always reserves
//! against the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use kapu_core::Db;
use kapu_core::entities::{categories, products};
use kapu_core::store::products::{
    list_categories_for_tenant, list_visible_products_for_tenant, stock_by_product_for_tenant,
};
use moka::future::Cache;

use crate::error::StoreError;
use crate::i18n::Lang;

/// What a shop offers right now.
#[derive(Debug)]
pub struct Catalog {
    pub products: Vec<products::Model>,
    pub categories: Vec<categories::Model>,
    pub stock: HashMap<String, u64>,
}

impl Catalog {
    /// Keys available now; a manual-delivery product is never out of stock
    /// (its limit is what one order may take).
    pub fn stock_of(&self, product_id: &str) -> u64 {
        match self.product(product_id) {
            Some(p) if p.kind == "manual" => p.max_qty.max(1) as u64,
            _ => self.stock.get(product_id).copied().unwrap_or(0),
        }
    }

    pub fn product(&self, product_id: &str) -> Option<&products::Model> {
        self.products.iter().find(|p| p.id == product_id)
    }

    pub fn category_name(&self, category_id: Option<&str>) -> Option<&str> {
        let id = category_id?;
        self.categories.iter().find(|c| c.id == id).map(|c| c.name.as_str())
    }
}

#[derive(Clone)]
pub struct CatalogCache {
    catalogs: Cache<String, Arc<Catalog>>,
    pages: Cache<(String, Lang), Bytes>,
}

impl Default for CatalogCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(2))
    }
}

impl CatalogCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            catalogs: Cache::builder().max_capacity(50_000).time_to_live(ttl).build(),
            pages: Cache::builder().max_capacity(100_000).time_to_live(ttl).support_invalidation_closures().build(),
        }
    }

    /// The shop's catalog; concurrent misses share one load.
    pub async fn catalog(&self, db: &Db, tenant_id: &str) -> Result<Arc<Catalog>, StoreError> {
        let load = async {
            let r = db.reader();
            let (products, categories, stock) = tokio::try_join!(
                list_visible_products_for_tenant(r, tenant_id),
                list_categories_for_tenant(r, tenant_id),
                stock_by_product_for_tenant(r, tenant_id),
            )?;
            Ok::<_, sea_orm::DbErr>(Arc::new(Catalog { products, categories, stock }))
        };
        self.catalogs.try_get_with(tenant_id.to_string(), load).await.map_err(|e| StoreError::from((*e).clone()))
    }

    /// A rendered page of the shop in `lang`, rendered by `render` on a miss.
    pub async fn page<F>(&self, tenant_id: &str, lang: Lang, render: F) -> Result<Bytes, StoreError>
    where
        F: std::future::Future<Output = Result<String, StoreError>>,
    {
        let key = (tenant_id.to_string(), lang);
        if let Some(hit) = self.pages.get(&key).await {
            return Ok(hit);
        }
        let html = Bytes::from(render.await?);
        self.pages.insert(key, html.clone()).await;
        Ok(html)
    }

    /// Forgets every shop's catalog and pages.
    pub async fn invalidate_all(&self) {
        self.catalogs.invalidate_all();
        self.pages.invalidate_all();
    }

    /// Forgets everything cached for a shop.
    pub async fn invalidate(&self, tenant_id: &str) {
        self.catalogs.invalidate(tenant_id).await;
        let id = tenant_id.to_string();
        let _ = self.pages.invalidate_entries_if(move |(t, _), _| *t == id);
    }
}
