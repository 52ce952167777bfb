use sea_orm::entity::prelude::*;

/// A shop's look: which built-in theme, its settings, extra CSS and
/// template overrides. No row means the default theme untouched.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shop_themes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub theme: String,
    /// JSON object: setting name → value, checked against the theme's manifest.
    pub settings: String,
    pub custom_css: String,
    /// JSON object: template name → the merchant's source.
    pub overrides: String,
    /// Bumped on every change; part of the page-cache key and the CSS URL.
    pub version: i32,
    /// The last error of an override while rendering this version (buyers got the theme's page).
    pub render_error: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
