//! Manual-delivery products: the fields a buyer fills in, what the buyer
//! entered, and what the merchant delivered (sealed like card keys).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Products {
    Table,
    InputFields,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    BuyerInput,
    DeliveryCiphertext,
    DeliveryNonce,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Products::Table).add_column(text_null(Products::InputFields)).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Orders::Table).add_column(text_null(Orders::BuyerInput)).to_owned()).await?;
        m.alter_table(Table::alter().table(Orders::Table).add_column(blob_null(Orders::DeliveryCiphertext)).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Orders::Table).add_column(blob_null(Orders::DeliveryNonce)).to_owned())
            .await?;
        Ok(())
    }
}
