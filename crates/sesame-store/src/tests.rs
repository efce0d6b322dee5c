//! Runs the conformance suite against [`MemoryStore`](crate::MemoryStore).

use std::sync::Arc;

use async_trait::async_trait;

use crate::conformance::Harness;
use crate::{MemoryStore, Store};

struct Memory;

#[async_trait]
impl Harness for Memory {
    type Guard = ();
    async fn fresh(&self) -> Option<((), Arc<dyn Store>)> {
        Some(((), Arc::new(MemoryStore::new())))
    }
}

crate::store_conformance!(Memory);
