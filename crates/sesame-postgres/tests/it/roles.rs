//! Roles on Postgres beyond the conformance suite: the stored layout (membership and privileges
//! as written, the denormalised `member_collections`) and rows that no longer parse, which are
//! errors naming the role row, never panics or silently skipped roles. What roles mean is not
//! tested here (the engine's business).

use serde_json::json;
use sesame_model::{RoleDef, Timestamp};
use sesame_postgres::testing::TestDb;
use sesame_store::prelude::*;
use sesame_store::StoreError;

fn now() -> Timestamp {
    Timestamp::from_micros(1_795_862_043_249_742).unwrap()
}

async fn raw_client(db: &TestDb) -> tokio_postgres::Client {
    let url = sesame_postgres::testing::url().unwrap();
    let mut cfg: tokio_postgres::Config = url.parse().unwrap();
    cfg.options(format!("-c search_path={}", db.schema));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_stored_as_written_with_their_member_collections() {
    let Some(db) = TestDb::new().await else { return };
    let body = json!({
        "name": "Manager",
        "membership": [{"resource": "Staff", "predicate": "s => s.boss"}, {"resource": "Director"},
                       {"resource": "Staff"}],
        "privileges": {"resource": "Customer", "actions": {"read": true}},
    });
    let role = RoleDef::parse(body.as_object().unwrap(), now()).unwrap();
    db.store.create_role(&role).await.unwrap();
    let c = raw_client(&db).await;
    let r = c
        .query_one(
            "SELECT ts, membership, privileges, data, member_collections FROM roles \
             WHERE name = 'Manager'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>("ts"), now().as_micros());
    assert_eq!(r.get::<_, serde_json::Value>("membership"), body["membership"]);
    assert_eq!(r.get::<_, serde_json::Value>("privileges"), body["privileges"]);
    assert_eq!(r.get::<_, Option<serde_json::Value>>("data"), None);
    assert_eq!(r.get::<_, Vec<String>>("member_collections"), ["Staff", "Director"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_role_rows_are_errors_not_panics() {
    let Some(db) = TestDb::new().await else { return };
    let c = raw_client(&db).await;
    // Each row breaks one rule `RoleDef::parse` enforces (or a column's expected JSON type).
    for (i, (name, membership, privileges)) in [
        ("admin", "null", "null"),
        ("bad-name", "null", "null"),
        ("BadMembership", r#""Staff""#, "null"),
        ("BadAction", "null", r#"{"resource": "C", "actions": {"fly": true}}"#),
    ]
    .into_iter()
    .enumerate()
    {
        c.execute(
            "INSERT INTO roles (name, ts, membership, privileges, member_collections) \
             VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb, ARRAY['Staff'])",
            &[&name, &(i as i64), &membership, &privileges],
        )
        .await
        .unwrap();
        let listed = db.store.list_roles(None, 10).await;
        match listed {
            Err(StoreError::Other(e)) => {
                assert!(e.to_string().contains("unreadable role row"), "{name}: {e}")
            }
            other => panic!("{name}: expected an unreadable row, got {other:?}"),
        }
        match db.store.roles_with_member("Staff").await {
            Err(StoreError::Other(_)) => {}
            other => panic!("{name}: expected an unreadable row, got {other:?}"),
        }
        c.execute("DELETE FROM roles", &[]).await.unwrap();
    }
    // A bad timestamp too.
    c.execute(
        "INSERT INTO roles (name, ts, member_collections) VALUES ('Late', $1, '{}')",
        &[&i64::MAX],
    )
    .await
    .unwrap();
    match db.store.get_role(&"Late".parse().unwrap()).await {
        Err(StoreError::Other(e)) => assert!(e.to_string().contains("unreadable"), "{e}"),
        other => panic!("expected an unreadable row, got {other:?}"),
    }
}
