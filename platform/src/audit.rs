//! Writing the audit log from dashboard and console handlers.

use kapu_core::store::audit::{Actor, record_audit};

use crate::auth::request_ip::RequestIp;
use crate::auth::session::Account;
use crate::auth::shop_access::ShopAccess;
use crate::error::PageResult;
use crate::state::PlatformState;

/// The merchant `account` acting from `ip`.
pub fn merchant(account: &Account, ip: RequestIp) -> Actor {
    Actor::merchant(&account.id, &account.email, &ip.text())
}

/// Records a merchant's action on the shop they are in.
pub async fn shop_action(
    state: &PlatformState,
    access: &ShopAccess,
    ip: RequestIp,
    action: &str,
    target: &str,
    detail: &str,
) -> PageResult<()> {
    record_audit(state.db.writer(), &merchant(&access.account, ip), Some(access.tenant_id()), action, target, detail)
        .await?;
    Ok(())
}

/// Records a merchant's action that concerns no one shop (login, two-factor).
pub async fn account_action(state: &PlatformState, actor: &Actor, action: &str, detail: &str) -> PageResult<()> {
    record_audit(state.db.writer(), actor, None, action, &actor.email.clone(), detail).await?;
    Ok(())
}
