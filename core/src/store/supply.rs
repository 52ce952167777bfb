//! In-platform supply: a supplier opens a product for resale; other shops
//! sell it as their own product, and each of their orders reserves the
//! supplier's keys in the order's own transaction (the key allocator in
//! `card_keys`, called with the supplier's shop); each delivered resale and
//! each refund of one is booked on an append-only ledger between the two.
//!
//! Isolation: every query here names the shop it acts for. A reseller reads
//! the supplier's listing, product name/description/currency and a stock
//! figure (a band unless the supplier allows the exact count), never its
//! keys, buyers or other resellers. A supplier reads the orders of its
//! products placed on resellers' shops by order number, quantity and time,
//! never the buyers' emails.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{orders, products, supply_invites, supply_ledger, supply_listings, supply_resellers, tenants};
use crate::ids::new_id;
use crate::store::orders::status;
use crate::store::products::available_keys_up_to_for_tenant;

/// Who may resell a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every active shop on the platform.
    Any,
    /// Only the shops the supplier listed (entered by address, kept by id).
    Listed,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Any => "any",
            Audience::Listed => "listed",
        }
    }
    pub fn parse(s: &str) -> Audience {
        if s == "listed" { Audience::Listed } else { Audience::Any }
    }
}

/// What a supplier sets on a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingTerms {
    pub wholesale_minor: i64,
    pub min_resale_minor: Option<i64>,
    pub audience: Audience,
    /// Shop ids, for [`Audience::Listed`].
    pub allowed_shops: Vec<String>,
    pub per_order_cap: Option<i32>,
    pub daily_cap: Option<i32>,
    pub exact_stock: bool,
    pub open: bool,
}

/// The lowest price a reseller may sell a listing at: its minimum resale
/// price, and never below the wholesale price (a sale must not cost the reseller).
pub fn lowest_resale_price(l: &supply_listings::Model) -> i64 {
    l.min_resale_minor.unwrap_or(0).max(l.wholesale_minor)
}

fn allowed_list(l: &supply_listings::Model) -> Vec<&str> {
    l.allowed_shops.as_deref().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// The shops a listing names (ids), for [`Audience::Listed`].
pub fn allowed_shops(l: &supply_listings::Model) -> Vec<String> {
    allowed_list(l).into_iter().map(str::to_string).collect()
}

/// Whether the shop `tenant_id` may resell this listing (open, and in its audience).
pub fn may_resell(l: &supply_listings::Model, tenant_id: &str) -> bool {
    l.open && (Audience::parse(&l.audience) == Audience::Any || allowed_list(l).contains(&tenant_id))
}

/// A supplier's listing of one of its products.
pub async fn find_listing_for_supplier<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    product_id: &str,
) -> Result<Option<supply_listings::Model>, DbErr> {
    supply_listings::Entity::find_by_id((supplier_tenant_id.to_string(), product_id.to_string())).one(conn).await
}

/// Reseller products paused or resumed by a listing's new terms.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TermsEffect {
    /// (reseller shop, its product) paused because the wholesale price rose above its price.
    pub paused_for_price: Vec<(String, String)>,
    /// (reseller shop, its product) resumed because the price fits again.
    pub resumed: Vec<(String, String)>,
}

/// Opens (or updates) a supplier's listing. When the wholesale price rises
/// above a reseller's price, that reseller's product is paused (`price`);
/// when it fits again, a product paused for price resumes. The caller has
/// checked that the product is the supplier's own and sells keys.
pub async fn save_listing_for_supplier<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    product_id: &str,
    terms: &ListingTerms,
    now: DateTime<Utc>,
) -> Result<TermsEffect, DbErr> {
    let row = supply_listings::ActiveModel {
        tenant_id: Set(supplier_tenant_id.into()),
        product_id: Set(product_id.into()),
        wholesale_minor: Set(terms.wholesale_minor),
        min_resale_minor: Set(terms.min_resale_minor),
        audience: Set(terms.audience.as_str().into()),
        allowed_shops: Set(Some(terms.allowed_shops.join(",")).filter(|s| !s.is_empty())),
        per_order_cap: Set(terms.per_order_cap),
        daily_cap: Set(terms.daily_cap),
        exact_stock: Set(terms.exact_stock),
        open: Set(terms.open),
        created_at: Set(now),
        updated_at: Set(now),
    };
    supply_listings::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([supply_listings::Column::TenantId, supply_listings::Column::ProductId])
                .update_columns([
                    supply_listings::Column::WholesaleMinor,
                    supply_listings::Column::MinResaleMinor,
                    supply_listings::Column::Audience,
                    supply_listings::Column::AllowedShops,
                    supply_listings::Column::PerOrderCap,
                    supply_listings::Column::DailyCap,
                    supply_listings::Column::ExactStock,
                    supply_listings::Column::Open,
                    supply_listings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    let mut effect = TermsEffect::default();
    for p in resale_products_of_supplier_product(conn, supplier_tenant_id, product_id).await? {
        let too_low = p.price_minor < terms.wholesale_minor;
        let paused_for_price = p.supply_paused.as_deref() == Some("price");
        let next = match (too_low, paused_for_price) {
            (true, false) if p.supply_paused.is_none() => Some(Some("price")),
            (false, true) => Some(None),
            _ => None,
        };
        let Some(next) = next else { continue };
        set_paused(conn, &p.tenant_id, &p.id, next).await?;
        let pair = (p.tenant_id.clone(), p.id.clone());
        if next.is_some() { effect.paused_for_price.push(pair) } else { effect.resumed.push(pair) }
    }
    Ok(effect)
}

async fn set_paused<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    product_id: &str,
    reason: Option<&str>,
) -> Result<u64, DbErr> {
    Ok(products::Entity::update_many()
        .col_expr(products::Column::SupplyPaused, Expr::value(reason.map(str::to_string)))
        .filter(products::Column::TenantId.eq(tenant_id))
        .filter(products::Column::Id.eq(product_id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Resumes a reseller's product paused for price if its price now covers
/// the wholesale price; returns whether it did.
pub async fn resume_if_price_fits<C: ConnectionTrait>(
    conn: &C,
    reseller_tenant_id: &str,
    product_id: &str,
) -> Result<bool, DbErr> {
    let Some(p) =
        products::Entity::find_by_id((reseller_tenant_id.to_string(), product_id.to_string())).one(conn).await?
    else {
        return Ok(false);
    };
    let (Some(st), Some(sp), Some("price")) = (&p.supply_tenant_id, &p.supply_product_id, p.supply_paused.as_deref())
    else {
        return Ok(false);
    };
    let Some(l) = find_listing_for_supplier(conn, st, sp).await? else { return Ok(false) };
    if p.price_minor < l.wholesale_minor {
        return Ok(false);
    }
    Ok(set_paused(conn, reseller_tenant_id, product_id, None).await? == 1)
}

/// Every reseller product backed by one supplier product.
async fn resale_products_of_supplier_product<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    product_id: &str,
) -> Result<Vec<products::Model>, DbErr> {
    products::Entity::find()
        .filter(products::Column::SupplyTenantId.eq(supplier_tenant_id))
        .filter(products::Column::SupplyProductId.eq(product_id))
        .all(conn)
        .await
}

/// How much stock a reseller is shown: exact when the supplier allows it, else a band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum StockFigure {
    Exact(u64),
    /// At least this many (0, 1, 10, 100, 1000).
    AtLeast(u64),
}

impl StockFigure {
    /// The counts are taken up to 1,000; beyond that "1000+".
    pub const CAP: u64 = 1000;

    pub fn of(available: u64, exact: bool) -> StockFigure {
        if exact && available < Self::CAP {
            return StockFigure::Exact(available);
        }
        StockFigure::AtLeast(match available {
            0 => 0,
            1..=9 => 1,
            10..=99 => 10,
            100..=999 => 100,
            _ => 1000,
        })
    }

    /// As shown on the dashboard (`37`, `0`, `10+`, `1000+`; `1+` reads "a few").
    pub fn label(self) -> String {
        match self {
            StockFigure::Exact(n) => n.to_string(),
            StockFigure::AtLeast(0) => "0".into(),
            StockFigure::AtLeast(1) => "1–9".into(),
            StockFigure::AtLeast(n) => format!("{n}+"),
        }
    }
}

/// One listing in a reseller's supply catalog.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub supplier_tenant_id: String,
    pub supplier_slug: String,
    pub supplier_name: String,
    pub product: products::Model,
    pub listing: supply_listings::Model,
    pub stock: StockFigure,
    /// The reseller's product already backed by it, if any.
    pub added_as: Option<String>,
}

/// The supply catalog as the shop `reseller` sees it: open listings of
/// active shops other than itself whose audience includes it, matching
/// `query` (product name, supplier name or address; empty: all), newest first.
pub async fn supply_catalog_for_reseller<C: ConnectionTrait>(
    conn: &C,
    reseller_tenant_id: &str,
    query: &str,
) -> Result<Vec<CatalogEntry>, DbErr> {
    let listings = supply_listings::Entity::find()
        .filter(supply_listings::Column::Open.eq(true))
        .filter(supply_listings::Column::TenantId.ne(reseller_tenant_id))
        .order_by_desc(supply_listings::Column::UpdatedAt)
        .limit(500)
        .all(conn)
        .await?;
    let listings: Vec<_> = listings.into_iter().filter(|l| may_resell(l, reseller_tenant_id)).collect();
    if listings.is_empty() {
        return Ok(Vec::new());
    }
    let shop_ids: Vec<String> = listings.iter().map(|l| l.tenant_id.clone()).collect();
    let shops: HashMap<String, tenants::Model> = tenants::Entity::find()
        .filter(tenants::Column::Id.is_in(shop_ids))
        .filter(tenants::Column::Status.eq("active"))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    let mine: HashMap<(String, String), String> = products::Entity::find()
        .filter(products::Column::TenantId.eq(reseller_tenant_id))
        .filter(products::Column::SupplyTenantId.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|p| Some(((p.supply_tenant_id?, p.supply_product_id?), p.id)))
        .collect();
    let needle = query.trim().to_lowercase();
    let mut out = Vec::new();
    for l in listings {
        let Some(shop) = shops.get(&l.tenant_id) else { continue };
        let Some(product) = products::Entity::find_by_id((l.tenant_id.clone(), l.product_id.clone())).one(conn).await?
        else {
            continue;
        };
        if !needle.is_empty()
            && ![&product.name, &shop.name, &shop.slug].iter().any(|s| s.to_lowercase().contains(&needle))
        {
            continue;
        }
        let available = available_keys_up_to_for_tenant(conn, &l.tenant_id, &l.product_id, StockFigure::CAP).await?;
        let added_as = mine.get(&(l.tenant_id.clone(), l.product_id.clone())).cloned();
        out.push(CatalogEntry {
            supplier_tenant_id: shop.id.clone(),
            supplier_slug: shop.slug.clone(),
            supplier_name: shop.name.clone(),
            stock: StockFigure::of(available, l.exact_stock),
            product,
            listing: l,
            added_as,
        });
    }
    Ok(out)
}

/// Why a resale cannot go ahead (adding a listing to a shop, or an order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplyRefusal {
    #[error("the supplier does not offer this product for resale (any more)")]
    NotOffered,
    #[error("the supplier has paused this shop's resale")]
    PausedBySupplier,
    #[error("the wholesale price rose above this product's price")]
    PausedForPrice,
    #[error("the supplier's shop is not active")]
    SupplierInactive,
    #[error("the external supplier is not answering")]
    SupplierUnreachable,
    #[error("the supplier's currency {0} differs from this shop's")]
    CurrencyDiffers(String),
    #[error("price below the lowest allowed resale price {0}")]
    PriceTooLow(i64),
    #[error("this shop already sells this product")]
    AlreadyAdded(String),
    #[error("at most {0} per order")]
    PerOrderCap(i32),
    #[error("daily cap {cap} reached ({left} left today)")]
    DailyCap { cap: i32, left: i64 },
}

impl SupplyRefusal {
    /// Bilingual text for the merchant's dashboard.
    pub fn message(&self, currency: &str) -> String {
        use crate::money::format_minor;
        match self {
            SupplyRefusal::NotOffered => "供应商已不再开放此商品的分销。The supplier no longer offers this product for resale.".into(),
            SupplyRefusal::PausedBySupplier => "供应商已暂停本店的分销。The supplier has paused resale by this shop.".into(),
            SupplyRefusal::PausedForPrice => "批发价已高于本店售价，分销已暂停；请调高售价。The wholesale price is now above your price; raise your price to resume.".into(),
            SupplyRefusal::SupplierInactive => "供应商店铺已停用。The supplier's shop is not active.".into(),
            SupplyRefusal::SupplierUnreachable => "供应商暂时无法连接。The supplier is not answering right now.".into(),
            SupplyRefusal::CurrencyDiffers(c) => format!("供应商以 {c} 结算，与本店货币不同，无法分销。The supplier sells in {c}, not this shop's currency."),
            SupplyRefusal::PriceTooLow(min) => {
                let m = format_minor(*min, currency);
                format!("售价不能低于 {m} {currency}（批发价或供应商规定的最低售价）。The price may not be below {m} {currency} (the wholesale price or the supplier's minimum).")
            }
            SupplyRefusal::AlreadyAdded(_) => "本店已在销售这个商品。This shop already sells this product.".into(),
            SupplyRefusal::PerOrderCap(n) => format!("每单最多 {n} 件。At most {n} per order."),
            SupplyRefusal::DailyCap { cap, left } => {
                format!("今日分销额度 {cap} 件，剩余 {left} 件。Today's resale allowance is {cap}; {left} left.")
            }
        }
    }
}

/// Whether a supplier's shop is active (suspended or closed shops supply nobody).
async fn supplier_is_active<C: ConnectionTrait>(conn: &C, supplier_tenant_id: &str) -> Result<bool, DbErr> {
    Ok(tenants::Entity::find_by_id(supplier_tenant_id.to_string())
        .one(conn)
        .await?
        .is_some_and(|t| t.status == "active"))
}

/// The listing a reseller may add, checked: open, in its audience, the
/// supplier active, same currency, not yet added.
pub async fn listing_for_reseller<C: ConnectionTrait>(
    conn: &C,
    reseller_tenant_id: &str,
    reseller_currency: &str,
    supplier_tenant_id: &str,
    supplier_product_id: &str,
) -> Result<Result<(supply_listings::Model, products::Model), SupplyRefusal>, DbErr> {
    if supplier_tenant_id == reseller_tenant_id {
        return Ok(Err(SupplyRefusal::NotOffered));
    }
    let Some(l) = find_listing_for_supplier(conn, supplier_tenant_id, supplier_product_id).await? else {
        return Ok(Err(SupplyRefusal::NotOffered));
    };
    if !may_resell(&l, reseller_tenant_id) {
        return Ok(Err(SupplyRefusal::NotOffered));
    }
    if !supplier_is_active(conn, supplier_tenant_id).await? {
        return Ok(Err(SupplyRefusal::SupplierInactive));
    }
    let Some(p) = products::Entity::find_by_id((supplier_tenant_id.to_string(), supplier_product_id.to_string()))
        .one(conn)
        .await?
    else {
        return Ok(Err(SupplyRefusal::NotOffered));
    };
    if p.currency != reseller_currency {
        return Ok(Err(SupplyRefusal::CurrencyDiffers(p.currency)));
    }
    if let Some(existing) = resale_product_of(conn, reseller_tenant_id, supplier_tenant_id, supplier_product_id).await?
    {
        return Ok(Err(SupplyRefusal::AlreadyAdded(existing)));
    }
    Ok(Ok((l, p)))
}

/// Links a reseller's (just created) product to the supplier's product.
pub async fn link_resale_product_for_tenant<C: ConnectionTrait>(
    conn: &C,
    reseller_tenant_id: &str,
    product_id: &str,
    supplier_tenant_id: &str,
    supplier_product_id: &str,
) -> Result<(), DbErr> {
    products::Entity::update_many()
        .col_expr(products::Column::SupplyTenantId, Expr::value(supplier_tenant_id))
        .col_expr(products::Column::SupplyProductId, Expr::value(supplier_product_id))
        .col_expr(products::Column::SupplyPaused, Expr::value(Option::<String>::None))
        .filter(products::Column::TenantId.eq(reseller_tenant_id))
        .filter(products::Column::Id.eq(product_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Where a resale order takes its keys from, at what wholesale price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub tenant_id: String,
    pub product_id: String,
    pub wholesale_minor: i64,
}

/// Checks that a reseller's product may take an order of `quantity` now
/// (in the order's transaction): the listing open to this shop, the
/// supplier active, this shop not paused, the per-order and daily caps.
pub async fn source_for_resale_order<C: ConnectionTrait>(
    conn: &C,
    product: &products::Model,
    quantity: u64,
    now: DateTime<Utc>,
) -> Result<Result<Source, SupplyRefusal>, DbErr> {
    let (Some(st), Some(sp)) = (&product.supply_tenant_id, &product.supply_product_id) else {
        return Ok(Err(SupplyRefusal::NotOffered));
    };
    match product.supply_paused.as_deref() {
        Some("price") => return Ok(Err(SupplyRefusal::PausedForPrice)),
        Some(_) => return Ok(Err(SupplyRefusal::PausedBySupplier)),
        None => {}
    }
    let Some(l) = find_listing_for_supplier(conn, st, sp).await? else {
        return Ok(Err(SupplyRefusal::NotOffered));
    };
    if !may_resell(&l, &product.tenant_id) {
        return Ok(Err(SupplyRefusal::NotOffered));
    }
    if product.price_minor < l.wholesale_minor {
        return Ok(Err(SupplyRefusal::PausedForPrice));
    }
    if !supplier_is_active(conn, st).await? {
        return Ok(Err(SupplyRefusal::SupplierInactive));
    }
    if let Some(cap) = l.per_order_cap
        && quantity > cap.max(0) as u64
    {
        return Ok(Err(SupplyRefusal::PerOrderCap(cap)));
    }
    if let Some(cap) = l.daily_cap {
        // Concurrent orders of this product count one after another: the
        // reseller's product row is locked until the order's transaction
        // ends (PostgreSQL; SQLite runs one write transaction at a time).
        products::Entity::find_by_id((product.tenant_id.clone(), product.id.clone()))
            .lock_exclusive()
            .one(conn)
            .await?;
        let day_start = now.date_naive().and_hms_opt(0, 0, 0).map(|d| d.and_utc()).unwrap_or(now);
        let taken = resale_quantity_since(conn, &product.tenant_id, st, &product.id, day_start).await?;
        let left = i64::from(cap.max(0)) - taken;
        if (quantity as i64) > left {
            return Ok(Err(SupplyRefusal::DailyCap { cap, left: left.max(0) }));
        }
    }
    let discount = reseller_discount_bps(conn, st, &product.tenant_id).await?;
    let wholesale_minor = discounted(l.wholesale_minor, discount);
    Ok(Ok(Source { tenant_id: st.clone(), product_id: sp.clone(), wholesale_minor }))
}

/// `wholesale` less `bps` basis points, rounded to the nearest minor unit.
pub fn discounted(wholesale_minor: i64, bps: i32) -> i64 {
    let bps = i128::from(bps.clamp(0, MAX_DISCOUNT_BPS));
    let off = (i128::from(wholesale_minor) * bps + 5_000) / 10_000;
    wholesale_minor - off as i64
}

/// The largest wholesale discount a supplier may give one reseller (90 %).
pub const MAX_DISCOUNT_BPS: i32 = 9_000;

/// The supplier's wholesale discount for one reseller, in basis points (0 when none).
pub async fn reseller_discount_bps<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    reseller_tenant_id: &str,
) -> Result<i32, DbErr> {
    Ok(supply_resellers::Entity::find_by_id((supplier_tenant_id.to_string(), reseller_tenant_id.to_string()))
        .one(conn)
        .await?
        .map(|r| r.discount_bps)
        .unwrap_or(0))
}

/// Sets a reseller's wholesale discount (the supplier's own terms for it).
pub async fn set_reseller_discount<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    reseller_tenant_id: &str,
    discount_bps: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = supply_resellers::ActiveModel {
        tenant_id: Set(supplier_tenant_id.into()),
        reseller_tenant_id: Set(reseller_tenant_id.into()),
        discount_bps: Set(discount_bps.clamp(0, MAX_DISCOUNT_BPS)),
        collects_payments: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    supply_resellers::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([supply_resellers::Column::TenantId, supply_resellers::Column::ResellerTenantId])
                .update_columns([supply_resellers::Column::DiscountBps, supply_resellers::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// How long an invitation link works.
pub const INVITE_DAYS: i64 = 14;

/// A new invitation to resell the supplier's products with `discount_bps`
/// off wholesale; returns the token for the link (shown once, kept as a hash).
pub async fn create_invite<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    discount_bps: i32,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    let token = crate::ids::new_secret_token();
    supply_invites::Entity::insert(supply_invites::ActiveModel {
        token_hash: Set(crate::ids::token_hash(&token)),
        tenant_id: Set(supplier_tenant_id.into()),
        discount_bps: Set(discount_bps.clamp(0, MAX_DISCOUNT_BPS)),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::days(INVITE_DAYS)),
        accepted_tenant_id: Set(None),
        accepted_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(token)
}

/// An invitation that can still be accepted (not used, not expired).
pub async fn open_invite<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<supply_invites::Model>, DbErr> {
    Ok(supply_invites::Entity::find_by_id(crate::ids::token_hash(token))
        .one(conn)
        .await?
        .filter(|i| i.accepted_tenant_id.is_none() && i.expires_at > now))
}

/// A supplier's open listings with their products.
pub async fn open_listings_of_supplier<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
) -> Result<Vec<(supply_listings::Model, products::Model)>, DbErr> {
    let listings = supply_listings::Entity::find()
        .filter(supply_listings::Column::TenantId.eq(supplier_tenant_id))
        .filter(supply_listings::Column::Open.eq(true))
        .all(conn)
        .await?;
    let mut out = Vec::new();
    for l in listings {
        if let Some(p) = products::Entity::find_by_id((l.tenant_id.clone(), l.product_id.clone())).one(conn).await? {
            out.push((l, p));
        }
    }
    Ok(out)
}

/// The reseller's product already selling a supplier's product, if any.
pub async fn resale_product_of<C: ConnectionTrait>(
    conn: &C,
    reseller_tenant_id: &str,
    supplier_tenant_id: &str,
    supplier_product_id: &str,
) -> Result<Option<String>, DbErr> {
    Ok(products::Entity::find()
        .filter(products::Column::TenantId.eq(reseller_tenant_id))
        .filter(products::Column::SupplyTenantId.eq(supplier_tenant_id))
        .filter(products::Column::SupplyProductId.eq(supplier_product_id))
        .one(conn)
        .await?
        .map(|p| p.id))
}

/// A supplier's latest invitations, newest first.
pub async fn invites_of_supplier<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    limit: u64,
) -> Result<Vec<supply_invites::Model>, DbErr> {
    supply_invites::Entity::find()
        .filter(supply_invites::Column::TenantId.eq(supplier_tenant_id))
        .order_by_desc(supply_invites::Column::CreatedAt)
        .limit(limit)
        .all(conn)
        .await
}

/// Accepts an invitation for the shop `reseller` (in a transaction): marks
/// it used (`false` if another acceptance got there first), records the
/// reseller's discount, and adds the shop to the audience of each of the
/// supplier's listings that names its shops. Returns the listings now open
/// to the reseller, with their products, for the caller to add.
pub async fn accept_invite<C: ConnectionTrait>(
    conn: &C,
    invite: &supply_invites::Model,
    reseller_tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Vec<(supply_listings::Model, products::Model)>>, DbErr> {
    if invite.tenant_id == reseller_tenant_id {
        return Ok(None);
    }
    let taken = supply_invites::Entity::update_many()
        .col_expr(supply_invites::Column::AcceptedTenantId, Expr::value(reseller_tenant_id))
        .col_expr(supply_invites::Column::AcceptedAt, Expr::value(now))
        .filter(supply_invites::Column::TokenHash.eq(&invite.token_hash))
        .filter(supply_invites::Column::AcceptedTenantId.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    if taken != 1 {
        return Ok(None);
    }
    set_reseller_discount(conn, &invite.tenant_id, reseller_tenant_id, invite.discount_bps, now).await?;
    let mut out = open_listings_of_supplier(conn, &invite.tenant_id).await?;
    for (l, _) in out.iter_mut() {
        if Audience::parse(&l.audience) == Audience::Listed && !may_resell(l, reseller_tenant_id) {
            let mut ids = allowed_shops(l);
            ids.push(reseller_tenant_id.to_string());
            supply_listings::Entity::update_many()
                .col_expr(supply_listings::Column::AllowedShops, Expr::value(ids.join(",")))
                .filter(supply_listings::Column::TenantId.eq(&l.tenant_id))
                .filter(supply_listings::Column::ProductId.eq(&l.product_id))
                .exec(conn)
                .await?;
            l.allowed_shops = Some(ids.join(","));
        }
    }
    Ok(Some(out))
}

/// Keys a reseller's product took from its supplier since `since` (orders
/// not expired or refunded).
async fn resale_quantity_since<C: ConnectionTrait>(
    conn: &C,
    reseller_tenant_id: &str,
    supplier_tenant_id: &str,
    product_id: &str,
    since: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let n: Option<Option<i64>> = orders::Entity::find()
        .select_only()
        .column_as(Expr::from(Func::cast_as(Func::sum(Expr::col(orders::Column::Quantity)), Alias::new("BIGINT"))), "n")
        .filter(orders::Column::TenantId.eq(reseller_tenant_id))
        .filter(orders::Column::StockTenantId.eq(supplier_tenant_id))
        .filter(orders::Column::ProductId.eq(product_id))
        .filter(orders::Column::CreatedAt.gte(since))
        .filter(orders::Column::Status.is_not_in([status::EXPIRED, status::REFUNDED]))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(n.flatten().unwrap_or(0))
}

/// Stock shown on a reseller's storefront, per product backed by a
/// supplier: the supplier's available keys (counted up to `cap`), or 0 while
/// the resale is paused or the listing closed.
pub async fn resale_stock_for_tenant<C: ConnectionTrait>(
    conn: &C,
    resale_products: &[&products::Model],
    cap: u64,
) -> Result<HashMap<String, u64>, DbErr> {
    let mut out = HashMap::new();
    for p in resale_products {
        let (Some(st), Some(sp)) = (&p.supply_tenant_id, &p.supply_product_id) else { continue };
        let open = p.supply_paused.is_none()
            && find_listing_for_supplier(conn, st, sp)
                .await?
                .is_some_and(|l| may_resell(&l, &p.tenant_id) && p.price_minor >= l.wholesale_minor);
        let n = if open { available_keys_up_to_for_tenant(conn, st, sp, cap).await? } else { 0 };
        out.insert(p.id.clone(), n);
    }
    Ok(out)
}

/// Whose keys an order holds: its supplier's for a resale, else its own shop's.
pub fn stock_tenant_of(order: &orders::Model) -> &str {
    order.stock_tenant_id.as_deref().unwrap_or(&order.tenant_id)
}

/// The kinds of ledger entry.
pub mod entry {
    pub const RESALE: &str = "resale";
    pub const REFUND: &str = "refund";
    /// Money the reseller paid the supplier (directly, or through the platform).
    pub const SETTLEMENT: &str = "settlement";
}

/// Why a settlement cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettlementRefusal {
    /// Not a positive amount.
    NotPositive,
    /// More than the reseller owes now (`owed`, in minor units).
    MoreThanOwed { owed: i64 },
}

/// Records that the reseller paid the supplier `amount_minor` of what it
/// owes in `currency`: a `settlement` entry of −amount, never more than the
/// balance (checked under a lock on the supplier's shop, so two records at
/// once cannot both pass). `recorded_by` goes in the entry's text.
#[allow(clippy::too_many_arguments)]
pub async fn record_settlement<C: ConnectionTrait>(
    txn: &C,
    supplier: &str,
    reseller: &str,
    currency: &str,
    amount_minor: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Result<supply_ledger::Model, SettlementRefusal>, DbErr> {
    if amount_minor <= 0 {
        return Ok(Err(SettlementRefusal::NotPositive));
    }
    tenants::Entity::find_by_id(supplier.to_string()).lock_exclusive().one(txn).await?;
    let owed = balances_for_tenant(txn, supplier)
        .await?
        .into_iter()
        .find(|b| b.other_tenant_id == reseller && b.currency == currency)
        .map_or(0, |b| b.owed_to_me_minor);
    if amount_minor > owed {
        return Ok(Err(SettlementRefusal::MoreThanOwed { owed: owed.max(0) }));
    }
    let id = new_id();
    let e = supply_ledger::Model {
        id: id.clone(),
        supplier_tenant_id: supplier.into(),
        reseller_tenant_id: reseller.into(),
        // A settlement belongs to no order: its own id keeps the (order, kind) key unique.
        order_id: id,
        order_no: String::new(),
        kind: entry::SETTLEMENT.into(),
        product_name: note.trim().chars().take(200).collect(),
        quantity: 0,
        amount_minor: -amount_minor,
        currency: currency.into(),
        created_at: now,
    };
    supply_ledger::Entity::insert(e.clone().into_active_model()).exec_without_returning(txn).await?;
    Ok(Ok(e))
}

/// Books a delivered resale order (wholesale × quantity owed by the reseller
/// to the supplier), in the delivery's transaction. A second call for the
/// same order books nothing.
pub async fn book_resale<C: ConnectionTrait>(conn: &C, order: &orders::Model, now: DateTime<Utc>) -> Result<(), DbErr> {
    let (Some(supplier), Some(unit)) = (&order.stock_tenant_id, order.supply_unit_minor) else { return Ok(()) };
    book(conn, order, supplier, entry::RESALE, unit * i64::from(order.quantity), now).await
}

/// Books the reversal of a refunded resale order, if its resale was booked.
pub async fn book_refund<C: ConnectionTrait>(conn: &C, order: &orders::Model, now: DateTime<Utc>) -> Result<(), DbErr> {
    let Some(supplier) = &order.stock_tenant_id else { return Ok(()) };
    let booked = supply_ledger::Entity::find()
        .filter(supply_ledger::Column::OrderId.eq(&order.id))
        .filter(supply_ledger::Column::Kind.eq(entry::RESALE))
        .filter(supply_ledger::Column::ResellerTenantId.eq(&order.tenant_id))
        .one(conn)
        .await?;
    let Some(booked) = booked else { return Ok(()) };
    book(conn, order, supplier, entry::REFUND, -booked.amount_minor, now).await
}

async fn book<C: ConnectionTrait>(
    conn: &C,
    order: &orders::Model,
    supplier: &str,
    kind: &str,
    amount_minor: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let entry = supply_ledger::Model {
        id: new_id(),
        supplier_tenant_id: supplier.into(),
        reseller_tenant_id: order.tenant_id.clone(),
        order_id: order.id.clone(),
        order_no: order.order_no.clone(),
        kind: kind.into(),
        product_name: order.product_name.chars().take(200).collect(),
        quantity: order.quantity,
        amount_minor,
        currency: order.currency.clone(),
        created_at: now,
    };
    let row = entry.clone().into_active_model();
    let inserted = supply_ledger::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([supply_ledger::Column::OrderId, supply_ledger::Column::Kind]).do_nothing().to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .or_else(|e| if matches!(e, DbErr::RecordNotInserted) { Ok(0) } else { Err(e) })?;
    if inserted == 1 {
        tell_supplier(conn, supplier, &entry, now).await?;
    }
    Ok(())
}

/// The supplier's webhook event for a new entry (`resale.delivered` or
/// `resale.refunded`), in the entry's transaction: the reseller's order
/// number, the product, quantity and wholesale amount, never the buyer.
/// One query when the supplier has no endpoints.
async fn tell_supplier<C: ConnectionTrait>(
    conn: &C,
    supplier: &str,
    e: &supply_ledger::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use crate::store::webhooks::{emit_event_to_endpoints, enabled_endpoints_for_tenant};
    let endpoints = enabled_endpoints_for_tenant(conn, supplier).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let reseller_slug =
        tenants::Entity::find_by_id(e.reseller_tenant_id.clone()).one(conn).await?.map(|t| t.slug).unwrap_or_default();
    let data = serde_json::json!({
        "ledger_entry_id": e.id, "kind": e.kind, "reseller": reseller_slug, "order_no": e.order_no,
        "product_name": e.product_name, "quantity": e.quantity,
        "amount": crate::money::format_minor(e.amount_minor, &e.currency), "amount_minor": e.amount_minor,
        "currency": e.currency,
    });
    let event = if e.kind == entry::RESALE { "resale.delivered" } else { "resale.refunded" };
    emit_event_to_endpoints(conn, supplier, &endpoints, event, data, now).await?;
    Ok(())
}

/// A shop's ledger entries (as supplier or as reseller), newest first.
pub async fn ledger_entries_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    limit: u64,
) -> Result<Vec<supply_ledger::Model>, DbErr> {
    use sea_orm::Condition;
    supply_ledger::Entity::find()
        .filter(
            Condition::any()
                .add(supply_ledger::Column::SupplierTenantId.eq(tenant_id))
                .add(supply_ledger::Column::ResellerTenantId.eq(tenant_id)),
        )
        .order_by_desc(supply_ledger::Column::CreatedAt)
        .order_by_desc(supply_ledger::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Every ledger entry (operators' export), oldest first.
pub async fn all_ledger_entries<C: ConnectionTrait>(conn: &C) -> Result<Vec<supply_ledger::Model>, DbErr> {
    supply_ledger::Entity::find()
        .order_by_asc(supply_ledger::Column::CreatedAt)
        .order_by_asc(supply_ledger::Column::Id)
        .all(conn)
        .await
}

/// One shop's balance with one other shop in one currency: positive when
/// the other shop owes this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub other_tenant_id: String,
    pub currency: String,
    pub owed_to_me_minor: i64,
    pub entries: u64,
}

/// A shop's balances with every shop it supplies or resells for.
pub async fn balances_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Vec<Balance>, DbErr> {
    let mut by: HashMap<(String, String), (i64, u64)> = HashMap::new();
    // Summed in SQL per counterparty, both directions.
    for (col_me, col_other, sign) in [
        (supply_ledger::Column::SupplierTenantId, supply_ledger::Column::ResellerTenantId, 1i64),
        (supply_ledger::Column::ResellerTenantId, supply_ledger::Column::SupplierTenantId, -1i64),
    ] {
        let rows: Vec<(String, String, Option<i64>, i64)> = supply_ledger::Entity::find()
            .select_only()
            .column(col_other)
            .column(supply_ledger::Column::Currency)
            .column_as(
                Expr::from(Func::cast_as(
                    Func::sum(Expr::col(supply_ledger::Column::AmountMinor)),
                    Alias::new("BIGINT"),
                )),
                "total",
            )
            .column_as(Expr::from(Func::count(Expr::col(supply_ledger::Column::Id))), "n")
            .filter(col_me.eq(tenant_id))
            .group_by(col_other)
            .group_by(supply_ledger::Column::Currency)
            .into_tuple()
            .all(conn)
            .await?;
        for (other, currency, total, n) in rows {
            let e = by.entry((other, currency)).or_default();
            e.0 += sign * total.unwrap_or(0);
            e.1 += n.max(0) as u64;
        }
    }
    let mut out: Vec<Balance> = by
        .into_iter()
        .map(|((other_tenant_id, currency), (owed, entries))| Balance {
            other_tenant_id,
            currency,
            owed_to_me_minor: owed,
            entries,
        })
        .collect();
    out.sort_by(|a, b| a.other_tenant_id.cmp(&b.other_tenant_id).then(a.currency.cmp(&b.currency)));
    Ok(out)
}

/// What each reseller owes each supplier, per currency (operators' view):
/// (supplier, reseller, currency, owed, entries), largest first.
pub async fn all_balances<C: ConnectionTrait>(conn: &C) -> Result<Vec<(String, String, String, i64, u64)>, DbErr> {
    let rows: Vec<(String, String, String, Option<i64>, i64)> = supply_ledger::Entity::find()
        .select_only()
        .column(supply_ledger::Column::SupplierTenantId)
        .column(supply_ledger::Column::ResellerTenantId)
        .column(supply_ledger::Column::Currency)
        .column_as(
            Expr::from(Func::cast_as(Func::sum(Expr::col(supply_ledger::Column::AmountMinor)), Alias::new("BIGINT"))),
            "total",
        )
        .column_as(Expr::from(Func::count(Expr::col(supply_ledger::Column::Id))), "n")
        .group_by(supply_ledger::Column::SupplierTenantId)
        .group_by(supply_ledger::Column::ResellerTenantId)
        .group_by(supply_ledger::Column::Currency)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: Vec<(String, String, String, i64, u64)> =
        rows.into_iter().map(|(s, r, c, t, n)| (s, r, c, t.unwrap_or(0), n.max(0) as u64)).collect();
    out.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    Ok(out)
}

/// A shop's side of the ledger: its balances, its latest `limit` entries,
/// and (slug, name) of every shop they name.
pub struct LedgerView {
    pub balances: Vec<Balance>,
    pub entries: Vec<supply_ledger::Model>,
    pub shops: HashMap<String, (String, String)>,
}

/// Reads a shop's [`LedgerView`].
pub async fn ledger_view_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    limit: u64,
) -> Result<LedgerView, DbErr> {
    let balances = balances_for_tenant(conn, tenant_id).await?;
    let entries = ledger_entries_for_tenant(conn, tenant_id, limit).await?;
    let ids = balances
        .iter()
        .map(|b| b.other_tenant_id.clone())
        .chain(entries.iter().flat_map(|e| [e.supplier_tenant_id.clone(), e.reseller_tenant_id.clone()]));
    let shops = shop_names(conn, ids).await?;
    Ok(LedgerView { balances, entries, shops })
}

/// A reseller of a supplier, as the supplier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reseller {
    pub tenant_id: String,
    pub slug: String,
    pub name: String,
    /// The supplier's products it sells, with its product id there.
    pub products: Vec<ResoldProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResoldProduct {
    pub supplier_product_id: String,
    pub price_minor: i64,
    pub paused: Option<String>,
}

/// The shops reselling a supplier's products.
pub async fn resellers_of_supplier<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
) -> Result<Vec<Reseller>, DbErr> {
    let rows = products::Entity::find()
        .filter(products::Column::SupplyTenantId.eq(supplier_tenant_id))
        .order_by_asc(products::Column::TenantId)
        .all(conn)
        .await?;
    let ids: Vec<String> = rows.iter().map(|p| p.tenant_id.clone()).collect();
    let shops: HashMap<String, tenants::Model> = tenants::Entity::find()
        .filter(tenants::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    let mut out: Vec<Reseller> = Vec::new();
    for p in rows {
        let Some(shop) = shops.get(&p.tenant_id) else { continue };
        let item = ResoldProduct {
            supplier_product_id: p.supply_product_id.clone().unwrap_or_default(),
            price_minor: p.price_minor,
            paused: p.supply_paused.clone(),
        };
        match out.iter_mut().find(|r| r.tenant_id == p.tenant_id) {
            Some(r) => r.products.push(item),
            None => out.push(Reseller {
                tenant_id: shop.id.clone(),
                slug: shop.slug.clone(),
                name: shop.name.clone(),
                products: vec![item],
            }),
        }
    }
    Ok(out)
}

/// Pauses (or resumes) every product a reseller sells of a supplier's
/// stock; returns how many changed. Resuming leaves products paused for
/// price as they are (their price must rise first).
pub async fn set_reseller_paused<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    reseller_tenant_id: &str,
    paused: bool,
) -> Result<u64, DbErr> {
    let mut q = products::Entity::update_many()
        .filter(products::Column::SupplyTenantId.eq(supplier_tenant_id))
        .filter(products::Column::TenantId.eq(reseller_tenant_id));
    if paused {
        q = q
            .col_expr(products::Column::SupplyPaused, Expr::value("supplier"))
            .filter(products::Column::SupplyPaused.is_null());
    } else {
        q = q
            .col_expr(products::Column::SupplyPaused, Expr::value(Option::<String>::None))
            .filter(products::Column::SupplyPaused.eq("supplier"));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// An order of a supplier's stock placed on a reseller's shop, as the supplier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResaleOrder {
    pub reseller_tenant_id: String,
    pub order_no: String,
    pub product_name: String,
    pub quantity: i32,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// The latest orders on resellers' shops that hold or took this supplier's
/// keys: order number, product, quantity, status and time only.
pub async fn resale_orders_of_supplier<C: ConnectionTrait>(
    conn: &C,
    supplier_tenant_id: &str,
    limit: u64,
) -> Result<Vec<ResaleOrder>, DbErr> {
    let rows: Vec<(String, String, String, i32, String, DateTime<Utc>)> = orders::Entity::find()
        .select_only()
        .columns([
            orders::Column::TenantId,
            orders::Column::OrderNo,
            orders::Column::ProductName,
            orders::Column::Quantity,
            orders::Column::Status,
            orders::Column::CreatedAt,
        ])
        .filter(orders::Column::StockTenantId.eq(supplier_tenant_id))
        .order_by_desc(orders::Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(reseller_tenant_id, order_no, product_name, quantity, status, created_at)| ResaleOrder {
            reseller_tenant_id,
            order_no,
            product_name,
            quantity,
            status,
            created_at,
        })
        .collect())
}

/// (slug, id) of the shops with these addresses (unknown ones are left out).
pub async fn shops_by_slugs<C: ConnectionTrait>(conn: &C, slugs: &[String]) -> Result<Vec<(String, String)>, DbErr> {
    if slugs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tenants::Entity::find()
        .filter(tenants::Column::Slug.is_in(slugs.iter().cloned()))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.slug, t.id))
        .collect())
}

/// Names of shops by id (for ledgers and reseller lists).
pub async fn shop_names<C: ConnectionTrait>(
    conn: &C,
    ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, (String, String)>, DbErr> {
    let ids: Vec<String> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(tenants::Entity::find()
        .filter(tenants::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, (t.slug, t.name)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts_round_to_the_nearest_minor_unit_and_are_capped() {
        assert_eq!(discounted(650, 0), 650);
        assert_eq!(discounted(650, 1_000), 585);
        assert_eq!(discounted(999, 1_250), 874, "124.875 off rounds to 125");
        assert_eq!(discounted(1_000, 10_000), 100, "at most 90 % off");
        assert_eq!(discounted(1_000, -5), 1_000);
    }

    #[test]
    fn stock_bands_hide_exact_counts_unless_allowed() {
        assert_eq!(StockFigure::of(0, false).label(), "0");
        assert_eq!(StockFigure::of(7, false).label(), "1–9");
        assert_eq!(StockFigure::of(37, false).label(), "10+");
        assert_eq!(StockFigure::of(370, false).label(), "100+");
        assert_eq!(StockFigure::of(1000, false).label(), "1000+");
        assert_eq!(StockFigure::of(37, true).label(), "37");
        assert_eq!(StockFigure::of(1000, true).label(), "1000+");
    }
}
