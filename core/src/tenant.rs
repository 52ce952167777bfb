//! Tenants as the rest of Kapu sees them, and how a host finds its tenant.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::{domains, tenants};

/// Whether a shop serves buyers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
    Closed,
}

/// `test`: sandbox payments and a TEST MODE banner; `live`: real payments only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopMode {
    Test,
    Live,
}

/// One shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub mode: ShopMode,
    pub announcement: String,
    pub default_locale: String,
    pub currency: String,
    pub support_contact: String,
    pub order_ttl_minutes: Option<i32>,
    pub risk: RiskSettings,
    /// Content hash of the shop's logo, if it has one (`/logo/{hash}`).
    pub logo_hash: Option<String>,
    /// The plan whose limits apply.
    pub plan_id: String,
    /// The plan's storefront requests per second for the whole shop (`None`: no shop-wide cap).
    pub storefront_rps: Option<u32>,
    /// The shop's theme choice and customisations (`None`: the default theme as shipped).
    pub look: Option<crate::store::shop_themes::ShopLook>,
    /// In test mode, open to everyone (the merchant chose it, or the demo shop).
    pub test_public: bool,
    /// The generation of preview links that open it in test mode.
    pub preview_epoch: i32,
    /// It runs a referral programme (the storefront links to `/affiliate`).
    pub affiliates: bool,
}

/// The shop's order-velocity rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskSettings {
    pub velocity_ip_max: i32,
    pub velocity_email_max: i32,
    pub velocity_window_minutes: i32,
    /// `challenge` or `block`.
    pub velocity_action: String,
}

impl Default for RiskSettings {
    /// Over 50 orders from one address (or 20 for one email) in 10 minutes asks for a challenge.
    fn default() -> Self {
        Self {
            velocity_ip_max: 50,
            velocity_email_max: 20,
            velocity_window_minutes: 10,
            velocity_action: "challenge".into(),
        }
    }
}

impl Tenant {
    pub fn is_test_mode(&self) -> bool {
        self.mode == ShopMode::Test
    }

    /// Whether anyone may browse and buy, or only holders of a preview link
    /// (a test-mode shop the merchant has not opened to everyone).
    pub fn needs_preview_link(&self) -> bool {
        self.is_test_mode() && !self.test_public
    }

    /// How long an unpaid order holds its keys: the shop's own setting, else `default_secs`.
    pub fn order_ttl_secs(&self, default_secs: u64) -> i64 {
        match self.order_ttl_minutes {
            Some(m) if m > 0 => i64::from(m) * 60,
            _ => default_secs as i64,
        }
    }
}

impl From<tenants::Model> for Tenant {
    fn from(m: tenants::Model) -> Self {
        Self {
            risk: RiskSettings {
                velocity_ip_max: m.velocity_ip_max,
                velocity_email_max: m.velocity_email_max,
                velocity_window_minutes: m.velocity_window_minutes,
                velocity_action: m.velocity_action.clone(),
            },
            status: match m.status.as_str() {
                "active" => TenantStatus::Active,
                "suspended" => TenantStatus::Suspended,
                _ => TenantStatus::Closed,
            },
            mode: if m.mode == "live" { ShopMode::Live } else { ShopMode::Test },
            id: m.id,
            slug: m.slug,
            name: m.name,
            announcement: m.announcement,
            default_locale: m.default_locale,
            currency: m.currency,
            support_contact: m.support_contact,
            logo_hash: m.logo_hash,
            order_ttl_minutes: m.order_ttl_minutes,
            plan_id: m.plan_id,
            storefront_rps: None,
            look: None,
            test_public: m.test_public,
            preview_epoch: m.preview_epoch,
            affiliates: false,
        }
    }
}

/// A tenant with its plan's storefront limit filled in.
async fn with_plan<C: ConnectionTrait>(conn: &C, m: Option<tenants::Model>) -> Result<Option<Tenant>, DbErr> {
    let Some(m) = m else { return Ok(None) };
    let plan = crate::store::plans::plan_or_default(conn, &m.plan_id).await?;
    let mut t = Tenant::from(m);
    t.storefront_rps = plan.storefront_rps.and_then(|r| u32::try_from(r).ok()).filter(|r| *r > 0);
    t.look = crate::store::shop_themes::find_look_for_tenant(conn, &t.id).await?;
    t.affiliates = crate::store::affiliates::program_for_tenant(conn, &t.id).await?.is_some_and(|p| p.enabled);
    Ok(Some(t))
}

/// The tenant whose slug is `slug`.
pub async fn find_tenant_by_slug<C: ConnectionTrait>(conn: &C, slug: &str) -> Result<Option<Tenant>, DbErr> {
    with_plan(conn, tenants::Entity::find().filter(tenants::Column::Slug.eq(slug)).one(conn).await?).await
}

/// The tenant with id `tenant_id`.
pub async fn find_tenant_by_id<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Option<Tenant>, DbErr> {
    with_plan(conn, tenants::Entity::find_by_id(tenant_id.to_string()).one(conn).await?).await
}

/// The tenant that owns the verified custom domain `hostname` (already normalized).
pub async fn find_tenant_by_verified_domain<C: ConnectionTrait>(
    conn: &C,
    hostname: &str,
) -> Result<Option<Tenant>, DbErr> {
    let Some(domain) = domains::Entity::find_by_id(hostname.to_string())
        .filter(domains::Column::VerifiedAt.is_not_null())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    with_plan(conn, tenants::Entity::find_by_id(domain.tenant_id).one(conn).await?).await
}

/// How a request's host maps to a shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// The dashboard / platform API host.
    Platform,
    /// `{slug}.{shop domain}`.
    ShopSlug(String),
    /// Anything else: maybe a merchant's custom domain.
    Custom(String),
}

/// Classifies a normalized host.
pub fn classify_host(host: &str, platform_host: &str, shop_host: &str) -> HostKind {
    if host == platform_host {
        return HostKind::Platform;
    }
    if let Some(prefix) = host.strip_suffix(shop_host).and_then(|p| p.strip_suffix('.'))
        && !prefix.is_empty()
        && !prefix.contains('.')
    {
        return HostKind::ShopSlug(prefix.to_string());
    }
    HostKind::Custom(host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_classify() {
        assert_eq!(classify_host("localhost", "localhost", "localhost"), HostKind::Platform);
        assert_eq!(classify_host("demo.localhost", "localhost", "localhost"), HostKind::ShopSlug("demo".into()));
        assert_eq!(classify_host("a.b.localhost", "localhost", "localhost"), HostKind::Custom("a.b.localhost".into()));
        assert_eq!(
            classify_host("shop.example.com", "kapu.app", "kapu.shop"),
            HostKind::Custom("shop.example.com".into())
        );
        assert_eq!(classify_host("evillocalhost", "x", "localhost"), HostKind::Custom("evillocalhost".into()));
    }
}
