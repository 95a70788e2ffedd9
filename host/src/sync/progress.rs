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
            let template = match len {
                Some(_) => "{prefix:>9} [{bar:30}] {pos}/{len} {elapsed}, ~{eta} to go {msg}",
                None => "{prefix:>9} {spinner} {pos} {elapsed} {msg}",
            };
            let style = ProgressStyle::with_template(template)
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
                started: Instant::now(),
                last: Instant::now(),
                note: String::new(),
            }),
        }
    }
}

struct Plain {
    len: Option<u64>,
    pos: u64,
    started: Instant,
    last: Instant,
    /// Said after the counts (e.g. the request budget left).
    note: String,
}

impl Plain {
    /// `stage: pos/len, ~ETA to go, note` (the ETA from the pace so far).
    fn line(&self, stage: &str) -> String {
        let mut line = match self.len {
            Some(len) => format!("{stage}: {}/{len}", self.pos),
            None => format!("{stage}: {}", self.pos),
        };
        if let Some(eta) = self.eta() {
            line.push_str(&format!(", ~{} to go", human(eta)));
        }
        if !self.note.is_empty() {
            line.push_str(", ");
            line.push_str(&self.note);
        }
        line
    }

    /// The time left at the pace so far (`None` before any progress or without a total).
    fn eta(&self) -> Option<Duration> {
        let len = self.len?;
        if self.pos == 0 || self.pos >= len {
            return None;
        }
        let per = self.started.elapsed().as_secs_f64() / self.pos as f64;
        Some(Duration::from_secs_f64(per * (len - self.pos) as f64))
    }
}

/// `1h02m`, `3m12s`, `45s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
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
                eprintln!("{}", s.line(self.stage));
            }
        }
    }

    /// Says something after the counts from now on (e.g. `12 of 20 requests left in the
    /// rate window`).
    pub fn note(&self, note: String) {
        if let Some(b) = &self.bar {
            b.set_message(note.clone());
        }
        if let Ok(mut s) = self.state.lock() {
            s.note = note;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_plain_line_gives_counts_the_time_to_go_and_the_note() {
        let p = Plain {
            len: Some(600),
            pos: 150,
            started: Instant::now() - Duration::from_secs(60),
            last: Instant::now(),
            note: "7 of 20 requests left in the window".into(),
        };
        let line = p.line("details");
        // 150 in a minute: 450 more take about three minutes.
        assert!(line.starts_with("details: 150/600, ~3m0"), "{line}");
        assert!(
            line.ends_with(", 7 of 20 requests left in the window"),
            "{line}"
        );
        let spinner = Plain {
            len: None,
            note: String::new(),
            ..p
        };
        assert_eq!(spinner.line("listing"), "listing: 150");
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(192)), "3m12s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
    }
}
