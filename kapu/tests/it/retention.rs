//! The retention sweep deletes what is past its age in the tables that grow
//! forever, keeps what is younger or still in use, and never touches
//! orders, payments, card keys or the audit log, however old.

use crate::support;

use kapu_core::entities::{
    audit_log, card_keys, jobs, key_imports, orders, payment_checks, payments, risk_events, stripe_events,
    webhook_deliveries,
};
use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::store::retention::{Retention, Swept, sweep};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter};
use serde_json::json;
use support::TestApp;

#[tokio::test]
async fn old_records_go_and_everything_a_merchant_or_an_audit_needs_stays() {
    let app = TestApp::spawn().await;
    let db = app.db.writer();
    let tenant = app.tenant_id("demo").await;
    let now = chrono::Utc::now();
    // Ages the platform's own housekeeping (7, 30 and 90 days by default,
    // running in this server too) leaves alone, so only this test's sweep,
    // with shorter ages, deletes anything.
    let keep = Retention::days(1, 2, 2);
    let (old, young) = (now - chrono::Duration::days(3), now - chrono::Duration::hours(1));

    // A paid order, made old along with its payment and keys, and an audit
    // entry (append-only: the database itself refuses to change it).
    let (_, order) =
        app.order("demo", json!({"product_id": "win11-pro", "quantity": 1, "email": "old@example.com"})).await;
    let paid = app.client.post(order["pay_url"].as_str().expect("pay")).form(&[("outcome", "paid")]).send().await;
    assert_eq!(paid.expect("pay").status().as_u16(), 303);
    use kapu_core::store::audit::{Actor, record_audit};
    record_audit(db, &Actor::system(), Some(&tenant), "shop.settings", "demo", "an old change").await.expect("audit");
    orders::Entity::update_many().col_expr(orders::Column::CreatedAt, Expr::value(old)).exec(db).await.expect("age");
    payments::Entity::update_many()
        .col_expr(payments::Column::CreatedAt, Expr::value(old))
        .exec(db)
        .await
        .expect("age");
    card_keys::Entity::update_many()
        .col_expr(card_keys::Column::CreatedAt, Expr::value(old))
        .exec(db)
        .await
        .expect("age");
    assert!(app.jobs_settled(10).await);

    // Jobs: done and dead, old and young; one queued long ago (still to run).
    jobs::Entity::delete_many().exec(db).await.expect("clear");
    for (status, at) in [("done", old), ("done", young), ("dead", old), ("dead", young), ("queued", old)] {
        // Queued for tomorrow, so the running worker never claims it first.
        let tomorrow = now + chrono::Duration::days(1);
        enqueue(db, NewJob::now("retention_probe", None, json!({"status": status})).at(tomorrow)).await.expect("job");
        jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(status))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(at))
            .filter(jobs::Column::Payload.eq(json!({"status": status}).to_string()))
            .filter(jobs::Column::Status.eq("queued"))
            .exec(db)
            .await
            .expect("set");
    }
    for (n, at) in [(1, old), (2, young)] {
        let id = format!("r{n}");
        payment_checks::Entity::insert(
            payment_checks::Model {
                tenant_id: tenant.clone(),
                id: id.clone(),
                payment_id: "p".into(),
                order_no: "o".into(),
                channel: "sandbox".into(),
                outcome: "paid".into(),
                detail: String::new(),
                created_at: at,
            }
            .into_active_model(),
        )
        .exec(db)
        .await
        .expect("check");
        risk_events::Entity::insert(
            risk_events::Model {
                tenant_id: tenant.clone(),
                id: id.clone(),
                rule: "velocity".into(),
                email: "x@example.com".into(),
                client_ip: "127.0.0.1".into(),
                created_at: at,
            }
            .into_active_model(),
        )
        .exec(db)
        .await
        .expect("risk event");
        kapu_core::store::payment_notifications::record_notification(
            db,
            kapu_core::store::payment_notifications::NotificationRecord {
                tenant_id: &tenant,
                payment_id: "p",
                order_no: "o",
                channel: "sandbox",
                source_ip: "127.0.0.1",
                verdict: kapu_core::store::payment_notifications::Verdict::BadSignature,
                reason: "r",
                body: "b",
            },
        )
        .await
        .expect("notification");
        kapu_core::entities::payment_notifications::Entity::update_many()
            .col_expr(kapu_core::entities::payment_notifications::Column::CreatedAt, Expr::value(at))
            .filter(kapu_core::entities::payment_notifications::Column::PaymentId.eq("p"))
            .filter(
                kapu_core::entities::payment_notifications::Column::CreatedAt.gt(now - chrono::Duration::minutes(5)),
            )
            .exec(db)
            .await
            .expect("age");
        stripe_events::Entity::insert(
            stripe_events::Model { id: id.clone(), kind: "k".into(), outcome: "applied".into(), received_at: at }
                .into_active_model(),
        )
        .exec(db)
        .await
        .expect("stripe event");
        for status in ["delivered", "pending"] {
            webhook_deliveries::Entity::insert(
                webhook_deliveries::Model {
                    tenant_id: tenant.clone(),
                    id: format!("{id}-{status}"),
                    endpoint_id: "e".into(),
                    event_type: "order.paid".into(),
                    payload: "{}".into(),
                    status: status.into(),
                    attempts: 1,
                    last_status_code: None,
                    last_error: None,
                    next_attempt_at: None,
                    created_at: at,
                    delivered_at: None,
                }
                .into_active_model(),
            )
            .exec(db)
            .await
            .expect("delivery");
        }
        for status in ["done", "running"] {
            key_imports::Entity::insert(
                key_imports::Model {
                    tenant_id: tenant.clone(),
                    id: format!("{id}-{status}"),
                    product_id: "win11-pro".into(),
                    status: status.into(),
                    total: 1,
                    processed: 1,
                    imported: 1,
                    duplicate: 0,
                    invalid: 0,
                    blank_lines: 0,
                    problems: "[]".into(),
                    error: None,
                    created_at: at,
                    updated_at: at,
                }
                .into_active_model(),
            )
            .exec(db)
            .await
            .expect("import");
        }
    }
    let kept = |db| async move {
        (
            orders::Entity::find().count(db).await.expect("orders"),
            payments::Entity::find().count(db).await.expect("payments"),
            card_keys::Entity::find().count(db).await.expect("keys"),
            audit_log::Entity::find().count(db).await.expect("audit"),
        )
    };
    let before = kept(app.db.reader()).await;

    let swept = sweep(db, now, &keep).await.expect("sweep");
    assert_eq!(
        swept,
        Swept {
            jobs: 2,
            payment_checks: 1,
            risk_events: 1,
            webhook_deliveries: 1,
            stripe_events: 1,
            key_imports: 1,
            payment_notifications: 1,
            notification_bodies: 0,
            status_checks: 0
        }
    );
    // What stays: the young rows, the queued job, the pending delivery, the running import.
    let left: Vec<String> =
        jobs::Entity::find().all(app.db.reader()).await.expect("jobs").into_iter().map(|j| j.status).collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.contains(&"queued".to_string()));
    assert_eq!(webhook_deliveries::Entity::find().count(app.db.reader()).await.expect("n"), 3);
    assert_eq!(
        key_imports::Entity::find()
            .filter(key_imports::Column::Status.eq("running"))
            .count(app.db.reader())
            .await
            .expect("n"),
        2
    );
    assert_eq!(kept(app.db.reader()).await, before, "orders, payments, keys and the audit log are never swept");
    assert!(before.0 >= 1 && before.3 >= 1);
    // A second sweep finds nothing.
    assert_eq!(sweep(db, now, &keep).await.expect("sweep").total(), 0);
    app.stop().await;
}
