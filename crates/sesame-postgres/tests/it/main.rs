//! Postgres integration tests: the conformance suite, migrations and durability.
//! One test binary; each case gets its own schema (see `sesame_postgres::testing`).

mod conformance;
mod durability;
mod migrations;
