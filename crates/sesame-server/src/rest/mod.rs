//! The REST surface: routing (`router`), request decoding (`wire`), representations (`repr`)
//! and one arm per operation (`handlers`). Another surface (Fauna's query protocol) sits
//! beside it and shares `protocol.rs`, `response.rs` and the engine, nothing else.

pub mod handlers;
pub mod repr;
pub mod router;
pub mod wire;

pub use handlers::handle;
