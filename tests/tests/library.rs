//! The library as a platform embeds it: thread-safe handles, async
//! wrappers that keep the runtime free, and an injectable clock.

use std::sync::Arc;

use exlab_cache::{AsyncCache, Cache, MarkerKind, Policy, Root, Settings};
use exlab_cache_tests::*;

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<Cache>();
    send_sync::<AsyncCache>();
    send_sync::<Policy>();
}

#[test]
fn threads_share_one_cache_and_first_seen_at_survives_them_all() {
    let h = Harness::new();
    let first = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("first"))
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let cache = h.cache.clone();
            let clock = h.clock.clone();
            let first = &first;
            s.spawn(move || {
                for i in 0..10 {
                    clock.advance(1);
                    let w = cache
                        .write_equipment(EQUIPMENT, &equipment_input(&format!("T{t}-{i}")))
                        .unwrap();
                    assert_eq!(w.equipment.first_seen_at, first.equipment.first_seen_at);
                    cache.read_equipment(EQUIPMENT).unwrap();
                }
            });
        }
    });
    let last = h.cache.read_equipment(EQUIPMENT).unwrap();
    assert_eq!(last.first_seen_at, first.equipment.first_seen_at);
    assert!(last.last_modified_at > first.equipment.last_modified_at);
}

#[tokio::test(flavor = "current_thread")]
async fn async_calls_do_not_block_the_runtime_and_fifty_racing_markers_have_one_winner() {
    let h = Harness::new();
    let cache = AsyncCache::new(h.cache.clone());
    let calls = (0..50).map(|i| {
        let cache = cache.clone();
        async move {
            cache
                .write_marker(
                    MarkerKind::TestRuns,
                    TEST_RUNS,
                    marker_input(&format!("P{i}")),
                )
                .await
                .unwrap()
                .written
        }
    });
    // A current-thread runtime: had a call blocked it, this ticker could not run.
    let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let written = futures_join_all(calls).await;
    ticker.abort();
    assert_eq!(written.iter().filter(|w| **w).count(), 1);
    assert!(ticks.load(std::sync::atomic::Ordering::SeqCst) > 0);
    let read = cache
        .read_marker(MarkerKind::TestRuns, TEST_RUNS)
        .await
        .unwrap();
    assert_eq!(read.run_kind, "test");
    let w = cache
        .write_equipment(EQUIPMENT, equipment_input("L"))
        .await
        .unwrap();
    assert_eq!(cache.read_equipment(EQUIPMENT).await.unwrap(), w.equipment);
}

/// `join_all` without a futures dependency: spawn each, await in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[test]
fn the_injected_clock_is_the_policys_only_time() {
    let h = Harness::new();
    h.clock.set(0);
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    assert_eq!(w.equipment.first_seen_at, "1970-01-01T00:00:00Z");
    h.clock.set(951_825_599);
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    assert_eq!(w.equipment.last_modified_at, "2000-02-29T11:59:59Z");
}

#[test]
fn a_cache_over_an_unavailable_root_checks_input_first_and_creates_nothing() {
    let policy = Policy::builtin().unwrap();
    let cache = Cache::new(
        Root::unavailable("disk not mounted"),
        policy,
        Settings::default(),
    );
    assert_eq!(
        cache.write_equipment(EQUIPMENT, "{}").unwrap_err().code(),
        "validation_error"
    );
    let e = cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap_err();
    assert_eq!((e.code(), e.message()), ("io_error", "disk not mounted"));
    assert_eq!(
        cache.read_equipment(EQUIPMENT).unwrap_err().code(),
        "io_error"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn async_swap_rollback_and_status_run_off_the_runtime() {
    let h = Harness::new();
    let cache = AsyncCache::new(h.cache.clone());
    let v1_1 = exlab_cache_test_guests::bytes("policy-1-2");
    let swapped = cache.swap_policy(v1_1).await.unwrap();
    assert_eq!(swapped.current.version, "1.2.0");
    let rolled = cache.rollback().await.unwrap();
    assert_eq!(rolled.current.sha256, swapped.previous.sha256);
    let status = cache.status().await.unwrap();
    assert_eq!(status.serving.info.sha256, swapped.previous.sha256);
    assert_eq!(status.attempts.len(), 2, "the swap and the rollback");
}
