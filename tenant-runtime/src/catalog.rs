//! Per-shop catalog cache: products, categories and live stock, the rendered
//! home page per language, the payment methods the shop's channels offer, and
//! product descriptions rendered from Markdown. Invalidated in process whenever this
//! process changes a shop's stock or settings; entries also expire after
//! two seconds, which bounds staleness for changes made by other processes.
//! Stock shown on pages may lag by that much; checkout always reserves
//! against the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use kapu_billing::router::{Configured, offered_methods};
use kapu_core::Db;
use kapu_core::crypto::MasterKey;
use kapu_core::entities::{categories, products};
use kapu_core::store::channels::{credentials_of, list_enabled_channels_for_tenant};
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
    methods: Cache<String, Arc<OfferedMethods>>,
    /// (shop, product, hash of the Markdown) → sanitised HTML. Keyed by the
    /// text, so an edited description is rendered anew without invalidation.
    descriptions: moka::sync::Cache<(String, String, u64), Arc<str>>,
}

/// The payment methods a shop's enabled channels offer buyers, in live and
/// in test mode (the sandbox only offers itself in test mode). Names only:
/// the decrypted credentials they were worked out from are not kept.
#[derive(Debug, Default)]
pub struct OfferedMethods {
    pub live: Vec<&'static str>,
    pub test: Vec<&'static str>,
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
            methods: Cache::builder().max_capacity(50_000).time_to_live(ttl).build(),
            descriptions: moka::sync::Cache::builder().max_capacity(20_000).build(),
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

    /// The methods the shop's enabled channels offer (one query and a
    /// decryption per channel on a miss).
    pub async fn offered_methods(
        &self,
        db: &Db,
        master: &MasterKey,
        tenant_id: &str,
    ) -> Result<Arc<OfferedMethods>, StoreError> {
        let load = async {
            let keys = master.tenant(tenant_id);
            let configured: Vec<Configured> = list_enabled_channels_for_tenant(db.reader(), tenant_id)
                .await?
                .into_iter()
                .map(|c| Configured { credentials: credentials_of(&keys, &c), kind: c.channel })
                .collect();
            Ok::<_, sea_orm::DbErr>(Arc::new(OfferedMethods {
                live: offered_methods(&configured, false),
                test: offered_methods(&configured, true),
            }))
        };
        self.methods.try_get_with(tenant_id.to_string(), load).await.map_err(|e| StoreError::from((*e).clone()))
    }

    /// A product's description as sanitised HTML, rendered once per text.
    pub fn description_html(&self, tenant_id: &str, product: &products::Model) -> Arc<str> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        product.description.hash(&mut h);
        let key = (tenant_id.to_string(), product.id.clone(), h.finish());
        self.descriptions.get_with(key, || crate::markdown::render_description(&product.description).into())
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
        self.methods.invalidate_all();
    }

    /// Forgets the payment methods a shop offers (its channels or mode changed).
    pub async fn invalidate_methods(&self, tenant_id: &str) {
        self.methods.invalidate(tenant_id).await;
    }

    /// Forgets a shop's catalog and pages (its stock or products changed).
    pub async fn invalidate(&self, tenant_id: &str) {
        self.catalogs.invalidate(tenant_id).await;
        let id = tenant_id.to_string();
        let _ = self.pages.invalidate_entries_if(move |(t, _), _| *t == id);
    }
}
