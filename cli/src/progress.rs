//! Progress of long work (reindex, repair, backup, restore, sync): a bar
//! on a terminal, and plain lines on stderr otherwise, at most one every
//! few seconds plus one at the end, so that a log or a CI job shows how far
//! the work got without a screen of escape codes.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often a line is written when stderr is not a terminal.
const EVERY: Duration = Duration::from_secs(2);

pub struct Progress {
    /// What is done, for the plain lines: `reindex`, `backup`…
    work: &'static str,
    /// What is counted: `listings`.
    unit: &'static str,
    bar: Option<indicatif::ProgressBar>,
    len: Option<u64>,
    pos: u64,
    note: String,
    started: Instant,
    /// When the last plain line was written.
    said: Option<Instant>,
}

impl Progress {
    /// Progress of `work` counted in `unit`, out of `len` when known.
    pub fn new(work: &'static str, unit: &'static str, len: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match len {
                Some(n) => indicatif::ProgressBar::new(n).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} {bar:40} {pos}/{len} {prefix} {elapsed}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                ),
                None => indicatif::ProgressBar::new_spinner().with_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {msg} {pos} {prefix} {elapsed}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                ),
            };
            bar.set_prefix(unit);
            bar.set_message(work);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            work,
            unit,
            bar,
            len,
            pos: 0,
            note: String::new(),
            started: Instant::now(),
            said: None,
        }
    }

    /// The total, once known.
    pub fn set_len(&mut self, len: u64) {
        if self.len != Some(len) {
            self.len = Some(len);
            if let Some(b) = &self.bar {
                b.set_length(len);
            }
        }
    }

    /// How far the work got.
    pub fn set(&mut self, pos: u64) {
        self.pos = pos;
        match &self.bar {
            Some(b) => b.set_position(pos),
            None => {
                if self.said.is_none_or(|t| t.elapsed() >= EVERY) && self.started.elapsed() >= EVERY
                {
                    self.said = Some(Instant::now());
                    eprintln!("{}", self.line());
                }
            }
        }
    }

    /// A word on the step under way (`comparing with the index`).
    pub fn note(&mut self, note: &str) {
        self.note = note.to_owned();
        if let Some(b) = &self.bar {
            b.set_message(format!("{}: {note}", self.work));
        }
    }

    /// Ends the bar, or writes the last plain line.
    pub fn finish(self) {
        match &self.bar {
            Some(b) => b.finish_and_clear(),
            None => eprintln!(
                "{}, done in {:.1} s",
                self.line(),
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    /// `reindex: 1200/4000 listings (30%)`, or `backup: 1200 listings`.
    fn line(&self) -> String {
        let step = if self.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.note)
        };
        match self.len {
            Some(n) if n > 0 => format!(
                "{}{step}: {}/{n} {} ({}%)",
                self.work,
                self.pos,
                self.unit,
                self.pos * 100 / n
            ),
            _ => format!("{}{step}: {} {}", self.work, self.pos, self.unit),
        }
    }
}
