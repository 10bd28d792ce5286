//! The `harvester` binary: parse the command line, start logging, hand over to the library.
//!
//! mimalloc replaces the system allocator: a run allocates millions of short strings (tokens,
//! cells, ids) from several threads, where glibc's malloc spends much of the time consolidating
//! and keeps freed memory, raising the peak. Measured with `harvester bench` (see README).

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    harvester::cli::main()
}
