//! Calendar days as the protocol counts them: whole days since 1970-01-01
//! (day 0), in the proleptic Gregorian calendar, without a time zone. A
//! listing's availability and a standing offer's dates are such days; what a
//! day means on a wall clock is the neighbourhood's own (the Netherlands).
//!
//! Pure arithmetic (the civil-from-days algorithm), so that the protocol
//! needs no date library and every node computes the same dates.

use crate::limits::DAY;

/// A calendar day: days since 1970-01-01.
pub type Day = u32;

/// The day that Unix time `t` falls on (UTC); 0 for times before 1970.
pub fn day_of(t: i64) -> Day {
    u32::try_from(t.max(0) / DAY).unwrap_or(u32::MAX)
}

/// Unix time of the start (00:00 UTC) of `day`.
pub fn start_of(day: Day) -> i64 {
    i64::from(day) * DAY
}

/// The weekday of `day`: 0 is Monday, 6 is Sunday (1970-01-01 was a Thursday).
pub fn weekday(day: Day) -> u8 {
    ((day + 3) % 7) as u8
}

/// `(year, month 1..=12, day of month 1..=31)` of `day`.
pub fn civil(day: Day) -> (i32, u8, u8) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

/// The day of `(year, month, day of month)`, or `None` for a date that does
/// not exist or lies before 1970.
pub fn from_civil(year: i32, month: u8, dom: u8) -> Option<Day> {
    if !(1..=12).contains(&month) || dom == 0 || dom > days_in_month(year, month) {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(dom) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Days in `month` of `year`.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `day` as `YYYY-MM-DD`.
pub fn format(day: Day) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD`.
pub fn parse(s: &str) -> Option<Day> {
    let mut parts = s.trim().splitn(3, '-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    from_civil(y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(format(0), "1970-01-01");
        assert_eq!(weekday(0), 3, "a Thursday");
        assert_eq!(parse("2026-12-21"), Some(20_808));
        assert_eq!(weekday(20_808), 0, "21 December 2026 is a Monday");
        assert_eq!(
            parse("2028-02-29").map(format).as_deref(),
            Some("2028-02-29")
        );
        assert_eq!(parse("2027-02-29"), None);
        assert_eq!(parse("1969-12-31"), None);
    }

    #[test]
    fn round_trip_over_four_centuries() {
        for day in (0..146_097 * 2).step_by(7) {
            let (y, m, d) = civil(day);
            assert_eq!(from_civil(y, m, d), Some(day));
        }
    }
}
