//! The golden FQL corpus over real HTTP (`POST /query/1`), one named test per case, each on a
//! fresh memory store and then on a fresh Postgres schema. A case that cannot pass is in
//! `ALLOWED` with its reason (the same list as the engine-level run; reviewed in the README);
//! an allowed case that passes fails, so the list stays true.

use serde_json::json;
use sesame_fql::corpus::{self, As};
use sesame_tests::{TestServer, ADMIN};

const CORPUS: &str = include_str!("../../crates/sesame-fql/tests/corpus/public.jsonl");

/// Cases that cannot pass, and why.
const ALLOWED: &[(&str, &str)] = &[(
    "tok-identity-no-role",
    "Sesame's baseline lets a token read its own identity document on every surface",
)];

fn runner(rt: &tokio::runtime::Runtime, postgres: bool) -> Option<Box<corpus::Runner<'_>>> {
    let server = rt.block_on(async {
        if postgres {
            TestServer::postgres().await
        } else {
            Some(TestServer::memory().await)
        }
    })?;
    Some(Box::new(move |q: &str, who: &As, format: &str| {
        let secret = match who {
            As::Admin => ADMIN.to_owned(),
            As::Secret(s) => s.clone(),
        };
        let r = rt.block_on(server.query(
            false,
            Some(&secret),
            &[("x-format", format)],
            &json!({ "query": q }),
        ));
        (r.status.as_u16(), r.json)
    }))
}

fn case(id: &str) {
    let cases = corpus::load(CORPUS).expect("corpus");
    let case = cases.iter().find(|c| c.id == id).expect("case");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let allowed = ALLOWED.iter().find(|(a, _)| *a == id).map(|(_, why)| *why);
    for postgres in [false, true] {
        if postgres && sesame_postgres::testing::url().is_none() && std::env::var_os("CI").is_none()
        {
            continue; // TestDb says so loudly once; under CI a missing database fails
        }
        let mut new = || runner(&rt, postgres).expect("a Postgres test database");
        let r = corpus::run_case(case, &mut new);
        match (r, allowed) {
            (Ok(_), None) | (Err(_), Some(_)) => {}
            (Ok(_), Some(_)) => panic!("{id} passes now: remove it from ALLOWED"),
            (Err(e), None) => panic!("{id} (postgres={postgres}): {e}"),
        }
    }
}

mod cases {
    include!(concat!(env!("OUT_DIR"), "/corpus_cases.rs"));
}
