//! Per-shop catalog cache: products, categories and live stock, the rendered
//! home page per language, the shop's checkout setup (its payment channels
//! and the methods they offer, its risk lists, whether it has webhooks),
//! where each hot product's keys split into lanes, and product descriptions
//! rendered from Markdown. Invalidated in process whenever this
//! process changes a shop's stock or settings; entries also expire after
//! two seconds, which bounds staleness for changes made by other processes.
//! Stock shown on pages may lag by that much; checkout always reserves
//! against the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use kapu_billing::router::{Configured, offered_methods};
use kapu_core::Db;
use kapu_core::crypto::MasterKey;
use kapu_core::entities::risk_entries;
use kapu_core::entities::{categories, products};
use kapu_core::store::card_keys::lane_starts_of_product_for_tenant;
use kapu_core::store::channels::{credentials_of, list_enabled_channels_for_tenant};
use kapu_core::store::products::{
    list_categories_for_tenant, list_visible_products_for_tenant, stock_by_product_for_tenant,
};
use kapu_core::store::risk::list_risk_entries_for_tenant;
use kapu_core::store::webhooks::has_enabled_webhook_endpoint_for_tenant;
use moka::future::Cache;

use crate::error::StoreError;
use crate::i18n::Lang;

/// What a shop offers right now.
#[derive(Debug)]
pub struct Catalog {
    pub products: Vec<products::Model>,
    pub categories: Vec<categories::Model>,
    /// Keys available per product: as loaded, less what this process's
    /// checkouts reserved since (see [`CatalogCache::keys_reserved`]).
    pub stock: HashMap<String, AtomicU64>,
    /// When it was read from the database (a refresh starts at ¾ of the lifetime).
    pub loaded_at: std::time::Instant,
}

impl Catalog {
    /// Keys available now; a manual-delivery product is never out of stock
    /// (its limit is what one order may take).
    pub fn stock_of(&self, product_id: &str) -> u64 {
        match self.product(product_id) {
            Some(p) if p.kind == "manual" => p.max_qty.max(1) as u64,
            _ => self.stock.get(product_id).map(|n| n.load(Ordering::Relaxed)).unwrap_or(0),
        }
    }

    /// A visible product by its id, or by its slug (its readable address).
    pub fn product(&self, id_or_slug: &str) -> Option<&products::Model> {
        self.products
            .iter()
            .find(|p| p.id == id_or_slug)
            .or_else(|| self.products.iter().find(|p| p.slug.as_deref() == Some(id_or_slug)))
    }

    pub fn category_name(&self, category_id: Option<&str>) -> Option<&str> {
        let id = category_id?;
        self.categories.iter().find(|c| c.id == id).map(|c| c.name.as_str())
    }
}

/// Reads a shop's catalog: its visible products, categories and stock.
async fn load_catalog(db: &Db, tenant_id: &str) -> Result<Arc<Catalog>, sea_orm::DbErr> {
    let loaded_at = std::time::Instant::now();
    let r = db.reader();
    let (products, categories, stock) = tokio::try_join!(
        list_visible_products_for_tenant(r, tenant_id),
        list_categories_for_tenant(r, tenant_id),
        stock_by_product_for_tenant(r, tenant_id),
    )?;
    let mut stock: HashMap<String, u64> = stock;
    // Products sold from a supplier's stock show the supplier's keys (0 while paused).
    let resale: Vec<&products::Model> = products.iter().filter(|p| p.supply_tenant_id.is_some()).collect();
    if !resale.is_empty() {
        stock.extend(kapu_core::store::supply::resale_stock_for_tenant(r, &resale, RESALE_STOCK_CAP).await?);
    }
    // Products bought from an external supplier show its stock as last polled.
    for p in products.iter().filter(|p| p.kind == kapu_core::store::external_supply::KIND) {
        stock.insert(p.id.clone(), p.external_stock.unwrap_or(0).max(0) as u64);
    }
    let stock = stock.into_iter().map(|(id, n)| (id, AtomicU64::new(n))).collect();
    Ok(Arc::new(Catalog { products, categories, stock, loaded_at }))
}

/// A resale product's stock is counted up to this many of its supplier's keys.
const RESALE_STOCK_CAP: u64 = 10_000;

/// How many lanes a product's keys are split into for concurrent checkouts.
const LANES: u64 = 32;
/// How long lane starts are kept; stale ones cost a second pick at most.
const LANE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct CatalogCache {
    catalogs: Cache<String, Arc<Catalog>>,
    pages: Cache<(String, Lang), Bytes>,
    /// (shop, product, language, the shop's page generation) → the product
    /// page as a buyer first sees it (no input, no error).
    product_pages: Cache<(String, String, Lang, u64), Bytes>,
    /// Each shop's page generation: a new random number whenever its
    /// catalog is dropped, so every product page cached before is unreachable
    /// at once (and an evicted generation never matches an old page).
    generations: moka::sync::Cache<String, u64>,
    setups: Cache<String, Arc<ShopSetup>>,
    /// (shop, product) → lane starts of its available keys (PostgreSQL only).
    lanes: Cache<(String, String), Arc<Vec<String>>>,
    /// (shop, product, hash of the Markdown) → sanitised HTML. Keyed by the
    /// text, so an edited description is rendered anew without invalidation.
    descriptions: moka::sync::Cache<(String, String, u64), Arc<str>>,
    /// A catalog older than this is reloaded in the background while the
    /// cached one is still served, so a busy shop's page never waits for
    /// its reload (¾ of the lifetime).
    refresh_after: Duration,
    /// Per shop, how many times its pages were dropped (see `page_epoch`).
    page_epochs: moka::sync::Cache<String, u64>,
    /// Shops whose catalog is being refreshed now (one refresh at a time).
    refreshing: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// What placing an order needs of a shop's configuration, so that a
/// checkout reads none of it from the database: its enabled channels (with
/// their credentials, decrypted once per load), the methods they offer, its
/// allow and block lists, and whether any webhook endpoint listens.
/// Dropped whenever the dashboard changes any of them (`ShopChanged`).
pub struct ShopSetup {
    /// Enabled channels, best first.
    pub channels: Vec<Configured>,
    pub offered: OfferedMethods,
    pub risk_entries: Vec<risk_entries::Model>,
    /// Whether an enabled webhook endpoint exists (orders then emit events).
    pub webhooks: bool,
    /// The supplier whose channels take this shop's payments (its live
    /// channels are `channels`, with the shop's own sandbox); none: its own.
    pub collected_by: Option<String>,
}

/// The payment methods a shop's enabled channels offer buyers, in live and
/// in test mode (the sandbox only offers itself in test mode).
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
            pages: Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
            product_pages: Cache::builder().max_capacity(200_000).time_to_live(ttl).build(),
            generations: moka::sync::Cache::builder().max_capacity(100_000).build(),
            setups: Cache::builder().max_capacity(50_000).time_to_live(ttl).build(),
            lanes: Cache::builder().max_capacity(50_000).time_to_live(LANE_TTL).build(),
            descriptions: moka::sync::Cache::builder().max_capacity(20_000).build(),
            refresh_after: ttl * 3 / 4,
            page_epochs: moka::sync::Cache::builder().max_capacity(100_000).build(),
            refreshing: Arc::default(),
        }
    }

    /// The shop's catalog; concurrent misses share one load. A catalog past
    /// ¾ of its lifetime is still served while a fresh one loads in the
    /// background.
    pub async fn catalog(&self, db: &Db, tenant_id: &str) -> Result<Arc<Catalog>, StoreError> {
        if let Some(hit) = self.catalogs.get(tenant_id).await {
            kapu_core::metrics::cache_lookup("catalog", true);
            if hit.loaded_at.elapsed() >= self.refresh_after {
                self.refresh_in_background(db, tenant_id);
            }
            return Ok(hit);
        }
        kapu_core::metrics::cache_lookup("catalog", false);
        let before = self.generation(tenant_id);
        let loaded = self
            .catalogs
            .try_get_with(tenant_id.to_string(), load_catalog(db, tenant_id))
            .await
            .map_err(|e| StoreError::from((*e).clone()))?;
        self.unless_changed_since(before, tenant_id, &self.catalogs).await;
        Ok(loaded)
    }

    /// A load (or render) that started at generation `before` may have been
    /// cached after the shop changed: drop it, so the next request reads
    /// the change rather than waiting out the lifetime.
    async fn unless_changed_since<K, V>(&self, before: u64, tenant_id: &str, cache: &Cache<K, V>)
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static + std::borrow::Borrow<str>,
        V: Clone + Send + Sync + 'static,
    {
        if self.generation(tenant_id) != before {
            cache.invalidate(tenant_id).await;
        }
    }

    /// Reloads a shop's catalog off the request path. A change dropped while
    /// it loads wins: the fresh catalog is kept only if the shop's
    /// generation did not move meanwhile. The shop's pages then re-render
    /// from it (its stock may have moved).
    fn refresh_in_background(&self, db: &Db, tenant_id: &str) {
        {
            let mut refreshing = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
            if !refreshing.insert(tenant_id.to_string()) {
                return;
            }
        }
        let (this, db, tenant) = (self.clone(), db.clone(), tenant_id.to_string());
        tokio::spawn(async move {
            let before = this.generation(&tenant);
            if let Ok(fresh) = load_catalog(&db, &tenant).await
                && this.generation(&tenant) == before
            {
                this.catalogs.insert(tenant.clone(), fresh).await;
                if this.generation(&tenant) == before {
                    this.generations.insert(tenant.clone(), rand::random());
                    this.invalidate_pages(&tenant).await;
                } else {
                    this.catalogs.invalidate(&tenant).await;
                }
            }
            this.refreshing.lock().unwrap_or_else(|p| p.into_inner()).remove(&tenant);
        });
    }

    /// The shop's catalog if this process has it loaded; never loads it
    /// (a load counts every available key of the shop).
    pub async fn cached(&self, tenant_id: &str) -> Option<Arc<Catalog>> {
        self.catalogs.get(tenant_id).await
    }

    /// The shop's checkout setup (three queries and a decryption per
    /// channel on a miss; concurrent misses share one load).
    pub async fn setup(&self, db: &Db, master: &MasterKey, tenant_id: &str) -> Result<Arc<ShopSetup>, StoreError> {
        let load = async {
            let keys = master.tenant(tenant_id);
            let r = db.reader();
            let (channels, risk_entries, webhooks, collected_by) = tokio::try_join!(
                list_enabled_channels_for_tenant(r, tenant_id),
                list_risk_entries_for_tenant(r, tenant_id),
                has_enabled_webhook_endpoint_for_tenant(r, tenant_id),
                kapu_core::store::supply_payments::payment_source(r, tenant_id),
            )?;
            let mut channels: Vec<Configured> = channels
                .into_iter()
                .filter(|c| collected_by.is_none() || c.channel == kapu_billing::channels::sandbox::KIND)
                .map(|c| Configured { credentials: credentials_of(&keys, &c), kind: c.channel })
                .collect();
            // Payments through the supplier's channels: its live ones, decrypted with its key.
            if let Some(supplier) = &collected_by {
                let theirs = master.tenant(supplier);
                let live = list_enabled_channels_for_tenant(r, supplier).await?;
                channels.extend(
                    live.into_iter()
                        .filter(|c| c.channel != kapu_billing::channels::sandbox::KIND)
                        .map(|c| Configured { credentials: credentials_of(&theirs, &c), kind: c.channel }),
                );
            }
            let offered =
                OfferedMethods { live: offered_methods(&channels, false), test: offered_methods(&channels, true) };
            Ok::<_, sea_orm::DbErr>(Arc::new(ShopSetup { channels, offered, risk_entries, webhooks, collected_by }))
        };
        let before = self.generation(tenant_id);
        let setup =
            self.setups.try_get_with(tenant_id.to_string(), load).await.map_err(|e| StoreError::from((*e).clone()))?;
        self.unless_changed_since(before, tenant_id, &self.setups).await;
        Ok(setup)
    }

    /// Where a checkout of this product starts looking for an available key:
    /// the first key of a lane picked at random (PostgreSQL; `None` on
    /// SQLite, whose single writer has no contention to spread, and for
    /// products with few keys).
    pub async fn lane_start(&self, db: &Db, tenant_id: &str, product_id: &str) -> Result<Option<String>, StoreError> {
        use rand::seq::SliceRandom;
        if db.engine() != kapu_core::db::Engine::Postgres {
            return Ok(None);
        }
        let load = async {
            let starts = lane_starts_of_product_for_tenant(db.reader(), tenant_id, product_id, LANES).await?;
            Ok::<_, sea_orm::DbErr>(Arc::new(starts))
        };
        let starts = self
            .lanes
            .try_get_with((tenant_id.to_string(), product_id.to_string()), load)
            .await
            .map_err(|e| StoreError::from((*e).clone()))?;
        // The first lane starts at the first key: no bound needed.
        Ok(starts.choose(&mut rand::thread_rng()).filter(|s| Some(*s) != starts.first()).cloned())
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
            kapu_core::metrics::cache_lookup("page", true);
            return Ok(hit);
        }
        kapu_core::metrics::cache_lookup("page", false);
        let before = self.page_epoch(tenant_id);
        let html = Bytes::from(render.await?);
        self.pages.insert(key.clone(), html.clone()).await;
        if self.page_epoch(tenant_id) != before {
            self.pages.invalidate(&key).await;
        }
        Ok(html)
    }

    /// A product page of the shop as a buyer first sees it, rendered by
    /// `render` on a miss. Dropped with the shop's catalog, and when a
    /// checkout reserves keys of the product (its stock is on the page).
    pub async fn product_page<F>(
        &self,
        tenant_id: &str,
        product_id: &str,
        lang: Lang,
        render: F,
    ) -> Result<Bytes, StoreError>
    where
        F: std::future::Future<Output = Result<String, StoreError>>,
    {
        let key = (tenant_id.to_string(), product_id.to_string(), lang, self.generation(tenant_id));
        if let Some(hit) = self.product_pages.get(&key).await {
            kapu_core::metrics::cache_lookup("product_page", true);
            return Ok(hit);
        }
        kapu_core::metrics::cache_lookup("product_page", false);
        let before = self.page_epoch(tenant_id);
        let html = Bytes::from(render.await?);
        self.product_pages.insert(key.clone(), html.clone()).await;
        if self.page_epoch(tenant_id) != before {
            self.product_pages.invalidate(&key).await;
        }
        Ok(html)
    }

    fn generation(&self, tenant_id: &str) -> u64 {
        self.generations.get_with_by_ref(tenant_id, rand::random)
    }

    /// Forgets every shop's catalog and pages.
    pub async fn invalidate_all(&self) {
        self.catalogs.invalidate_all();
        self.pages.invalidate_all();
        self.product_pages.invalidate_all();
        self.setups.invalidate_all();
        self.lanes.invalidate_all();
    }

    /// Forgets a shop's checkout setup (its channels, mode, risk lists or webhooks changed).
    pub async fn invalidate_setup(&self, tenant_id: &str) {
        self.setups.invalidate(tenant_id).await;
    }

    /// A checkout of this process reserved `quantity` keys of a product: the
    /// cached stock drops by as much, so the product page and the products
    /// API stay exact without reloading the catalog on every order (which,
    /// in a promotion, would reload it on every page view). The shop's
    /// rendered pages are dropped: they re-render from the cached catalog.
    pub async fn keys_reserved(&self, tenant_id: &str, product_id: &str, quantity: u64) {
        let Some(catalog) = self.catalogs.get(tenant_id).await else { return };
        let Some(stock) = catalog.stock.get(product_id) else { return };
        let _ = stock.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(quantity)));
        self.invalidate_pages(tenant_id).await;
        let generation = self.generation(tenant_id);
        for lang in [Lang::Zh, Lang::En] {
            self.product_pages.invalidate(&(tenant_id.to_string(), product_id.to_string(), lang, generation)).await;
        }
    }

    /// How many times the shop's pages were dropped (a render that saw the
    /// count move while it ran is not kept).
    fn page_epoch(&self, tenant_id: &str) -> u64 {
        self.page_epochs.get(tenant_id).unwrap_or(0)
    }

    /// Drops a shop's rendered pages (one per language).
    async fn invalidate_pages(&self, tenant_id: &str) {
        let next = self.page_epoch(tenant_id).wrapping_add(1);
        self.page_epochs.insert(tenant_id.to_string(), next);
        for lang in [Lang::Zh, Lang::En] {
            self.pages.invalidate(&(tenant_id.to_string(), lang)).await;
        }
    }

    /// Forgets a shop's catalog and pages (its stock or products changed).
    pub async fn invalidate(&self, tenant_id: &str) {
        self.catalogs.invalidate(tenant_id).await;
        self.invalidate_pages(tenant_id).await;
        self.generations.insert(tenant_id.to_string(), rand::random());
    }
}
