//! A shop's payment channels: which are enabled, in what order, and the
//! merchant's credentials for each (sealed with the tenant's key).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use crate::crypto::TenantKeys;
use crate::entities::channel_configs;
use crate::ids::new_id;

/// Enabled payment channels of a tenant, by priority (lowest first).
pub async fn list_enabled_channels_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<channel_configs::Model>, DbErr> {
    channel_configs::Entity::find()
        .filter(channel_configs::Column::TenantId.eq(tenant_id))
        .filter(channel_configs::Column::Enabled.eq(true))
        .order_by_asc(channel_configs::Column::Priority)
        .order_by_asc(channel_configs::Column::Id)
        .all(conn)
        .await
}

/// Every configured channel of a tenant, enabled or not, by priority.
pub async fn list_channels_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<channel_configs::Model>, DbErr> {
    channel_configs::Entity::find()
        .filter(channel_configs::Column::TenantId.eq(tenant_id))
        .order_by_asc(channel_configs::Column::Priority)
        .order_by_asc(channel_configs::Column::Id)
        .all(conn)
        .await
}

/// One channel of a tenant by kind.
pub async fn find_channel_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    kind: &str,
) -> Result<Option<channel_configs::Model>, DbErr> {
    channel_configs::Entity::find()
        .filter(channel_configs::Column::TenantId.eq(tenant_id))
        .filter(channel_configs::Column::Channel.eq(kind))
        .one(conn)
        .await
}

/// The decrypted credentials JSON of a channel (`{}` when none are stored).
/// A value that does not decrypt is treated as missing and logged.
pub fn credentials_of(keys: &TenantKeys, c: &channel_configs::Model) -> String {
    match (&c.credentials_ciphertext, &c.credentials_nonce) {
        (Some(ct), Some(nonce)) => match keys.open(ct, nonce).map(String::from_utf8) {
            Ok(Ok(json)) => json,
            _ => {
                tracing::error!(tenant_id = %c.tenant_id, channel = %c.channel, "channel credentials do not decrypt");
                "{}".into()
            }
        },
        _ => "{}".into(),
    }
}

/// The decrypted credentials of a tenant's channel of `kind` (`{}` when the
/// channel is not configured), as every provider call needs them.
pub async fn channel_credentials_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    kind: &str,
) -> Result<String, DbErr> {
    Ok(match find_channel_for_tenant(conn, tenant_id, kind).await? {
        Some(c) => credentials_of(keys, &c),
        None => "{}".into(),
    })
}

/// What a merchant saves for one channel.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    pub kind: String,
    pub enabled: bool,
    pub priority: i32,
    /// Replaces the stored credentials when given.
    pub credentials_json: Option<String>,
}

/// Creates or updates a tenant's channel of `settings.kind`.
pub async fn save_channel_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    settings: &ChannelSettings,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let sealed = settings.credentials_json.as_deref().map(|j| keys.seal(j.as_bytes()));
    match find_channel_for_tenant(conn, tenant_id, &settings.kind).await? {
        Some(existing) => {
            let mut a = existing.into_active_model();
            a.enabled = Set(settings.enabled);
            a.priority = Set(settings.priority);
            if let Some(s) = sealed {
                a.credentials_ciphertext = Set(Some(s.ciphertext));
                a.credentials_nonce = Set(Some(s.nonce));
            }
            a.updated_at = Set(Some(now));
            a.update(conn).await?;
        }
        None => {
            channel_configs::Entity::insert(channel_configs::ActiveModel {
                tenant_id: Set(tenant_id.into()),
                id: Set(new_id()),
                channel: Set(settings.kind.clone()),
                enabled: Set(settings.enabled),
                priority: Set(settings.priority),
                credentials_ciphertext: Set(sealed.as_ref().map(|s| s.ciphertext.clone())),
                credentials_nonce: Set(sealed.map(|s| s.nonce)),
                created_at: Set(now),
                updated_at: Set(Some(now)),
            })
            .exec_without_returning(conn)
            .await?;
        }
    }
    Ok(())
}

/// Removes a tenant's channel of `kind`; true when there was one.
pub async fn delete_channel_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    kind: &str,
) -> Result<bool, DbErr> {
    let r = channel_configs::Entity::delete_many()
        .filter(channel_configs::Column::TenantId.eq(tenant_id))
        .filter(channel_configs::Column::Channel.eq(kind))
        .exec(conn)
        .await?;
    Ok(r.rows_affected > 0)
}
