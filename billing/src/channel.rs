//! What a payment channel is to the rest of Kapu.

use std::collections::BTreeMap;

use kapu_core::crypto::TenantKeys;

/// The tenant a channel call acts for.
#[derive(Debug, Clone, Copy)]
pub struct ChannelContext<'a> {
    pub tenant_id: &'a str,
    pub keys: &'a TenantKeys,
    pub test_mode: bool,
}

/// A payment attempt to start at the provider.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// Our payment attempt id; notifications name it.
    pub payment_id: String,
    pub order_no: String,
    pub amount_minor: i64,
    pub currency: String,
    /// What the buyer sees at the provider (product name).
    pub subject: String,
    /// `{scheme}://{shop host}`: base of every absolute link.
    pub base_url: String,
    /// Where the buyer returns after paying.
    pub return_url: String,
    /// Where the provider sends its notification.
    pub notify_url: String,
}

/// How the buyer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStart {
    /// Page the buyer is sent to.
    pub pay_url: String,
    /// QR payload, for channels that pay by scanning.
    pub qr_payload: Option<String>,
}

/// A notification as the provider sent it: its fields, unverified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    pub fields: BTreeMap<String, String>,
}

impl Notification {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// What the provider reports about a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Paid,
    Failed,
}

/// A notification whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotification {
    pub payment_id: String,
    pub outcome: PaymentOutcome,
    pub amount_minor: i64,
    pub currency: String,
    pub provider_ref: Option<String>,
}

/// Why a notification is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature does not verify")]
    BadSignature,
    #[error("malformed notification: {0}")]
    Malformed(String),
}

/// A channel call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The channel cannot be used by this shop now (e.g. sandbox in live mode).
    #[error("channel not allowed: {0}")]
    NotAllowed(String),
    /// Timeout, 5xx, connection refused: worth retrying.
    #[error("transient provider error: {0}")]
    Transient(String),
    /// Bad credentials, amount limits: do not retry on this channel.
    #[error("provider refused: {0}")]
    Business(String),
}

/// One way of taking money. Implementations keep the provider's wire format
/// in their own module and never touch the database.
#[async_trait::async_trait]
pub trait PaymentChannel: Send + Sync {
    /// Stable kind name stored in `channel_configs.channel` and `payments.channel`.
    fn kind(&self) -> &'static str;
    /// True for channels that must never take real money.
    fn test_only(&self) -> bool;
    /// Starts a payment at the provider.
    async fn create_payment(&self, ctx: ChannelContext<'_>, req: &PaymentRequest)
    -> Result<PaymentStart, ChannelError>;
    /// Checks a notification's signature and reads it.
    fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        notification: &Notification,
    ) -> Result<VerifiedNotification, VerifyError>;
    /// The body the provider expects once a notification is processed.
    fn notify_ack(&self) -> &'static str;
}
