//! Platform-wide settings (`platform_settings`), read where they apply and
//! changed by operators in the console.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use crate::entities::platform_settings;

const SUPPLY_SETTLEMENT: &str = "supply_settlement";

/// How the money on the supply ledger moves. The ledger is the record either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SupplySettlement {
    /// Resellers pay their suppliers themselves; a supplier records each
    /// payment it receives on its ledger page.
    #[default]
    Direct,
    /// The platform collects what resellers owe and pays suppliers;
    /// operators record each settlement in the console.
    Platform,
}

impl SupplySettlement {
    pub fn as_str(self) -> &'static str {
        match self {
            SupplySettlement::Direct => "direct",
            SupplySettlement::Platform => "platform",
        }
    }

    pub fn parse(s: &str) -> Option<SupplySettlement> {
        match s {
            "direct" => Some(SupplySettlement::Direct),
            "platform" => Some(SupplySettlement::Platform),
            _ => None,
        }
    }
}

pub async fn supply_settlement<C: ConnectionTrait>(conn: &C) -> Result<SupplySettlement, DbErr> {
    let row = platform_settings::Entity::find_by_id(SUPPLY_SETTLEMENT.to_string()).one(conn).await?;
    Ok(row.and_then(|r| SupplySettlement::parse(&r.value)).unwrap_or_default())
}

pub async fn set_supply_settlement<C: ConnectionTrait>(
    conn: &C,
    mode: SupplySettlement,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = platform_settings::ActiveModel {
        key: Set(SUPPLY_SETTLEMENT.into()),
        value: Set(mode.as_str().into()),
        updated_at: Set(now),
    };
    platform_settings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(platform_settings::Column::Key)
                .update_columns([platform_settings::Column::Value, platform_settings::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
