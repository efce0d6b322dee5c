//! The `sesame` binary. All behaviour lives in the library (`sesame_server::cli`).

/// mimalloc: the request path allocates many small, short-lived objects, and a faster
/// allocator shows up directly in requests per second (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sesame_server::cli::main()
}
