//! The demo shop (`kapu serve --demo`): tenant `demo` in test mode with two
//! categories, five auto-delivery products in CNY (one with exactly 3 keys,
//! one sold out, one with 20,000 keys for benchmarks) and the sandbox channel.
//! Idempotent: if the shop exists nothing is added.

use chrono::Utc;
use kapu_core::Db;
use kapu_core::crypto::MasterKey;
use kapu_core::db::is_unique_violation;
use kapu_core::entities::{categories, channel_configs, products, tenants};
use kapu_core::ids::new_id;
use kapu_core::store::card_keys::import_keys_for_tenant;
use kapu_core::tenant::find_tenant_by_slug;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};

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
    if find_tenant_by_slug(db.reader(), DEMO_SLUG).await?.is_some() {
        return Ok(false);
    }
    let tenant_id = new_id();
    let now = Utc::now();
    let keys = master.tenant(&tenant_id);
    let txn = db.begin().await?;
    let inserted = tenants::Entity::insert(tenants::ActiveModel {
        id: Set(tenant_id.clone()),
        slug: Set(DEMO_SLUG.into()),
        name: Set("卡铺演示店 Kapu Demo".into()),
        status: Set("active".into()),
        mode: Set("test".into()),
        announcement: Set("这是演示店铺：付款为模拟，可随意购买体验。This is a demo shop: payments are simulated, buy anything to try it.".into()),
        default_locale: Set("zh-CN".into()),
        currency: Set("CNY".into()),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await;
    match inserted {
        Ok(_) => {}
        // Another process created it at the same moment.
        Err(e) if is_unique_violation(&e) => return Ok(false),
        Err(e) => return Err(e),
    }
    for (i, (id, name)) in
        [("game-cards", "游戏点卡 / Game cards"), ("software", "软件激活码 / Software keys")].iter().enumerate()
    {
        categories::Entity::insert(categories::ActiveModel {
            tenant_id: Set(tenant_id.clone()),
            id: Set((*id).into()),
            name: Set((*name).into()),
            sort_order: Set(i as i32),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    for (i, p) in PRODUCTS.iter().enumerate() {
        products::Entity::insert(products::ActiveModel {
            tenant_id: Set(tenant_id.clone()),
            id: Set(p.id.into()),
            category_id: Set(Some(p.category.into())),
            name: Set(p.name.into()),
            description: Set(p.description.into()),
            kind: Set("auto_key".into()),
            price_minor: Set(p.price_minor),
            currency: Set("CNY".into()),
            wholesale_tiers: Set(p.tiers.map(Into::into)),
            min_qty: Set(1),
            max_qty: Set(20),
            visible: Set(true),
            sort_order: Set(i as i32),
            created_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        let lines: Vec<String> = (0..p.keys).map(|n| demo_key(p.id, n)).collect();
        import_keys_for_tenant(&txn, &keys, &tenant_id, p.id, lines.iter().map(String::as_str)).await?;
    }
    channel_configs::Entity::insert(channel_configs::ActiveModel {
        tenant_id: Set(tenant_id.clone()),
        id: Set(new_id()),
        channel: Set("sandbox".into()),
        enabled: Set(true),
        priority: Set(0),
        credentials_ciphertext: Set(None),
        credentials_nonce: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// A recognisable, unique demo key: `DEMO-WIN11-00007-3F9A1C2B`.
fn demo_key(product: &str, n: usize) -> String {
    let tag = product.split('-').next().unwrap_or(product).to_ascii_uppercase();
    format!("DEMO-{tag}-{n:05}-{:08X}", rand::random::<u32>())
}
