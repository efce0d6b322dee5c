//! The `sesame` binary. All behaviour lives in the library (`sesame_server::cli`).

fn main() -> std::process::ExitCode {
    sesame_server::cli::main()
}
