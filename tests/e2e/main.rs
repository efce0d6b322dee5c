//! End-to-end tests over real HTTP on loopback: the seed tutorial (memory, Postgres, h2c),
//! every error code and status, hostile input, operational behaviour, the OpenAPI document
//! against real responses, Fauna's protocol (`/query/1`, the golden corpus) and the tutorial
//! through Fauna's official Python and JavaScript drivers, user-defined roles. One test binary.

mod corpus;
mod drivers;
mod errors;
mod hostile;
mod keys;
mod openapi;
mod ops;
mod query;
mod races;
mod roles;
mod throttle;
mod tutorial;
