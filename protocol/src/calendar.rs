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

/// Dutch weekday abbreviations, Monday first, as residents write them.
pub const WEEKDAYS_NL: [&str; 7] = ["ma", "di", "wo", "do", "vr", "za", "zo"];
/// English weekday abbreviations, Monday first.
pub const WEEKDAYS_EN: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The weekday named `s` (Dutch or English, any case): 0 is Monday.
pub fn parse_weekday(s: &str) -> Option<u8> {
    let s = s.trim().to_ascii_lowercase();
    (0..7u8).find(|&i| {
        let (nl, en) = (WEEKDAYS_NL[usize::from(i)], WEEKDAYS_EN[usize::from(i)]);
        s == nl || s == en || (s.len() > 3 && s.starts_with(en))
    })
}

/// A weekday mask (bit 0 Monday) from `ma-vr`, `za,zo`, `di` or a mix
/// (`ma-wo,vr`); `None` when a part is not a weekday.
pub fn parse_weekdays(s: &str) -> Option<u8> {
    let mut mask = 0u8;
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse_weekday(a)?, parse_weekday(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << parse_weekday(part)?,
        }
    }
    Some(mask)
}

/// A weekday mask in Dutch: `ma-vr`, `za,zo`, `ma,wo,vr`; empty for every day.
pub fn format_weekdays(mask: u8) -> String {
    if mask & 0x7F == 0x7F {
        return String::new();
    }
    let mut parts = Vec::new();
    let mut d = 0;
    while d < 7 {
        if mask & (1 << d) == 0 {
            d += 1;
            continue;
        }
        let start = d;
        while d + 1 < 7 && mask & (1 << (d + 1)) != 0 {
            d += 1;
        }
        parts.push(match d - start {
            0 => WEEKDAYS_NL[start].to_owned(),
            1 => format!("{},{}", WEEKDAYS_NL[start], WEEKDAYS_NL[d]),
            _ => format!("{}-{}", WEEKDAYS_NL[start], WEEKDAYS_NL[d]),
        });
        d += 1;
    }
    parts.join(",")
}

/// Minutes after midnight as `HH:MM` (1440 is `24:00`).
pub fn format_minutes(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `HH:MM` (or `H:MM`, or `24:00`) as minutes after midnight.
pub fn parse_minutes(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
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
    fn weekdays_and_times() {
        assert_eq!(parse_weekdays("ma-vr"), Some(0b001_1111));
        assert_eq!(parse_weekdays("za,zo"), Some(0b110_0000));
        assert_eq!(parse_weekdays("vr-ma"), Some(0b111_0001));
        assert_eq!(parse_weekdays("tuesday"), Some(0b10));
        assert_eq!(parse_weekdays("maandag"), None);
        assert_eq!(format_weekdays(0b001_1111), "ma-vr");
        assert_eq!(format_weekdays(0b110_0000), "za,zo");
        assert_eq!(format_weekdays(0b101_0101), "ma,wo,vr,zo");
        assert_eq!(format_weekdays(0x7F), "");
        assert_eq!(parse_minutes("18:00"), Some(1_080));
        assert_eq!(parse_minutes("24:00"), Some(1_440));
        assert_eq!(parse_minutes("24:01"), None);
        assert_eq!(format_minutes(1_320), "22:00");
    }

    #[test]
    fn round_trip_over_four_centuries() {
        for day in (0..146_097 * 2).step_by(7) {
            let (y, m, d) = civil(day);
            assert_eq!(from_civil(y, m, d), Some(day));
        }
    }
}
