//! What a payment channel is to the rest of Kapu.

use std::collections::BTreeMap;
use std::time::Duration;

use kapu_core::crypto::TenantKeys;

use crate::endpoints::ProviderEndpoints;

/// The tenant a channel call acts for, with the merchant's credentials for
/// this channel (decrypted JSON; `{}` for the sandbox).
#[derive(Clone, Copy)]
pub struct ChannelContext<'a> {
    pub tenant_id: &'a str,
    pub keys: &'a TenantKeys,
    pub test_mode: bool,
    pub credentials: &'a str,
    pub http: &'a reqwest::Client,
    pub endpoints: &'a ProviderEndpoints,
    /// Upper bound for one HTTP call to the provider.
    pub timeout: Duration,
    /// Whether merchant-chosen gateways may be loopback or private addresses
    /// (tests, private deployments). Off in production: a merchant must not
    /// make Kapu call into its own network.
    pub allow_private_hosts: bool,
}

/// A payment attempt to start at the provider.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// Our payment attempt id; it is the provider's `out_trade_no` and notifications name it.
    pub payment_id: String,
    pub order_no: String,
    pub amount_minor: i64,
    pub currency: String,
    /// What the buyer sees at the provider (product name).
    pub subject: String,
    /// The method the buyer picked (`alipay`, `wxpay`, …), if any.
    pub method: Option<String>,
    /// `{scheme}://{shop host}`: base of every absolute link.
    pub base_url: String,
    /// Where the buyer returns after paying.
    pub return_url: String,
    /// Where the provider sends its notification.
    pub notify_url: String,
    /// The buyer's address, which some providers want.
    pub client_ip: String,
    /// The order's access token: Kapu's own pay pages (scan-to-pay, the
    /// sandbox) open only with it, as the order page does.
    pub order_token: String,
}

impl PaymentRequest {
    /// The address of one of Kapu's own pay pages for this payment
    /// (`page`: `qr` or `sandbox`), carrying the order's token.
    pub fn on_site_pay_url(&self, page: &str) -> String {
        format!("{}/pay/{page}/{}?token={}", self.base_url, self.payment_id, self.order_token)
    }
}

/// How the buyer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStart {
    /// Page the buyer is sent to.
    pub pay_url: String,
    /// QR payload, for channels that pay by scanning.
    pub qr_payload: Option<String>,
    /// The provider's id for this attempt, when it gives one at creation.
    pub provider_ref: Option<String>,
}

/// A notification as the provider sent it, unverified: the form, query or
/// top-level JSON fields, the headers (lower-case names) and the raw body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    pub fields: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Notification {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A required field, or why the notification is malformed.
    pub fn require(&self, name: &str) -> Result<&str, VerifyError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| VerifyError::Malformed(format!("missing {name}")))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What the provider reports about a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Paid,
    Failed,
}

/// A notification whose signature, merchant and status checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotification {
    pub payment_id: String,
    pub outcome: PaymentOutcome,
    pub amount_minor: i64,
    pub currency: String,
    /// The provider's transaction id; at most one payment may carry it.
    pub provider_ref: Option<String>,
}

/// The attempt a query, a verification or a refund is about, as Kapu recorded it.
#[derive(Debug, Clone)]
pub struct KnownPayment {
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// Set at creation by channels that return an id (Stripe session, epusdt trade).
    pub provider_ref: Option<String>,
}

/// What a status query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOutcome {
    /// Paid: the same facts a notification would carry.
    Paid(VerifiedNotification),
    /// Not paid (yet).
    Pending,
    /// Closed, expired or failed at the provider.
    Closed,
    /// The provider does not know the attempt.
    NotFound,
}

/// Why a notification is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature does not verify")]
    BadSignature,
    #[error("malformed notification: {0}")]
    Malformed(String),
    /// Signed, but for another merchant or app than this shop's.
    #[error("notification is for another merchant: {0}")]
    WrongMerchant(String),
    /// The provider, asked directly, does not confirm the payment.
    #[error("provider does not confirm the payment: {0}")]
    NotConfirmed(String),
    /// The shop's credentials for this channel are missing or invalid.
    #[error("channel not configured: {0}")]
    NotConfigured(String),
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
    /// The provider offers no such operation (e.g. refunds on epay gateways).
    #[error("not supported by this channel: {0}")]
    Unsupported(String),
}

impl ChannelError {
    /// Classifies a failed HTTP exchange: anything that never produced an answer is transient.
    pub fn from_http(e: &reqwest::Error) -> Self {
        // Statuses are judged by `from_status`: an error here never carries an answer.
        if e.is_timeout() {
            Self::Transient("provider timed out".into())
        } else if e.is_connect() {
            Self::Transient("provider unreachable".into())
        } else if e.is_decode() {
            Self::Transient("provider answered something unreadable".into())
        } else {
            Self::Transient(format!("provider exchange failed: {}", without_url(e)))
        }
    }

    /// A non-success HTTP status: 5xx and 429 are transient, other statuses are refusals.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let snippet: String = body.chars().take(200).collect();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Self::Transient(format!("provider answered {status}: {snippet}"))
        } else {
            Self::Business(format!("provider answered {status}: {snippet}"))
        }
    }
}

/// Provider URLs may carry keys in their query (epay's `api.php`): never log them.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<provider url>");
    }
    s
}

/// One way of taking money. Implementations keep the provider's wire format
/// in their own module and never touch the database.
#[async_trait::async_trait]
pub trait PaymentChannel: Send + Sync {
    /// Stable kind name stored in `channel_configs.channel` and `payments.channel`.
    fn kind(&self) -> &'static str;
    /// True for channels that must never take real money.
    fn test_only(&self) -> bool {
        false
    }
    /// The payment methods (`alipay`, `wxpay`, `usdt`, `card`, `sandbox`) this
    /// channel offers with these credentials.
    fn methods(&self, credentials: &str) -> Vec<&'static str>;
    /// Whether this channel can take payments in `currency` (ISO code, upper case).
    fn takes_currency(&self, currency: &str) -> bool {
        currency == "CNY"
    }
    /// Checks credentials a merchant entered; the error names the bad field.
    fn check_credentials(&self, credentials: &str) -> Result<(), String>;
    /// Starts a payment at the provider.
    async fn create_payment(&self, ctx: ChannelContext<'_>, req: &PaymentRequest)
    -> Result<PaymentStart, ChannelError>;
    /// Checks a notification (signature, merchant, status; some channels also
    /// confirm with the provider) and reads it.
    async fn verify_notification(
        &self,
        ctx: ChannelContext<'_>,
        notification: &Notification,
        known: &KnownPayment,
    ) -> Result<VerifiedNotification, VerifyError>;
    /// Asks the provider what became of an attempt (reconciliation).
    async fn query_payment(&self, ctx: ChannelContext<'_>, known: &KnownPayment) -> Result<QueryOutcome, ChannelError>;
    /// Whether [`refund`](Self::refund) can work (the dashboard offers a refund button).
    fn supports_refund(&self) -> bool {
        false
    }
    /// Refunds a paid attempt in full.
    async fn refund(&self, _ctx: ChannelContext<'_>, _known: &KnownPayment) -> Result<(), ChannelError> {
        Err(ChannelError::Unsupported(format!("{} has no refund API", self.kind())))
    }
    /// The body the provider expects once a notification is processed.
    fn notify_ack(&self) -> &'static str;
}

/// A provider's answer, whatever its status.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The body of a 2xx answer; any other status is an error (5xx/429 transient).
    pub fn success_body(self) -> Result<String, ChannelError> {
        if self.status.is_success() { Ok(self.body) } else { Err(ChannelError::from_status(self.status, &self.body)) }
    }
}

/// Sends a request to a provider and reads the answer; an exchange that
/// produced no answer (timeout, refused connection, broken body) is an error.
/// Unless private hosts are allowed, an address literal that is not public
/// is refused before anything is sent (names are filtered by the client's
/// resolver, see `providers`).
pub async fn exchange(request: reqwest::RequestBuilder, allow_private_hosts: bool) -> Result<Answer, ChannelError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|e| ChannelError::Business(format!("bad provider request: {}", without_url(&e))))?;
    if !allow_private_hosts {
        let host = request.url().host();
        let private = match host {
            Some(url::Host::Ipv4(ip)) => !is_public_ip(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => !is_public_ip(std::net::IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost"),
            None => true,
        };
        if private {
            return Err(ChannelError::Business("the gateway address is not a public internet address".into()));
        }
    }
    let resp = client.execute(request).await.map_err(|e| ChannelError::from_http(&e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.map_err(|e| ChannelError::from_http(&e))?;
    Ok(Answer { status, headers, body })
}

/// Refuses a currency other than CNY for channels that take nothing else.
pub fn cny_only(channel: &str, currency: &str) -> Result<(), ChannelError> {
    if currency == "CNY" {
        Ok(())
    } else {
        Err(ChannelError::Business(format!("{channel} takes CNY only, not {currency}")))
    }
}

/// True for addresses on the public internet. Refused: loopback, private,
/// link-local, shared (CGNAT), unspecified, broadcast, multicast,
/// documentation, benchmarking, IETF protocol and reserved (240/4) IPv4;
/// and IPv6 loopback, unspecified, unique-local, link-local, multicast,
/// documentation, discard, Teredo, 6to4 and NAT64 (which reach IPv4 hosts
/// through a gateway), plus IPv4-mapped and IPv4-compatible addresses
/// whose IPv4 address is not public.
pub fn is_public_ip(ip: std::net::IpAddr) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)))
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
            if seg[..5].iter().all(|s| *s == 0)
                && (seg[5] == 0xffff || seg[5] == 0)
                && !v6.is_loopback()
                && !v6.is_unspecified()
            {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return is_public_ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
            }
            let nat64 = seg[0] == 0x64 && seg[1] == 0xff9b;
            let six_to_four = seg[0] == 0x2002;
            let teredo = seg[0] == 0x2001 && seg[1] == 0;
            let documentation = seg[0] == 0x2001 && seg[1] == 0x0db8;
            let discard = seg[0] == 0x0100 && seg[1..4].iter().all(|s| *s == 0);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || nat64
                || six_to_four
                || teredo
                || documentation
                || discard)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            // The gaps a review found: NAT64, 6to4, IPv4-compatible, multicast, reserved.
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "ff02::1",
            "ff0e::1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.170",
            "198.18.0.1",
            "2001::1",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(!is_public_ip(private.parse().expect("ip")), "{private}");
        }
        for public in ["1.1.1.1", "110.75.0.1", "2400:3200::1", "::ffff:1.1.1.1", "2606:4700::1111"] {
            assert!(is_public_ip(public.parse().expect("ip")), "{public}");
        }
    }

    #[tokio::test]
    async fn private_gateways_are_refused_before_anything_is_sent() {
        let http = reqwest::Client::new();
        for url in
            ["http://127.0.0.1:9/x", "http://[::1]:9/x", "http://169.254.169.254/latest", "http://pay.localhost/x"]
        {
            let r = exchange(http.get(url), false).await;
            assert!(
                matches!(r, Err(ChannelError::Business(ref m)) if m.contains("not a public")),
                "{url}: {:?}",
                r.err()
            );
        }
        // Allowed, the same call goes out (and finds nothing listening).
        assert!(matches!(exchange(http.get("http://127.0.0.1:9/x"), true).await, Err(ChannelError::Transient(_))));
    }
}
