//! The `uptake` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    uptake::cli::main()
}
