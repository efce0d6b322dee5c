//! Postgres integration tests: the conformance suite, migrations, durability and role storage.
//! One test binary; each case gets its own schema (see `sesame_postgres::testing`).

mod conformance;
mod durability;
mod migrations;
mod roles;
