//! A shop's look: chosen theme, its settings, custom CSS and template
//! overrides (one row per shop; none means the default theme untouched).
//! Every save bumps `version`, which names the shop's stylesheet URL and
//! tells the storefront to rebuild the shop's templates.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use crate::entities::shop_themes;

/// Largest custom stylesheet.
pub const MAX_CUSTOM_CSS_BYTES: usize = 50 * 1024;

/// A shop's look as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShopLook {
    pub theme: String,
    pub settings: BTreeMap<String, String>,
    pub custom_css: String,
    pub overrides: BTreeMap<String, String>,
    pub version: i32,
}

impl From<shop_themes::Model> for ShopLook {
    fn from(m: shop_themes::Model) -> Self {
        Self {
            theme: m.theme,
            settings: serde_json::from_str(&m.settings).unwrap_or_default(),
            custom_css: m.custom_css,
            overrides: serde_json::from_str(&m.overrides).unwrap_or_default(),
            version: m.version,
        }
    }
}

pub async fn find_look_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Option<ShopLook>, DbErr> {
    Ok(shop_themes::Entity::find_by_id(tenant_id.to_string()).one(conn).await?.map(ShopLook::from))
}

/// Stores a shop's whole look; the version goes up by one. Returns the new version.
pub async fn save_look_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    look: &ShopLook,
) -> Result<i32, DbErr> {
    let version = find_look_for_tenant(conn, tenant_id).await?.map_or(1, |l| l.version + 1);
    let row = shop_themes::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        theme: Set(look.theme.clone()),
        settings: Set(serde_json::to_string(&look.settings).unwrap_or_else(|_| "{}".into())),
        custom_css: Set(look.custom_css.clone()),
        overrides: Set(serde_json::to_string(&look.overrides).unwrap_or_else(|_| "{}".into())),
        version: Set(version),
        render_error: Set(None),
        updated_at: Set(Utc::now()),
    };
    shop_themes::Entity::insert(row)
        .on_conflict(
            OnConflict::column(shop_themes::Column::TenantId)
                .update_columns([
                    shop_themes::Column::Theme,
                    shop_themes::Column::Settings,
                    shop_themes::Column::CustomCss,
                    shop_themes::Column::Overrides,
                    shop_themes::Column::Version,
                    shop_themes::Column::RenderError,
                    shop_themes::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(version)
}

/// Records that an override of `version` failed while rendering (shown to the merchant).
pub async fn record_render_error_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    version: i32,
    error: &str,
) -> Result<(), DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    shop_themes::Entity::update_many()
        .col_expr(shop_themes::Column::RenderError, Expr::value(error))
        .filter(shop_themes::Column::TenantId.eq(tenant_id))
        .filter(shop_themes::Column::Version.eq(version))
        .exec(conn)
        .await?;
    Ok(())
}

/// The stored render error of a shop's current look, if any.
pub async fn render_error_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Option<String>, DbErr> {
    Ok(shop_themes::Entity::find_by_id(tenant_id.to_string()).one(conn).await?.and_then(|m| m.render_error))
}

/// Custom CSS a merchant may save: size-capped, and nothing that could end
/// the stylesheet or reach other sites (the shop's CSP forbids that too).
pub fn check_custom_css(css: &str) -> Result<String, String> {
    let css = css.replace("\r\n", "\n");
    if css.len() > MAX_CUSTOM_CSS_BYTES {
        return Err(format!(
            "自定义 CSS 最多 {} KB。Custom CSS may be {} KB at most.",
            MAX_CUSTOM_CSS_BYTES / 1024,
            MAX_CUSTOM_CSS_BYTES / 1024
        ));
    }
    let lower = css.to_ascii_lowercase();
    for banned in ["@import", "</", "<!--", "expression(", "javascript:", "behavior:", "-moz-binding"] {
        if lower.contains(banned) {
            return Err(format!(
                "自定义 CSS 不能包含「{banned}」。Custom CSS may not contain \"{banned}\" (external or scripted content is not allowed)."
            ));
        }
    }
    if lower.contains("url(") && (lower.contains("http:") || lower.contains("https:") || lower.contains("//")) {
        return Err("自定义 CSS 不能引用其他网站的资源。Custom CSS may not load anything from other sites.".into());
    }
    Ok(css)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_css_refuses_external_and_scripted_content() {
        assert!(check_custom_css(".tile{border:2px solid red}").is_ok());
        assert!(check_custom_css("body{background:url(data:image/png;base64,AAAA)}").is_ok());
        for bad in [
            "@import url(https://evil.example/x.css);",
            "body{background:url(https://evil.example/t.png)}",
            "body{background:url(//evil.example/t.png)}",
            "</style><script>alert(1)</script>",
            "a{behavior:url(x.htc)}",
        ] {
            assert!(check_custom_css(bad).is_err(), "{bad}");
        }
        assert!(check_custom_css(&"a".repeat(MAX_CUSTOM_CSS_BYTES + 1)).is_err());
    }
}
