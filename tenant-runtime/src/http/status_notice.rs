//! The storefront's word on the status page: while checkout, or a payment
//! channel the shop uses, is degraded or down (`kapu_core::status_board`),
//! every page of the shop says so at the top, in the buyer's language
//! ("支付宝通道暂时异常，请选择其他支付方式"), so buyers pick another method
//! instead of paying into a failing one. Released behind the feature flag
//! `storefront_status_notice` (`kapu_core::flags`).

use kapu_core::flags::STATUS_NOTICE;
use kapu_core::status_board::channel_component;
use kapu_core::store::status::ComponentState;
use kapu_core::tenant::Tenant;

use crate::i18n::Lang;
use crate::state::RuntimeState;

/// Id of the notice's element on the page.
pub const NOTICE_ID: &str = "status-notice";

/// The notice for this shop now, if any.
pub async fn status_notice(state: &RuntimeState, tenant: &Tenant, lang: Lang) -> Option<String> {
    let troubled = state.board.troubled();
    if troubled.is_empty() || !state.flags.enabled(STATUS_NOTICE, &tenant.id, &tenant.slug) {
        return None;
    }
    let mut lines = Vec::new();
    for (c, s) in &troubled {
        if c.id == "checkout" || c.id == "storefront" {
            lines.push(match (lang, s) {
                (Lang::Zh, ComponentState::Maintenance) => "平台正在维护，下单可能暂时受影响。".to_string(),
                (Lang::En, ComponentState::Maintenance) => {
                    "The platform is under maintenance; ordering may be affected for a while.".to_string()
                }
                (Lang::Zh, _) => "下单与发货暂时异常，我们正在处理；已付款的订单不会丢失。".to_string(),
                (Lang::En, _) => "Checkout is having trouble and we are on it; paid orders are safe.".to_string(),
            });
            break;
        }
    }
    // Channels: only those this shop offers.
    let setup = state.catalog.setup(&state.db, &state.master, &tenant.id).await.ok()?;
    let offered: Vec<&str> = setup.channels.iter().map(|c| c.kind.as_str()).collect();
    let down: Vec<_> = offered
        .iter()
        .filter_map(|k| channel_component(k))
        .filter(|c| troubled.iter().any(|(t, _)| t.id == c.id))
        .collect();
    if !down.is_empty() {
        let others = offered.iter().filter_map(|k| channel_component(k)).count() > down.len()
            || offered.contains(&kapu_billing::channels::sandbox::KIND) && tenant.is_test_mode();
        let names_zh: Vec<&str> = down.iter().map(|c| c.name_zh).collect();
        let names_en: Vec<&str> = down.iter().map(|c| c.name_en).collect();
        lines.push(match (lang, others) {
            (Lang::Zh, true) => format!("{}通道暂时异常，请选择其他支付方式。", names_zh.join("、")),
            (Lang::Zh, false) => format!("{}通道暂时异常，付款可能失败，请稍后再试。", names_zh.join("、")),
            (Lang::En, true) => {
                format!("{} is having trouble; please choose another payment method.", names_en.join(", "))
            }
            (Lang::En, false) => {
                format!("{} is having trouble; payment may fail, please try again later.", names_en.join(", "))
            }
        });
    }
    (!lines.is_empty()).then(|| lines.join(" "))
}
