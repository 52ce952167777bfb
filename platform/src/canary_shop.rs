//! The canary shop: an internal shop (`kapu-canary`, test mode, sandbox
//! channel, one product of canary keys) on which the worker buys one key
//! every minute through the storefront's real HTTP path, to feed the status
//! page (`kapu::canary`). Its slug is reserved, so no merchant can take it;
//! it is out of search engines like every test-mode shop.

use kapu_core::Db;
use kapu_core::crypto::MasterKey;
use kapu_core::db::is_unique_violation;
use kapu_core::store::card_keys::import_keys_for_tenant;
use kapu_core::store::products::available_keys_up_to_for_tenant;
use kapu_core::store::shop_settings::set_test_public_for_tenant;
use kapu_core::tenant::find_tenant_by_slug;
use sea_orm::DbErr;

use crate::provision::{NewProduct, NewShop, add_product, create_tenant, enable_channel};

pub const CANARY_SLUG: &str = "kapu-canary";
pub const CANARY_PRODUCT: &str = "canary-key";
/// Keys are topped up to this many when fewer than a fifth remain.
const STOCK: u64 = 100;

/// Creates the canary shop unless it exists, and tops up its keys. Returns the tenant id.
pub async fn ensure_canary_shop(db: &Db, master: &MasterKey) -> Result<String, DbErr> {
    let tenant_id = match find_tenant_by_slug(db.reader(), CANARY_SLUG).await? {
        Some(t) => t.id,
        None => {
            let txn = db.begin().await?;
            let shop = NewShop {
                slug: CANARY_SLUG,
                name: "Kapu canary",
                announcement: "Kapu 平台自检用店铺，请勿购买。Kapu's self-check shop; please do not buy here.",
                default_locale: "en",
                currency: "CNY",
            };
            let id = match create_tenant(&txn, &shop).await {
                Ok(id) => id,
                Err(e) if is_unique_violation(&e) => {
                    drop(txn);
                    return find_tenant_by_slug(db.reader(), CANARY_SLUG)
                        .await?
                        .map(|t| t.id)
                        .ok_or_else(|| DbErr::Custom("canary shop vanished".into()));
                }
                Err(e) => return Err(e),
            };
            set_test_public_for_tenant(&txn, &id, true).await?;
            let product = NewProduct {
                id: CANARY_PRODUCT,
                category_id: None,
                name: "Canary key",
                description: "One key per canary purchase.",
                price_minor: 100,
                currency: "CNY",
                wholesale_tiers: None,
                min_qty: 1,
                max_qty: 1,
                sort_order: 0,
            };
            add_product(&txn, &id, &product).await?;
            enable_channel(&txn, &id, "sandbox", 0).await?;
            txn.commit().await?;
            id
        }
    };
    let left = available_keys_up_to_for_tenant(db.reader(), &tenant_id, CANARY_PRODUCT, STOCK / 5).await?;
    if left < STOCK / 5 {
        let keys = master.tenant(&tenant_id);
        let lines: Vec<String> = (0..STOCK - left).map(|_| format!("CANARY-{:016X}", rand::random::<u64>())).collect();
        let txn = db.begin().await?;
        import_keys_for_tenant(&txn, &keys, &tenant_id, CANARY_PRODUCT, lines.iter().map(String::as_str)).await?;
        txn.commit().await?;
    }
    Ok(tenant_id)
}
