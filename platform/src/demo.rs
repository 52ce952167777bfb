//! The demo shop (`kapu serve --demo`): tenant `demo` in test mode with two
//! categories, five auto-delivery products in CNY (one with exactly 3 keys,
//! one sold out, one with 20,000 keys for benchmarks) and the sandbox channel.
//! Idempotent: if the shop exists nothing is added.

use kapu_core::Db;
use kapu_core::crypto::MasterKey;
use kapu_core::db::is_unique_violation;
use kapu_core::store::card_keys::import_keys_for_tenant;
use kapu_core::tenant::find_tenant_by_slug;
use sea_orm::DbErr;

use crate::provision::{NewProduct, NewShop, add_category, add_product, create_tenant, enable_channel};
use kapu_core::store::shop_settings::set_test_public_for_tenant;

/// Slug of the demo shop.
pub const DEMO_SLUG: &str = "demo";

/// A demo product: id, category, name, description, price (fen), keys, wholesale tiers.
struct DemoProduct {
    id: &'static str,
    category: &'static str,
    name: &'static str,
    description: &'static str,
    price_minor: i64,
    keys: usize,
    tiers: Option<&'static str>,
}

const PRODUCTS: &[DemoProduct] = &[
    DemoProduct {
        id: "steam-wallet-50",
        category: "game-cards",
        name: "Steam 钱包充值卡 50 元 / Steam Wallet 50 CNY",
        description: "官方充值码，兑换后立即到账。\nOfficial wallet code, credited as soon as you redeem it.",
        price_minor: 4850,
        keys: 3,
        tiers: None,
    },
    DemoProduct {
        id: "netease-100",
        category: "game-cards",
        name: "网易一卡通 100 点 / NetEase 100 points",
        description: "网易游戏通用点卡。\nPoints card for NetEase games.",
        price_minor: 9500,
        keys: 0,
        tiers: None,
    },
    DemoProduct {
        id: "video-vip-month",
        category: "game-cards",
        name: "视频会员月卡 / Video VIP, 1 month",
        description: "激活后 30 天有效。\nValid for 30 days after activation.",
        price_minor: 1500,
        keys: 20_000,
        tiers: None,
    },
    DemoProduct {
        id: "win11-pro",
        category: "software",
        name: "Windows 11 专业版激活码 / Windows 11 Pro key",
        description: "零售版密钥，一机一码。\nRetail key, one PC per key.",
        price_minor: 3990,
        keys: 25,
        tiers: Some(r#"[{"min_qty":5,"unit_price_minor":3590},{"min_qty":10,"unit_price_minor":3290}]"#),
    },
    DemoProduct {
        id: "office-2021",
        category: "software",
        name: "Office 2021 专业增强版 / Office 2021 Pro Plus",
        description: "永久授权激活码。\nPerpetual licence key.",
        price_minor: 5900,
        keys: 10,
        tiers: None,
    },
];

/// Creates the demo shop unless it exists. Returns true when it was created.
pub async fn ensure_demo_shop(db: &Db, master: &MasterKey) -> Result<bool, DbErr> {
    // The demo shop holds demo keys only and is there to be tried by
    // anyone: open in test mode, unlike a merchant's new shop.
    if let Some(t) = find_tenant_by_slug(db.reader(), DEMO_SLUG).await? {
        set_test_public_for_tenant(db.writer(), &t.id, true).await?;
        return Ok(false);
    }
    let txn = db.begin().await?;
    let shop = NewShop {
        slug: DEMO_SLUG,
        name: "卡铺演示店 Kapu Demo",
        announcement: "这是演示店铺：付款为模拟，可随意购买体验。This is a demo shop: payments are simulated, buy anything to try it.",
        default_locale: "zh-CN",
        currency: "CNY",
    };
    let tenant_id = match create_tenant(&txn, &shop).await {
        Ok(id) => id,
        // Another process created it at the same moment.
        Err(e) if is_unique_violation(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    set_test_public_for_tenant(&txn, &tenant_id, true).await?;
    let keys = master.tenant(&tenant_id);
    add_category(&txn, &tenant_id, "game-cards", "游戏点卡 / Game cards", 0).await?;
    add_category(&txn, &tenant_id, "software", "软件激活码 / Software keys", 1).await?;
    for (i, p) in PRODUCTS.iter().enumerate() {
        let product = NewProduct {
            id: p.id,
            category_id: Some(p.category),
            name: p.name,
            description: p.description,
            price_minor: p.price_minor,
            currency: "CNY",
            wholesale_tiers: p.tiers,
            min_qty: 1,
            max_qty: 20,
            sort_order: i as i32,
        };
        add_product(&txn, &tenant_id, &product).await?;
        let lines: Vec<String> = (0..p.keys).map(|n| demo_key(p.id, n)).collect();
        import_keys_for_tenant(&txn, &keys, &tenant_id, p.id, lines.iter().map(String::as_str)).await?;
    }
    enable_channel(&txn, &tenant_id, "sandbox", 0).await?;
    txn.commit().await?;
    // Without statistics the planner picks keys of a fresh product slowly
    // (PostgreSQL; a third of the rate until autovacuum gets to it).
    kapu_core::store::key_imports::refresh_card_key_statistics(db.writer()).await?;
    Ok(true)
}

/// A recognisable, unique demo key: `DEMO-WIN11-00007-3F9A1C2B`.
fn demo_key(product: &str, n: usize) -> String {
    let tag = product.split('-').next().unwrap_or(product).to_ascii_uppercase();
    format!("DEMO-{tag}-{n:05}-{:08X}", rand::random::<u32>())
}
