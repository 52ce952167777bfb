//! The merchant dashboard's pages and assets.
//!
//! Templates are compiled into the binary and rendered with HTML
//! autoescaping (every name ends in `.html`). The stylesheet and script are
//! served under content-hashed paths (`/static/admin.<hash>.css`) so browsers
//! may cache them for a year. Pages work without JavaScript; the script only
//! adds conveniences (import progress, confirmations, copy buttons).

pub mod labels;

use kapu_themes::hashed_asset;
pub use kapu_themes::{Asset, RenderError, TemplateSet};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("status.html", include_str!("../templates/status.html")),
    ("status_incident.html", include_str!("../templates/status_incident.html")),
    ("ops_incidents.html", include_str!("../templates/ops_incidents.html")),
    ("ops_flags.html", include_str!("../templates/ops_flags.html")),
    ("notifications.html", include_str!("../templates/notifications.html")),
    ("notifications_table.html", include_str!("../templates/notifications_table.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("supply.html", include_str!("../templates/supply.html")),
    ("supply_resellers.html", include_str!("../templates/supply_resellers.html")),
    ("supply_ledger.html", include_str!("../templates/supply_ledger.html")),
    ("affiliates.html", include_str!("../templates/affiliates.html")),
    ("ops_supply.html", include_str!("../templates/ops_supply.html")),
    ("supply_invite.html", include_str!("../templates/supply_invite.html")),
    ("supply_external.html", include_str!("../templates/supply_external.html")),
    ("landing.html", include_str!("../templates/landing.html")),
    ("signup.html", include_str!("../templates/signup.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("shops.html", include_str!("../templates/shops.html")),
    ("dashboard.html", include_str!("../templates/dashboard.html")),
    ("products.html", include_str!("../templates/products.html")),
    ("product_form.html", include_str!("../templates/product_form.html")),
    ("keys.html", include_str!("../templates/keys.html")),
    ("import.html", include_str!("../templates/import.html")),
    ("orders.html", include_str!("../templates/orders.html")),
    ("order.html", include_str!("../templates/order.html")),
    ("settings.html", include_str!("../templates/settings.html")),
    ("coupons.html", include_str!("../templates/coupons.html")),
    ("team.html", include_str!("../templates/team.html")),
    ("risk.html", include_str!("../templates/risk.html")),
    ("channels.html", include_str!("../templates/channels.html")),
    ("two_factor.html", include_str!("../templates/two_factor.html")),
    ("login_2fa.html", include_str!("../templates/login_2fa.html")),
    ("plan.html", include_str!("../templates/plan.html")),
    ("domains.html", include_str!("../templates/domains.html")),
    ("webhooks.html", include_str!("../templates/webhooks.html")),
    ("api_keys.html", include_str!("../templates/api_keys.html")),
    ("theme.html", include_str!("../templates/theme.html")),
    ("theme_template.html", include_str!("../templates/theme_template.html")),
    ("shop_audit.html", include_str!("../templates/shop_audit.html")),
    ("ops_base.html", include_str!("../templates/ops_base.html")),
    ("ops_login.html", include_str!("../templates/ops_login.html")),
    ("ops_overview.html", include_str!("../templates/ops_overview.html")),
    ("ops_tenants.html", include_str!("../templates/ops_tenants.html")),
    ("ops_tenant.html", include_str!("../templates/ops_tenant.html")),
    ("ops_plan_fields.html", include_str!("../templates/ops_plan_fields.html")),
    ("ops_plans.html", include_str!("../templates/ops_plans.html")),
    ("ops_plan.html", include_str!("../templates/ops_plan.html")),
    ("ops_ledger.html", include_str!("../templates/ops_ledger.html")),
    ("ops_audit.html", include_str!("../templates/ops_audit.html")),
];

/// The dashboard renderer. Cheap to clone.
#[derive(Clone)]
pub struct AdminUi(TemplateSet);

impl std::ops::Deref for AdminUi {
    type Target = TemplateSet;
    fn deref(&self) -> &TemplateSet {
        &self.0
    }
}

impl std::fmt::Debug for AdminUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUi").finish_non_exhaustive()
    }
}

fn hashed(ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    hashed_asset("/static", "admin", ext, body, content_type)
}

impl Default for AdminUi {
    fn default() -> Self {
        Self::new()
    }
}

impl AdminUi {
    /// The process-wide renderer (templates are compiled once).
    pub fn shared() -> &'static AdminUi {
        static UI: std::sync::OnceLock<AdminUi> = std::sync::OnceLock::new();
        UI.get_or_init(AdminUi::new)
    }

    /// Renders `name` in the request's language: `lang` (`zh` or `en`) is
    /// added to the context, which the `tr(zh, en)` function and the
    /// templates' own `{% if lang == "en" %}` read.
    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, RenderError> {
        let lang = kapu_web::i18n::Lang::current();
        self.0.render(name, minijinja::context! { lang => lang.code(), html_lang => lang.tag(), ..ctx })
    }

    pub fn new() -> Self {
        let mut env = kapu_themes::html_environment(TEMPLATES);
        env.add_filter("label", labels::label);
        Self(TemplateSet::from_environment(
            env,
            hashed("css", include_str!("../static/admin.css"), "text/css; charset=utf-8"),
            hashed("js", include_str!("../static/admin.js"), "text/javascript; charset=utf-8"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    #[test]
    fn every_template_renders_with_empty_data_and_escapes() {
        let ui = AdminUi::new();
        for (name, _) in TEMPLATES {
            if *name == "macros.html" || *name == "ops_plan_fields.html" || *name == "status_incident.html" {
                continue;
            }
            let html = ui
                .render(
                    name,
                    context! {
                        heading => "<script>x</script>", account => context!{ email => "<b>@x" },
                        shop => context!{ slug => "s", name => "<script>x</script>", mode => "test" },
                        product => context!{ id => "p", name => "<script>x</script>" },
                        import => context!{ id => "i", status => "done" }, order => context!{ order_no => "1" },
                        counts => context!{ available => 0 }, filter => context!{ q => "<b>@x" }, form => context!{ name => "<b>@x" }, velocity => context!{ ip_max => 1 },
                        plan => context!{ id => "free", name => "<b>@x", fee_bps => 100 }, t => context!{ id => "t", name => "<b>@x", status => "active" },
                        errors => context!{}, view => context!{ status => "operational", updated_at => "2026-12-01T00:00:00Z", components => Vec::<i32>::new(), incidents => Vec::<i32>::new() },
                        operator => context!{ email => "<b>@x" }, traffic => context!{ rate_limited => 0 }, usage => context!{ products => 0 }, jobs => context!{ dead => 0 },
                    },
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!html.contains("<script>x</script>"), "{name} did not escape");
            assert!(!html.contains("<b>@x"), "{name} did not escape");
        }
    }

    #[test]
    fn assets_have_content_hashes() {
        let ui = AdminUi::new();
        assert!(ui.css.path.starts_with("/static/admin.") && ui.css.path.ends_with(".css"));
        assert!(ui.asset(&ui.js.path).is_some());
        assert!(ui.asset("/static/admin.css").is_none());
    }
}
