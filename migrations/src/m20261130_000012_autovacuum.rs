//! Autovacuum thresholds for the tables a sale rewrites (PostgreSQL only).
//!
//! Every order turns an available key into a reserved one, then a sold one,
//! and writes an attempt and a job that are updated or removed soon after.
//! With the default thresholds (20 % of a table dead before a vacuum) a
//! product of a million keys runs 200,000 orders on a keys index full of
//! dead entries that each key pick walks over. These tables are vacuumed
//! after 1 % (keys, jobs) or 5 % (orders, attempts) of their rows changed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SETTINGS: &[(&str, &str)] = &[
    (
        "card_keys",
        "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02",
    ),
    ("jobs", "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000"),
    ("orders", "autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 1000"),
    ("payments", "autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 1000"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (table, settings) in SETTINGS {
            db.execute_unprepared(&format!("ALTER TABLE {table} SET ({settings})")).await?;
        }
        Ok(())
    }
}
