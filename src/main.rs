//! The `harvester` binary: parse the command line, start logging, hand over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    harvester::cli::main()
}
