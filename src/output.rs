//! Lines for people and scripts on stdout and stderr that never panic:
//! `println!` panics when the reader went away (`uptake keys list | head
//! -1`) or the disk is full, which would turn a finished command into exit
//! 101, or stop a server at its "listening on" line. A line that cannot be
//! written is dropped; what the command did stands.

use std::fmt;
use std::io::Write;

/// Writes one line to stdout.
pub fn out(line: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// Writes one line to stderr.
pub fn err(line: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `println!` that never panics (see the module).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::out(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see the module).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::err(format_args!($($arg)*))
    };
}
