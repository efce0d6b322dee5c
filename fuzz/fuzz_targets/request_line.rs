//! Fuzz target: routing and query strings. Any path and query parse or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_server::rest::router::Route;
use sesame_server::rest::wire;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (path, query) = s.split_once('?').map_or((&*s, None), |(p, q)| (p, Some(q)));
    if let Ok(r) = Route::parse(path) {
        let _ = (r.allow(), r.name(), r.is_public());
    }
    let _ = wire::list_query(query, true);
    let _ = wire::list_query(query, false);
    let _ = wire::audit_query(query);
});
