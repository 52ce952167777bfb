//! Shop logos: checked by their magic bytes (never by the declared type, and
//! never SVG, which can carry script), stored in the tenant row, served by hash.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use sha2::{Digest, Sha256};

use crate::entities::tenants;

/// Largest logo accepted.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// The image type of `bytes`, from its magic bytes, if it is one Kapu accepts.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Stores (or with `None` removes) a shop's logo; returns its hash.
pub async fn set_logo_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    logo: Option<(&[u8], &str)>,
) -> Result<Option<String>, DbErr> {
    let hash = logo.map(|(b, _)| crate::crypto::hex(&Sha256::digest(b))[..16].to_string());
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Logo, Expr::value(logo.map(|(b, _)| b.to_vec())))
        .col_expr(tenants::Column::LogoContentType, Expr::value(logo.map(|(_, t)| t.to_string())))
        .col_expr(tenants::Column::LogoHash, Expr::value(hash.clone()))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(hash)
}

/// The logo bytes and type of a shop, if its current logo has this hash.
pub async fn find_logo_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    hash: &str,
) -> Result<Option<(Vec<u8>, String)>, DbErr> {
    let row: Option<(Option<Vec<u8>>, Option<String>)> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Logo)
        .column(tenants::Column::LogoContentType)
        .filter(tenants::Column::Id.eq(tenant_id))
        .filter(tenants::Column::LogoHash.eq(hash))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(row.and_then(|(b, t)| Some((b?, t?))))
}

#[cfg(test)]
mod tests {
    use super::sniff_image;

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image(b"GIF89a"), Some("image/gif"));
    }
}
