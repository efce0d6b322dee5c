//! The conformance suite: what every [`Store`] backend must do, case by case.
//!
//! Each case is a public async fn taking a fresh, empty store; [`store_conformance!`] expands into
//! one named `#[tokio::test]` per case for a [`Harness`]. The memory backend runs it in this
//! crate's tests and `sesame-postgres` runs it unchanged. Cases may fill the store they are given
//! with anything; never point a harness at data you care about. Not a stable API.
//!
//! [`store_conformance!`]: crate::store_conformance

use std::sync::Arc;

mod auth;
mod basics;
mod indexes;
mod roles;
mod transactions;

pub use auth::*;
pub use basics::*;
pub use indexes::*;
pub use roles::*;
pub use transactions::*;

use async_trait::async_trait;
use serde_json::json;
use sesame_model::{
    AuditEvent, AuditKind, Collection, CollectionName, Credential, Data, DocId, DocRef, Document,
    Fields, IdGenerator, Key, PasswordHash, Role, SecretDigest, Timestamp, Token, TokenOrigin,
};

use crate::{
    constraint, AuditFilter, Reservation, Revoke, Store, StoreError, StoredCredential,
    ThrottlePolicy, VerifiedWith,
};

/// Makes fresh stores for the suite.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Dropped after the case; cleans up whatever `fresh` made.
    type Guard: Send;
    /// A fresh, empty store, or `None` to skip the case (the harness says why, loudly).
    async fn fresh(&self) -> Option<(Self::Guard, Arc<dyn Store>)>;
}

/// Expands into one `#[tokio::test]` per conformance case, each with a fresh store from the
/// harness expression. The calling crate needs `tokio` with `macros` and `rt-multi-thread`.
#[macro_export]
macro_rules! store_conformance {
    ($harness:expr) => {
        $crate::__conformance_cases!($harness;
            ping_answers,
            collections_roundtrip_and_unique_names,
            collections_paginate_by_name,
            collection_delete_cascades,
            documents_crud,
            document_create_needs_collection_and_unique_id,
            find_documents_by_exact_equality,
            find_documents_paginates,
            credentials_one_per_document,
            password_change_revokes_tokens_atomically,
            credential_delete_revokes_all_tokens,
            credential_without_password,
            credential_needs_existing_document,
            tokens_lifecycle,
            tokens_by_document_paginate,
            delete_tokens_of_document_keeps_the_exception,
            expired_tokens_are_swept_in_bounded_batches,
            keys_lifecycle,
            secret_digests_are_unique,
            document_delete_cascades_to_credential_and_tokens,
            metadata_roundtrips_exactly,
            login_failures_count_and_reset,
            reservations_follow_the_delay_schedule,
            concurrent_reservations_grant_only_what_the_schedule_allows,
            concurrent_reservations_across_stores_share_the_count,
            login_token_needs_the_verified_hash,
            rehash_is_conditional_on_the_verified_hash,
            logins_racing_a_password_change_leave_no_token,
            logins_racing_a_credential_delete_leave_no_token,
            numbers_match_exactly_not_numerically,
            collections_order_by_bytes_with_mixed_case,
            audit_trail_appends_filters_and_expires,
            token_session_metadata_roundtrips_and_touches_are_coarse,
            concurrent_credential_creations_have_one_winner,
            concurrent_token_deletions_have_one_winner,
            document_deleted_during_credential_creation_leaves_no_orphan,
            index_entries_follow_every_write,
            adding_an_index_backfills_and_removing_drops_it,
            index_values_order_asc_desc_mixed_types_ties_by_id,
            cursors_round_trip_and_tampering_is_refused,
            unique_constraints_conflict_by_name,
            unique_constraint_on_duplicate_data_is_refused,
            concurrent_unique_writers_have_one_winner,
            transaction_commit_is_atomic_and_rollback_leaves_nothing,
            transaction_timestamps_are_monotonic,
            conflicting_transactions_are_retried_and_all_count,
            roles_roundtrip_exactly,
            role_names_are_unique_and_case_sensitive,
            roles_list_in_byte_order_and_paginate,
            roles_replace_and_rename,
            roles_delete_reports_existence,
            roles_with_member_match_exactly_in_order,
            roles_follow_transactions,
            concurrent_role_creations_have_one_winner,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let harness = $harness;
                let Some((_guard, store)) =
                    $crate::conformance::Harness::fresh(&harness).await else { return };
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

// ----- helpers ------------------------------------------------------------------------------

fn ids() -> IdGenerator {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).expect("OS random source");
    IdGenerator::new(u16::from_le_bytes(b))
}

fn now() -> Timestamp {
    // A fixed, realistic time; stores never read a clock.
    Timestamp::from_micros(1_795_862_043_249_742).unwrap()
}

fn name(s: &str) -> CollectionName {
    s.parse().unwrap()
}

fn fields(v: serde_json::Value) -> Fields {
    Fields::parse_value(v).unwrap()
}

fn digest(n: u64) -> SecretDigest {
    SecretDigest::of(&format!("conformance-secret-{n}-{}", ids().next(now())))
}

struct Fixture {
    store: Arc<dyn Store>,
    ids: IdGenerator,
}

impl Fixture {
    fn new(store: Arc<dyn Store>) -> Self {
        Fixture { store, ids: ids() }
    }
    fn id(&self) -> DocId {
        self.ids.next(now())
    }
    async fn coll(&self, n: &str) -> CollectionName {
        let c = Collection::new(name(n), now());
        self.store.create_collection(&c).await.unwrap();
        c.name
    }
    async fn doc(&self, coll: &CollectionName, v: serde_json::Value) -> Document {
        let d = Document { id: self.id(), coll: coll.clone(), ts: now(), fields: fields(v) };
        self.store.create_document(&d).await.unwrap();
        d
    }
    fn cred(&self, doc: &DocRef, hash: Option<&str>) -> StoredCredential {
        StoredCredential {
            credential: Credential { id: self.id(), document: doc.clone(), ts: now(), data: None },
            hash: hash.map(|h| PasswordHash::new(h.into())),
        }
    }
    fn token(&self, doc: &DocRef, ttl: Option<Timestamp>) -> Token {
        Token {
            id: self.id(),
            document: doc.clone(),
            ts: now(),
            ttl,
            data: None,
            origin: TokenOrigin::Login,
            client: Default::default(),
            last_used: None,
        }
    }
    async fn add_token(&self, doc: &DocRef, ttl: Option<Timestamp>) -> (Token, SecretDigest) {
        let t = self.token(doc, ttl);
        let d = digest(t.id.get());
        self.store.create_token(&t, &d, None).await.unwrap();
        (t, d)
    }
    fn key(&self, role: Role) -> Key {
        Key { id: self.id(), role, ts: now(), ttl: None, data: None }
    }
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound) => {}
        other => panic!("expected not_found, got {other:?}"),
    }
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, constraint: &str) {
    match r {
        Err(StoreError::Conflict { constraint: c }) if c == constraint => {}
        other => panic!("expected conflict on {constraint}, got {other:?}"),
    }
}
