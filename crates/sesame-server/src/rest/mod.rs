//! The REST surface: routing (`router`), request decoding (`wire`), representations (`repr`),
//! one arm per operation (`handlers`) and the OpenAPI document built from the router
//! (`openapi`). Another surface (Fauna's query protocol) sits
//! beside it and shares `protocol.rs`, `response.rs` and the engine, nothing else.

pub mod handlers;
pub mod openapi;
pub mod repr;
pub mod router;
pub mod wire;

pub use handlers::{handle, handle_routed};
