//! What the programs share on their command line: `--help` prints the usage and exits 0; a
//! bad flag or value prints the usage and exits 2.

use std::fmt::Display;
use std::str::FromStr;

/// A program's arguments, read flag by flag.
#[derive(Debug)]
pub struct Args {
    usage: &'static str,
    args: std::vec::IntoIter<String>,
}

impl Args {
    /// The process's arguments, for a program whose usage is `usage`.
    pub fn new(usage: &'static str) -> Args {
        Args {
            usage,
            args: std::env::args().skip(1).collect::<Vec<_>>().into_iter(),
        }
    }

    /// The next flag; `--help` and `-h` print the usage and exit 0.
    pub fn next_flag(&mut self) -> Option<String> {
        let flag = self.args.next()?;
        if flag == "--help" || flag == "-h" {
            println!("{}", self.usage);
            std::process::exit(0);
        }
        Some(flag)
    }

    /// The remaining arguments (positional ones).
    pub fn rest(&mut self) -> Vec<String> {
        self.args.by_ref().collect()
    }

    /// The value of `flag`, parsed; a missing or bad value exits 2.
    pub fn value<T: FromStr>(&mut self, flag: &str) -> T
    where
        T::Err: Display,
    {
        let Some(value) = self.args.next() else {
            self.fail(&format!("{flag} needs a value"));
        };
        match value.parse() {
            Ok(value) => value,
            Err(err) => self.fail(&format!("{flag} {value}: {err}")),
        }
    }

    /// Prints `message` and the usage on stderr and exits 2.
    pub fn fail(&self, message: &str) -> ! {
        eprintln!("{message}\n\n{}", self.usage);
        std::process::exit(2);
    }
}
