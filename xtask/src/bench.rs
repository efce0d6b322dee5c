//! `cargo xtask bench`: placeholder replaced below.
pub(crate) fn run(_quick: bool) -> Result<(), String> {
    Err("not yet".into())
}
