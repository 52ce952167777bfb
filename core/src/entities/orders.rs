use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Public order number shown to the buyer.
    pub order_no: String,
    pub product_id: String,
    pub product_name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub email: String,
    /// Argon2id hash of the buyer's optional lookup password.
    pub lookup_hash: Option<String>,
    /// `pending`, `delivered`, `expired` or `needs_attention`.
    pub status: String,
    pub channel: String,
    pub client_ip: String,
    /// What per-client caps count by: the IPv4 address, or the IPv6 /64
    /// (`kapu_core::fleet::limits::client_key`).
    pub client_net: String,
    /// Buyer's language at checkout (`zh-CN` or `en`), used for emails.
    pub locale: String,
    /// `{scheme}://{host}` the order was placed on; links in emails go back there.
    pub base_url: String,
    pub attention_reason: Option<String>,
    /// The coupon applied at checkout, and what it took off `unit price × quantity`.
    pub coupon_code: Option<String>,
    pub discount_minor: i64,
    /// Manual products: JSON object of what the buyer entered, by field label.
    pub buyer_input: Option<String>,
    /// Manual products: what the merchant delivered, sealed with the shop's key.
    pub delivery_ciphertext: Option<Vec<u8>>,
    pub delivery_nonce: Option<Vec<u8>>,
    /// Resale: the supplier's shop whose keys this order holds (none: this shop's own).
    pub stock_tenant_id: Option<String>,
    /// Resale: the wholesale price per key when the order was placed.
    pub supply_unit_minor: Option<i64>,
    /// Bought from an external supplier: the shop's connection to it.
    pub external_connection_id: Option<String>,
    /// The affiliate's click the buyer came through (`kapu_ref` cookie), if any.
    pub affiliate_click_id: Option<String>,
    pub expires_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
