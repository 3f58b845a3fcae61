//! What a listing carries beyond the basics, composed from what people
//! type: availability windows, a standing offer's rhythm, a broker's
//! posting on a resident's behalf (protocol.md, section 5, "Version 2").

use anyhow::{anyhow, bail, Result};
use buurt_protocol::calendar::{self, Day};
use buurt_protocol::listing::MAX_WINDOWS;
use buurt_protocol::{Behalf, Period, Recurrence, Window};

/// Parses one `--available`: any of a date or date range
/// (`2026-12-20`, `2026-12-20..2026-12-23`), weekdays (`ma-vr`, `za,zo`)
/// and hours (`18:00-22:00`), separated by spaces. Without dates the window
/// runs over the listing's life, `born..=lapses`.
pub fn parse_window(text: &str, born: Day, lapses: Day) -> Result<Window> {
    let bad = |part: &str| {
        anyhow!(
            "`{part}` in `{text}`: write dates (2026-12-20 or 2026-12-20..2026-12-23), \
             weekdays (ma-vr, za,zo) and hours (18:00-22:00)"
        )
    };
    let mut w = Window::days(born, lapses);
    let mut dated = false;
    for part in text.split_whitespace() {
        if part.starts_with(|c: char| c.is_ascii_digit()) && part.contains(':') {
            let (a, b) = part.split_once('-').ok_or_else(|| bad(part))?;
            w.start_minute = calendar::parse_minutes(a).ok_or_else(|| bad(part))?;
            w.end_minute = calendar::parse_minutes(b).ok_or_else(|| bad(part))?;
            if w.start_minute >= w.end_minute {
                bail!("`{part}`: the hours must end after they start");
            }
        } else if part.starts_with(|c: char| c.is_ascii_digit()) {
            let (a, b) = part.split_once("..").unwrap_or((part, part));
            w.from = calendar::parse(a).ok_or_else(|| bad(part))?;
            w.to = calendar::parse(b).ok_or_else(|| bad(part))?;
            if w.from > w.to {
                bail!("`{part}`: the last day comes before the first");
            }
            dated = true;
        } else {
            w.weekdays = calendar::parse_weekdays(part).ok_or_else(|| bad(part))?;
        }
    }
    if dated && (w.to < born || w.from > lapses) {
        bail!(
            "`{text}` lies outside the listing's life ({} to {}); give --expires to make it run longer",
            calendar::format(born),
            calendar::format(lapses)
        );
    }
    Ok(w)
}

/// Every `--available`, checked together.
pub fn parse_windows(given: &[String], born: Day, lapses: Day) -> Result<Vec<Window>> {
    if given.len() > MAX_WINDOWS {
        bail!("--available: at most {MAX_WINDOWS} windows");
    }
    given
        .iter()
        .map(|g| parse_window(g, born, lapses))
        .collect::<Result<_>>()
        .map_err(|e| anyhow!("--available: {e}"))
}

/// Windows as they must be in a revision that lives `born..=lapses`:
/// those over before `born` are dropped, the others kept. `None` when there
/// were windows and none is left (nothing can be had any more).
pub fn fit_windows(windows: &[Window], born: Day, lapses: Day) -> Option<Vec<Window>> {
    let kept: Vec<Window> = windows
        .iter()
        .filter(|w| w.to >= born && w.from <= lapses)
        .copied()
        .collect();
    (kept.is_empty() == windows.is_empty()).then_some(kept)
}

/// `--every` and `--on`: the rhythm of a standing offer from `today`.
pub fn parse_every(every: &str, on: Option<&str>, today: Day) -> Result<Recurrence> {
    let period = match every {
        "week" => Period::Week,
        "2w" => Period::Fortnight,
        "month" => Period::Month,
        other => bail!("--every: `{other}` is not week, 2w or month"),
    };
    let first = match on {
        None => today,
        Some(d) => {
            let wd = calendar::parse_weekday(d).ok_or_else(|| {
                anyhow!("--on: `{d}` is not a weekday (ma, di, wo, do, vr, za, zo)")
            })?;
            today + u32::from((7 + wd - calendar::weekday(today)) % 7)
        }
    };
    Ok(Recurrence {
        period,
        first,
        paused: false,
    })
}

/// `--for`, `--consent` and `--consent-on`.
pub fn parse_behalf(resident: &str, consent: &str, on: Option<&str>, today: Day) -> Result<Behalf> {
    let consent_on = match on {
        None => today,
        Some(d) => calendar::parse(d)
            .ok_or_else(|| anyhow!("--consent-on: `{d}` is not a date like 2026-12-02"))?,
    };
    Ok(Behalf {
        resident: resident.trim().to_owned(),
        consent_on,
        statement: consent.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        calendar::parse(s).unwrap()
    }

    #[test]
    fn windows_as_residents_write_them() {
        let (born, lapses) = (day("2026-12-04"), day("2027-01-03"));
        let w = parse_window("2026-12-20..2026-12-23", born, lapses).unwrap();
        assert_eq!(w, Window::days(day("2026-12-20"), day("2026-12-23")));
        let w = parse_window("ma-vr 18:00-22:00", born, lapses).unwrap();
        assert_eq!((w.from, w.to, w.weekdays), (born, lapses, 0b001_1111));
        assert_eq!((w.start_minute, w.end_minute), (1_080, 1_320));
        assert!(parse_window("2027-02-01", born, lapses).is_err());
        assert!(parse_window("22:00-18:00", born, lapses).is_err());
        assert!(parse_window("soms", born, lapses).is_err());
    }

    #[test]
    fn a_standing_offer_starts_on_its_weekday() {
        // 2026-12-04 is a Friday; the next Tuesday is the 8th.
        let r = parse_every("week", Some("di"), day("2026-12-04")).unwrap();
        assert_eq!(calendar::format(r.first), "2026-12-08");
        let r = parse_every("month", None, day("2026-12-04")).unwrap();
        assert_eq!(r.first, day("2026-12-04"));
    }

    #[test]
    fn past_windows_are_dropped_and_none_left_is_none() {
        let w = [
            Window::days(day("2026-12-01"), day("2026-12-02")),
            Window::days(day("2026-12-20"), day("2026-12-23")),
        ];
        let kept = fit_windows(&w, day("2026-12-10"), day("2027-01-01")).unwrap();
        assert_eq!(kept, [w[1]]);
        assert_eq!(fit_windows(&w, day("2026-12-24"), day("2027-01-01")), None);
        assert_eq!(
            fit_windows(&[], day("2026-12-24"), day("2027-01-01")),
            Some(vec![])
        );
    }
}
