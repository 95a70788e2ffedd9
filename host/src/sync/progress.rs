//! Progress on long runs: indicatif bars on a terminal, plain lines on stderr otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    tty: bool,
    quiet: bool,
}

impl Progress {
    /// Bars when stderr is a terminal; plain lines otherwise; nothing when `quiet`.
    pub fn new(quiet: bool) -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            quiet,
        }
    }

    /// No output at all (tests, library use).
    pub fn hidden() -> Self {
        Progress {
            tty: false,
            quiet: true,
        }
    }

    /// A bar for one stage.
    pub fn bar(&self, stage: &'static str, len: Option<u64>) -> Bar {
        let bar = (self.tty && !self.quiet).then(|| {
            let b = match len {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let style =
                ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            b.set_style(style);
            b.set_prefix(stage);
            b
        });
        Bar {
            bar,
            plain: !self.tty && !self.quiet,
            stage,
            state: Mutex::new(Plain {
                len,
                pos: 0,
                last: Instant::now(),
            }),
        }
    }
}

struct Plain {
    len: Option<u64>,
    pos: u64,
    last: Instant,
}

/// One stage's progress.
pub struct Bar {
    bar: Option<ProgressBar>,
    plain: bool,
    stage: &'static str,
    state: Mutex<Plain>,
}

impl Bar {
    /// Sets the total once known.
    pub fn set_length(&self, len: u64) {
        if let Some(b) = &self.bar {
            b.set_length(len);
        }
        if let Ok(mut s) = self.state.lock() {
            s.len = Some(len);
        }
    }

    /// Counts `n` more done.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        if let Ok(mut s) = self.state.lock() {
            s.pos += n;
            if self.plain && s.last.elapsed() >= Duration::from_secs(5) {
                s.last = Instant::now();
                match s.len {
                    Some(len) => eprintln!("{}: {}/{}", self.stage, s.pos, len),
                    None => eprintln!("{}: {}", self.stage, s.pos),
                }
            }
        }
    }

    /// Ends the stage with a line.
    pub fn finish(&self, message: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.plain || self.bar.is_some() {
            eprintln!("{}: {message}", self.stage);
        }
    }
}
