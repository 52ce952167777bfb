use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub slug: String,
    pub name: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// `test` or `live`.
    pub mode: String,
    pub announcement: String,
    pub default_locale: String,
    pub currency: String,
    /// Shown to buyers on order pages and emails (an email address, QQ, Telegram…).
    pub support_contact: String,
    /// Minutes an unpaid order holds its keys; `None` means the platform default.
    pub order_ttl_minutes: Option<i32>,
    /// More orders than this from one client address within the window trip the velocity rule.
    pub velocity_ip_max: i32,
    /// More orders than this for one email within the window trip the velocity rule.
    pub velocity_email_max: i32,
    pub velocity_window_minutes: i32,
    /// `challenge` (ask for a proof-of-work) or `block`.
    pub velocity_action: String,
    /// PNG, JPEG, WebP or GIF bytes (at most 256 KB), checked by their magic bytes.
    pub logo: Option<Vec<u8>>,
    pub logo_content_type: Option<String>,
    /// First 16 hex digits of the logo's SHA-256: its URL, so it can be cached for good.
    pub logo_hash: Option<String>,
    pub created_at: DateTimeUtc,
    /// The plan whose limits apply (`plans.id`).
    pub plan_id: String,
    /// Why an operator suspended or closed the shop (shown to its merchants).
    pub status_reason: String,
    /// When the shop was closed; its data is purged after the retention period.
    pub closed_at: Option<DateTimeUtc>,
    /// In test mode, whether everyone may see the shop (not only preview-link holders).
    pub test_public: bool,
    /// Bumped to revoke every preview link given out so far.
    pub preview_epoch: i32,
    /// The shop whose payment channels take this shop's payments (a supplier that
    /// offered them to this reseller); none: its own.
    pub payment_tenant_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
