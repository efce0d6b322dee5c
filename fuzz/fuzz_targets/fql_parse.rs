//! Fuzz target: the FQL lexer and parser. Any text gives an AST or an `invalid_query`, never a
//! panic or a stack overflow; what parses pretty-prints to source that parses to the same
//! printed form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesame_fql::ast::print_stmts;
use sesame_fql::{parse_lambda, parse_query};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let _ = parse_lambda(src);
    match parse_query(src) {
        Ok(stmts) => {
            let mut printed = String::new();
            print_stmts(&stmts, &mut printed);
            if let Ok(again) = parse_query(&printed) {
                let mut twice = String::new();
                print_stmts(&again, &mut twice);
                assert_eq!(printed, twice);
            }
        }
        Err(e) => assert_eq!(e.code.as_str(), "invalid_query"),
    }
});
