//! Fuzz target: the model's parsers (ids, collection names, times, roles, fields). Parsing
//! never panics, and what parses renders back to something that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_model::{CollectionName, DocId, Fields, Role, Timestamp};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(id) = s.parse::<DocId>() {
        assert_eq!(id.to_string().parse::<DocId>().unwrap(), id);
    }
    if let Ok(name) = s.parse::<CollectionName>() {
        assert_eq!(name.as_str(), &*s);
    }
    if let Ok(t) = Timestamp::parse_rfc3339(&s) {
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
    }
    let _ = s.parse::<Role>();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = Fields::parse_value(v);
    }
});
