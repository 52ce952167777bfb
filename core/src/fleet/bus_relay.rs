//! Carries the invalidation bus between processes over Redis pub/sub.
//!
//! Every event published in this process is also published on the
//! `{prefix}bus` channel with this process's id; every event on the channel
//! from another process is delivered here (and only here, so it never
//! travels twice). When the subscription is lost, this process may miss
//! events: once it is subscribed again it drops every cache
//! ([`Invalidation::Everything`]); while it is cut off, cache lifetimes
//! bound how stale it can be, as on a single process.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::bus::{Bus, Invalidation};
use crate::fleet::Fleet;

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    from: String,
    event: Invalidation,
}

/// Starts the relay's two tasks (out and in); `None` without Redis.
pub fn spawn(fleet: &Fleet, bus: &Bus) -> Option<(JoinHandle<()>, JoinHandle<()>)> {
    let client = fleet.client()?.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<Invalidation>();
    if !bus.relay_to(tx) {
        return None;
    }
    let channel = fleet.key("bus");
    let me = fleet.process_id().to_string();

    let out_fleet = fleet.clone();
    let out_channel = channel.clone();
    let out_me = me.clone();
    let outbound = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let Ok(text) = serde_json::to_string(&Envelope { from: out_me.clone(), event }) else { continue };
            let channel = out_channel.clone();
            // Lost when Redis is down: the others' cache lifetimes cover it.
            out_fleet
                .call(|mut c| async move {
                    redis::cmd("PUBLISH").arg(&channel).arg(text).query_async::<i64>(&mut c).await
                })
                .await;
        }
    });

    let bus = bus.clone();
    let in_fleet = fleet.clone();
    let inbound = tokio::spawn(async move {
        let mut cut_off = false;
        loop {
            let subscribed = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                redis::RedisResult::Ok(pubsub)
            };
            let pubsub = match tokio::time::timeout(Duration::from_secs(5), subscribed).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    if !cut_off {
                        in_fleet.mark_down(&e.to_string());
                    }
                    cut_off = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(_) => {
                    cut_off = true;
                    continue;
                }
            };
            if cut_off {
                tracing::info!("invalidation relay subscribed again: dropping caches that may have missed events");
                bus.deliver_from_elsewhere(Invalidation::Everything);
            }
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                let Ok(text) = msg.get_payload::<String>() else { continue };
                match serde_json::from_str::<Envelope>(&text) {
                    Ok(env) if env.from != me => bus.deliver_from_elsewhere(env.event),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "unreadable invalidation from another process"),
                }
            }
            tracing::warn!("invalidation relay lost its Redis subscription; resubscribing");
            cut_off = true;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Some((outbound, inbound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_the_other_process_once_and_never_come_back() {
        let Some(fleet_a) = crate::fleet::tests::test_fleet() else {
            eprintln!("KAPU_REDIS_URL not set: skipped");
            return;
        };
        // A second process: same Redis and prefix, its own id and bus.
        let fleet_b =
            Fleet::redis(&std::env::var("KAPU_REDIS_URL").expect("url"), &fleet_a.key(""), Duration::from_millis(500))
                .expect("url");
        let (bus_a, bus_b) = (Bus::new(), Bus::new());
        let mut seen_a = bus_a.subscribe();
        let mut seen_b = bus_b.subscribe();
        let _relays = (spawn(&fleet_a, &bus_a).expect("relay a"), spawn(&fleet_b, &bus_b).expect("relay b"));
        // Give both subscriptions a moment to be in place.
        let next = |rx: &mut tokio::sync::broadcast::Receiver<Invalidation>| {
            let mut rx = rx.resubscribe();
            async move { tokio::time::timeout(Duration::from_secs(3), rx.recv()).await.ok().and_then(Result::ok) }
        };
        let mut ready = false;
        for _ in 0..50 {
            let wait = next(&mut seen_b);
            bus_a.shop_changed("warm-up");
            if wait.await == Some(Invalidation::ShopChanged { tenant_id: "warm-up".into() }) {
                ready = true;
                break;
            }
        }
        assert!(ready, "the relay never delivered");
        tokio::time::sleep(Duration::from_millis(300)).await;
        while seen_a.try_recv().is_ok() {}
        while seen_b.try_recv().is_ok() {}

        bus_a.stock_changed("t1");
        let got = tokio::time::timeout(Duration::from_secs(3), seen_b.recv()).await.expect("in time").expect("event");
        assert_eq!(got, Invalidation::StockChanged { tenant_id: "t1".into() });
        // A saw its own event once (locally), and not again from Redis.
        assert_eq!(seen_a.recv().await.expect("local"), Invalidation::StockChanged { tenant_id: "t1".into() });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(seen_a.try_recv().is_err(), "an event came back to its own process");
        assert!(seen_b.try_recv().is_err(), "an event arrived twice");
    }
}
