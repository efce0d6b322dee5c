//! Build script: one named end-to-end test per golden FQL corpus case (the vendored
//! `crates/sesame-fql/tests/corpus/public.jsonl`), written to `$OUT_DIR/corpus_cases.rs` and
//! included by `e2e/corpus.rs`. It reads only the ids; the harness does the rest.

use std::fmt::Write as _;

fn main() {
    let path = "../crates/sesame-fql/tests/corpus/public.jsonl";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = String::new();
    for line in text.lines() {
        let Some(rest) = line.split("\"id\": \"").nth(1).or_else(|| line.split("\"id\":\"").nth(1))
        else {
            continue;
        };
        let Some(id) = rest.split('"').next() else { continue };
        let name: String = id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .collect();
        let _ = writeln!(out, "#[test]\nfn {name}() {{\n    super::case({id:?});\n}}");
    }
    let dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let _ = std::fs::write(std::path::Path::new(&dir).join("corpus_cases.rs"), out);
}
