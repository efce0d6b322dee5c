//! Fuzz target: bearer-secret parsing. Classifying and digesting any string never panics,
//! and only strings of the generated shape are recognised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_model::{Secret, SecretKind};

fuzz_target!(|data: &[u8]| {
    let s = Secret::new(String::from_utf8_lossy(data).into_owned());
    if let Some(kind) = s.kind() {
        assert!(s.expose().starts_with(kind.prefix()));
        assert_eq!(s.expose().len(), 47);
        assert!(matches!(kind, SecretKind::Key | SecretKind::Token));
    }
    let _ = s.digest();
});
