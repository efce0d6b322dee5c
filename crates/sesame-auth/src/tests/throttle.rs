//! Throttling of password checks, sequentially: delays before any hashing, unknown identities
//! throttled like known ones, the cap on delays and on failures per hour, `verify` on the
//! login's count. (Bursts of concurrent attempts are `security.rs`.)

use super::*;

#[tokio::test]
async fn failed_logins_are_throttled_before_any_hashing() {
    let w = world(); // default policy: 3 free failures, then 1 s doubling, at most 60 s
    let (_, cred) = w.jane().await;
    let (right, wrong) = (pw("sekret"), pw("wrong"));
    let login = |p: &'static str| {
        let pass = if p == "sekret" { &right } else { &wrong };
        w.engine.login(&w.admin, cred, pass, None)
    };
    for _ in 0..3 {
        assert_eq!(code(login("wrong").await), "invalid_secret");
    }
    let before = w.engine.hash_stats();
    // Even the right password is refused while throttled, and nothing is hashed.
    assert_eq!(code(login("sekret").await), "throttled(1)");
    assert_eq!(code(login("wrong").await), "throttled(1)");
    assert_eq!(w.engine.hash_stats(), before, "no Argon2 work for throttled attempts");
    w.clock.advance_secs(1);
    assert_eq!(code(login("wrong").await), "invalid_secret"); // 4 failures: wait 2 s
    w.clock.advance_secs(1);
    assert_eq!(code(login("sekret").await), "throttled(1)");
    w.clock.advance_secs(1);
    assert_eq!(code(login("sekret").await), "ok");
    // Success resets the count: three free failures again.
    for _ in 0..3 {
        assert_eq!(code(login("wrong").await), "invalid_secret");
    }
    assert_eq!(code(login("wrong").await), "throttled(1)");
}

#[tokio::test]
async fn unknown_identities_are_throttled_exactly_like_known_ones() {
    let w = world();
    let customer = w.engine.create_collection(&w.admin, coll("Customer")).await.unwrap().name;
    w.person(&customer, "Jane", "Doe", "sekret").await;
    let mut seen = Vec::new();
    for first in ["Jane", "Nobody"] {
        let m = fields(json!({"firstName": first}));
        let guess = pw("guess");
        let attempt = || w.engine.login_by_match(&w.admin, &customer, &m, &guess, None);
        let mut outcomes = Vec::new();
        let before = w.engine.hash_stats().verifications;
        for step in 0..8 {
            outcomes.push(code(attempt().await));
            if step == 5 {
                w.clock.advance_secs(1);
            }
        }
        outcomes.push(format!("verifications={}", w.engine.hash_stats().verifications - before));
        seen.push(outcomes);
        w.clock.advance_secs(3600);
    }
    assert_eq!(seen[0], seen[1], "known and unknown identities look the same");
    assert!(seen[0].contains(&"throttled(1)".to_owned()), "{seen:?}");
}

#[tokio::test]
async fn delays_are_capped_and_failures_limited_per_hour() {
    let cfg = AuthConfig {
        throttle: ThrottleConfig {
            free_failures: 3,
            base_delay_secs: 1,
            max_delay_secs: 4,
            max_failures_per_hour: 100,
            max_concurrent_attempts: 2,
            ..ThrottleConfig::default()
        },
        ..AuthConfig::insecure_fast_for_tests()
    };
    let w = world_with(cfg);
    let (_, cred) = w.jane().await;
    let mut failures = 0;
    let mut max_wait = 0;
    let started = w.engine.now();
    loop {
        match w.engine.login(&w.admin, cred, &pw("wrong"), None).await {
            Err(AuthError::InvalidSecret) => failures += 1,
            Err(AuthError::Throttled { retry_after_secs }) if retry_after_secs <= 4 => {
                max_wait = max_wait.max(retry_after_secs);
                w.clock.advance_secs(retry_after_secs as i64);
            }
            Err(AuthError::Throttled { retry_after_secs }) => {
                // The hourly limit: the rest of the hour that began with the first failure.
                let elapsed = (w.engine.now().as_micros() - started.as_micros()) / 1_000_000;
                assert!(retry_after_secs as i64 >= 3600 - elapsed - 1 && retry_after_secs <= 3600);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(failures <= 100, "more than 100 failures in an hour");
    }
    assert_eq!(failures, 100);
    assert_eq!(max_wait, 4, "delays are capped");
}

#[tokio::test]
async fn verify_shares_the_login_throttle() {
    let w = world();
    let (_, cred) = w.jane().await;
    for _ in 0..3 {
        assert!(!w.engine.verify(&w.admin, cred, &pw("wrong")).await.unwrap());
    }
    assert_eq!(code(w.engine.verify(&w.admin, cred, &pw("sekret")).await), "throttled(1)");
    assert_eq!(code(w.engine.login(&w.admin, cred, &pw("sekret"), None).await), "throttled(1)");
}
