//! Brute-force throttling over HTTP: per account (state in the store, so on Postgres it is
//! shared by every instance) and per client address. Throttled attempts cost no hashing.

use http::{Method, StatusCode};
use serde_json::json;
use sesame_server::ServerConfig;
use sesame_tests::{TestServer, ADMIN};

async fn jane(s: &TestServer) -> String {
    s.identity("User", json!({"email": "j@d.e"}), "pw").await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_an_account_get_429_without_hashing() {
    for s in [Some(TestServer::memory().await), TestServer::postgres().await].into_iter().flatten()
    {
        let cred = jane(&s).await;
        let path = format!("/credentials/{cred}/login");
        for _ in 0..3 {
            let r =
                s.call(Method::POST, &path, Some(ADMIN), Some(json!({"password": "nope"}))).await;
            assert_eq!(r.code(), "invalid_secret");
        }
        let before = s.engine.hash_stats();
        for body in [json!({"password": "pw"}), json!({"password": "nope"})] {
            let r = s.call(Method::POST, &path, Some(ADMIN), Some(body)).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::TOO_MANY_REQUESTS, "throttled"),
                "{}",
                r.json
            );
            let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait));
        }
        assert_eq!(s.engine.hash_stats(), before, "throttled attempts hash nothing");
        // The match route is throttled by the identifier tried, known or not (a key that
        // depended on the account's existence would reveal it): its own count, and a known
        // and an unknown identifier answer alike.
        for email in ["j@d.e", "nobody@d.e"] {
            let mut codes = Vec::new();
            for _ in 0..4 {
                let body =
                    json!({"collection": "User", "match": {"email": email}, "password": "x"});
                codes.push(
                    s.call(Method::POST, "/login", Some(ADMIN), Some(body)).await.code().to_owned(),
                );
            }
            assert_eq!(codes, ["invalid_secret", "invalid_secret", "invalid_secret", "throttled"]);
        }
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_a_bounded_number_of_login_attempts() {
    let mut auth = sesame_tests::test_auth_config();
    (auth.throttle.per_address_per_minute, auth.throttle.per_address_burst) = (1, 2);
    let store = std::sync::Arc::new(sesame_store::MemoryStore::new());
    let s = TestServer::start_with(store, None, ServerConfig::default(), auth).await;
    let cred = jane(&s).await;
    let mut codes = Vec::new();
    for i in 0..4 {
        // Different (unknown) credential ids: the per-account throttle does not apply.
        let path = if i == 0 {
            format!("/credentials/{cred}/login")
        } else {
            format!("/credentials/{}/login", 1000 + i)
        };
        let r = s.call(Method::POST, &path, Some(ADMIN), Some(json!({"password": "x"}))).await;
        codes.push((r.status.as_u16(), r.code().to_owned(), r.headers.contains_key("retry-after")));
    }
    assert_eq!(
        codes,
        [
            (400, "invalid_secret".into(), false),
            (400, "invalid_secret".into(), false),
            (429, "throttled".into(), true),
            (429, "throttled".into(), true),
        ]
    );
    // Other routes are not limited.
    assert_eq!(s.call(Method::GET, "/collections", Some(ADMIN), None).await.status, StatusCode::OK);
    s.stop().await;
}
