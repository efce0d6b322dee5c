//! Concurrency over HTTP (the attack run's two vulnerabilities): a burst of wrong passwords on
//! one account, on memory and on two instances sharing one Postgres; and logins racing a
//! password change or a credential delete. Per-address limiting is off so that only the
//! per-account rules are measured.

use http::Method;
use serde_json::json;
use sesame_server::ServerConfig;
use sesame_tests::{test_auth_config, TestServer, ADMIN};

fn no_address_limit() -> sesame_auth::AuthConfig {
    let mut auth = test_auth_config();
    auth.throttle.per_address_per_minute = 0;
    auth
}

/// One instance on memory, or two on one Postgres schema (`None` when Postgres is not set up
/// locally).
async fn servers(postgres: bool) -> Option<(TestServer, Option<TestServer>)> {
    if !postgres {
        let store = std::sync::Arc::new(sesame_store::MemoryStore::new());
        let s = TestServer::start_with(store, None, ServerConfig::default(), no_address_limit());
        return Some((s.await, None));
    }
    let db = sesame_postgres::testing::TestDb::new().await?;
    let b_store = std::sync::Arc::new(sesame_postgres::PgStore::new(db.config.clone()).unwrap());
    let a_store = db.store.clone();
    let a = TestServer::start_with(a_store, Some(db), ServerConfig::default(), no_address_limit());
    let b = TestServer::start_with(b_store, None, ServerConfig::default(), no_address_limit());
    let (a, b) = (a.await, b.await);
    Some((a, Some(b)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_on_one_account_hashes_only_the_free_failures() {
    for postgres in [false, true] {
        let Some((a, b)) = servers(postgres).await else { continue };
        let (_, cred) = a.identity("User", json!({"email": "v@d.e"}), "right-password").await;
        let path = format!("/credentials/{cred}/login");
        let hashed = || {
            a.engine.hash_stats().verifications
                + b.as_ref().map_or(0, |b| b.engine.hash_stats().verifications)
        };
        let before = hashed();
        let attempt = |i: usize| {
            let s = match &b {
                Some(b) if i % 2 == 1 => b,
                _ => &a,
            };
            let path = path.clone();
            async move {
                let body = json!({"password": format!("wrong-{i}")});
                s.call(Method::POST, &path, Some(ADMIN), Some(body)).await.status.as_u16()
            }
        };
        let mut set = Vec::new();
        for i in 0..40 {
            set.push(attempt(i));
        }
        let statuses = join(set).await;
        let hashed = hashed() - before;
        assert!(hashed <= 4, "postgres={postgres}: {hashed} hashed of 40 ({statuses:?})");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count() as u64, hashed);
        // The victim: told to wait at most the maximum delay, then let in.
        let r = a
            .call(Method::POST, &path, Some(ADMIN), Some(json!({"password": "right-password"})))
            .await;
        if r.status.as_u16() == 429 {
            let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(wait <= 60, "the victim waits {wait} s");
        }
        a.stop().await;
        if let Some(b) = b {
            b.stop().await;
        }
    }
}

/// Runs the futures concurrently and collects their outputs in order.
async fn join<F: std::future::Future<Output = T>, T>(fs: Vec<F>) -> Vec<T> {
    let mut pinned: Vec<_> = fs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<T>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in pinned.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("ready")).collect()
}

/// Two attackers loop logins with the old password while the password is changed (or the
/// credential deleted): afterwards no secret they obtained works, in every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_racing_a_password_change_or_delete_leave_no_valid_token() {
    for postgres in [false, true] {
        let Some((a, b)) = servers(postgres).await else { continue };
        for round in 0..4 {
            let email = format!("r{round}@d.e");
            let (_, cred) = a.identity("User", json!({ "email": email }), "old-password").await;
            let path = format!("/credentials/{cred}/login");
            // The attackers keep logging in until a little after the change.
            let done = std::sync::atomic::AtomicUsize::new(0);
            let got = std::sync::atomic::AtomicUsize::new(0);
            async fn attacker(
                s: &TestServer,
                path: &str,
                done: &std::sync::atomic::AtomicUsize,
                got: &std::sync::atomic::AtomicUsize,
            ) -> Vec<String> {
                let mut secrets = Vec::new();
                for _ in 0..400 {
                    if done.load(std::sync::atomic::Ordering::SeqCst) > 3 {
                        break;
                    }
                    if done.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    let body = json!({"password": "old-password"});
                    let r = s.call(Method::POST, path, Some(ADMIN), Some(body)).await;
                    if r.status.as_u16() == 201 {
                        secrets.push(r.str("secret"));
                        if done.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                            got.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                }
                secrets
            }
            let change = async {
                // Change while the attackers are mid-stream: after they got a few tokens.
                for _ in 0..5000 {
                    if got.load(std::sync::atomic::Ordering::SeqCst) >= 4 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                let p = format!("/credentials/{cred}");
                let r = if round % 2 == 0 {
                    let body = json!({"password": "new-password"});
                    a.call(Method::PATCH, &p, Some(ADMIN), Some(body)).await
                } else {
                    a.call(Method::DELETE, &p, Some(ADMIN), None).await
                };
                assert!(r.status.is_success(), "{}", r.json);
                done.store(1, std::sync::atomic::Ordering::SeqCst);
            };
            let other = b.as_ref().unwrap_or(&a);
            let (one, two, ()) = tokio::join!(
                attacker(&a, &path, &done, &got),
                attacker(other, &path, &done, &got),
                change
            );
            assert!(one.len() + two.len() >= 4, "the attackers logged in before the change");
            for secret in one.iter().chain(&two) {
                let r = a.call(Method::GET, "/tokens/self", Some(secret), None).await;
                assert_eq!(
                    r.status.as_u16(),
                    401,
                    "postgres={postgres} round {round}: a token survived"
                );
            }
        }
        a.stop().await;
        if let Some(b) = b {
            b.stop().await;
        }
    }
}

#[test]
fn the_test_config_throttles() {
    // The cases above rely on the default throttle schedule (3 free failures).
    assert_eq!(test_auth_config().throttle.free_failures, 3);
}
