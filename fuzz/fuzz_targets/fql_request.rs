//! Fuzz target: whole `/query/1` requests (template decoding, parsing, evaluation with small
//! limits, materialisation) against the in-memory test host. Any body gives a response,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_fql::testing::MemHost;
use sesame_fql::{Format, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let mut host = MemHost::new();
    host.limits = Limits { fuel: 20_000, max_call_depth: 32, ..Limits::default() };
    for format in [Format::Simple, Format::Tagged] {
        let (status, _) = host.query_body(None, &body, format);
        assert!((200..600).contains(&status));
    }
});
