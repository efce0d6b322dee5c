//! Fuzz target: request-body decoding. Any bytes must decode or fail with an error, never
//! panic, for the generic strict JSON parser and every typed request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_server::rest::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = wire::parse_json(data) {
        let _ = wire::fields(v.clone());
        let _ = wire::data(Some(v));
    }
    let _ = wire::parse::<wire::CreateCollection>(data);
    if let Ok(c) = wire::parse::<wire::CreateCredential>(data) {
        let _ = c.document.parse();
    }
    let _ = wire::parse::<wire::ChangePassword>(data);
    if let Ok(l) = wire::parse::<wire::Login>(data) {
        let _ = wire::ttl(l.ttl);
    }
    let _ = wire::parse::<wire::Verify>(data);
    let _ = wire::parse::<wire::LoginByMatch>(data);
    let _ = wire::parse::<wire::CreateToken>(data);
    let _ = wire::parse::<wire::CreateKey>(data);
});
