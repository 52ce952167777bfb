//! Custom domains: the merchant's page (`page`), the DNS check that proves
//! control of a domain (`dns`), and the periodic re-check of pending ones.

pub mod dns;
pub mod page;

use chrono::{Duration, Utc};
use kapu_core::store::audit::{Actor, record_audit};
use kapu_core::store::domains::{record_domain_check_for_tenant, unverified_domains_since};

use crate::state::PlatformState;

/// Checks every domain added in the last week and still unverified; a
/// domain that now verifies starts routing to its shop at once.
pub async fn check_pending_domains(state: &PlatformState) -> anyhow::Result<usize> {
    let mut verified = 0;
    for d in unverified_domains_since(state.db.reader(), Utc::now() - Duration::days(7)).await? {
        let result = dns::check_challenge(state.cfg.dns_resolver.as_deref(), &d.hostname, &d.verification_token).await;
        let error = result.err();
        if record_domain_check_for_tenant(state.db.writer(), &d.tenant_id, &d.hostname, error.as_deref(), Utc::now())
            .await?
        {
            record_audit(
                state.db.writer(),
                &Actor::system(),
                Some(&d.tenant_id),
                "domain.verify",
                &d.hostname,
                "periodic check",
            )
            .await?;
            state.bus.host_changed(&d.hostname);
            verified += 1;
        }
    }
    Ok(verified)
}
