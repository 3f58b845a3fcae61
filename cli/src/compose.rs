//! Parsing what people type (prices, durations, topics) and composing signed
//! listings on the resident's side: the secret key never leaves this process.

use anyhow::{anyhow, bail, Context, Result};
use buurt_protocol::limits::DAY;
use buurt_protocol::{taxonomy, Money, Price};

/// Parses `30m`, `12h`, `3d`, `2w` into seconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().map_err(|_| {
        anyhow!("`{text}` is not a duration: use a number and m, h, d or w (3d, 12h, 2w)")
    })?;
    let secs = match unit {
        "m" | "min" => 60,
        "h" | "u" => 3_600,
        "d" | "" => DAY,
        "w" => 7 * DAY,
        _ => bail!("`{text}` is not a duration: use a number and m, h, d or w (3d, 12h, 2w)"),
    };
    let total = n
        .checked_mul(secs)
        .ok_or_else(|| anyhow!("`{text}` is too long"))?;
    if total <= 0 {
        bail!("`{text}`: a duration must be more than zero");
    }
    if total > 90 * DAY {
        bail!("`{text}`: a listing can run for at most 90 days");
    }
    Ok(total)
}

/// Parses an amount of money: `5`, `2.50`, `2,50`, `€2,50`, `EUR 2.50`,
/// `12 GBP`. The currency defaults to EUR.
pub fn parse_money(text: &str) -> Result<Money> {
    let mut t = text.trim().to_owned();
    let mut currency = "EUR".to_owned();
    for (sym, code) in [("€", "EUR"), ("£", "GBP"), ("$", "USD")] {
        if t.contains(sym) {
            t = t.replace(sym, "");
            currency = code.into();
        }
    }
    let letters: String = t.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    if !letters.is_empty() {
        if letters.len() != 3 {
            bail!("`{text}` is not an amount: write 2.50, €2,50 or 2.50 EUR");
        }
        currency = letters.to_ascii_uppercase();
        t.retain(|c| !c.is_ascii_alphabetic());
    }
    let t = t.trim().replace(',', ".");
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    let bad = || anyhow!("`{text}` is not an amount: write 2.50, €2,50 or 2.50 EUR");
    if whole.is_empty() && frac.is_empty() || frac.len() > 2 {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: u64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    let cents = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)?;
    if cents == 0 {
        bail!("`{text}`: an amount must be more than zero; leave --price out for free");
    }
    Ok(Money { cents, currency })
}

/// Parses a price with an optional unit: `5/dag`, `€2,50 per portie`.
pub fn parse_price(text: &str) -> Result<Price> {
    let (amount, unit) = if let Some((a, u)) = text.split_once('/') {
        (a, u)
    } else if let Some((a, u)) = text.split_once(" per ") {
        (a, u)
    } else {
        (text, "")
    };
    Ok(Price {
        amount: parse_money(amount)?,
        unit: unit.trim().to_owned(),
    })
}

/// Parses topics given as keys or Dutch/English labels.
pub fn parse_topics(given: &[String]) -> Result<Vec<String>> {
    if given.is_empty() {
        return Ok(vec!["other".into()]);
    }
    given
        .iter()
        .map(|t| {
            taxonomy::parse(t).map(|x| x.key.to_owned()).with_context(|| {
                format!("unknown topic `{t}`; `buurt topics` lists them (e.g. goods.tools, help.transport)")
            })
        })
        .collect()
}

/// Money as people read it: `EUR 2.50`.
pub fn show_money(m: &Money) -> String {
    format!("{} {}.{:02}", m.currency, m.cents / 100, m.cents % 100)
}

/// Parses `--hours`: `2`, `1.5`, `1,5`.
pub fn parse_hours(text: &str) -> Result<u64> {
    let h: f64 = text
        .trim()
        .replace(',', ".")
        .parse()
        .map_err(|_| anyhow!("`{text}` is not a number of hours (2, 1.5)"))?;
    if !(0.0..=2_160.0).contains(&h) {
        bail!("`{text}`: hours must be between 0 and 2160");
    }
    Ok((h * 60.0).round() as u64)
}

/// Parses a moment: a duration from now (`3d`, `12h`), a date
/// (`2026-12-05`, midnight UTC) or a date and time (`2026-12-05T14:00`,
/// UTC, or RFC 3339 with an offset).
pub fn parse_when(text: &str, t: i64) -> Result<i64> {
    if let Ok(d) = parse_duration(text) {
        return Ok(t + d);
    }
    let s = text.trim();
    if let Ok(dt) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(dt.unix_timestamp());
    }
    let bad = || {
        anyhow!(
            "`{text}` is not a moment: write 3d (from now), 2026-12-05 or 2026-12-05T14:00 (UTC)"
        )
    };
    let (date, clock) = s.split_once('T').unwrap_or((s, "00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i32>().map_err(|_| bad()));
    let (y, m, day) = (
        d.next().ok_or_else(bad)??,
        d.next().ok_or_else(bad)??,
        d.next().ok_or_else(bad)??,
    );
    let month = time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y, month, u8::try_from(day).map_err(|_| bad())?)
        .map_err(|_| bad())?;
    let (hh, mm) = clock.split_once(':').ok_or_else(bad)?;
    let tm = time::Time::from_hms(
        hh.parse().map_err(|_| bad())?,
        mm.parse().map_err(|_| bad())?,
        0,
    )
    .map_err(|_| bad())?;
    Ok(date.with_time(tm).assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3d").unwrap(), 3 * DAY);
        assert_eq!(parse_duration("12h").unwrap(), 12 * 3_600);
        assert_eq!(parse_duration("2w").unwrap(), 14 * DAY);
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("91d").is_err());
        assert!(parse_duration("99999999999999999w").is_err());
    }

    #[test]
    fn money() {
        assert_eq!(parse_money("5").unwrap().cents, 500);
        assert_eq!(parse_money("2.5").unwrap().cents, 250);
        assert_eq!(
            parse_money("€2,50").unwrap(),
            Money {
                cents: 250,
                currency: "EUR".into()
            }
        );
        assert_eq!(
            parse_money("12 gbp").unwrap(),
            Money {
                cents: 1_200,
                currency: "GBP".into()
            }
        );
        assert!(parse_money("2.505").is_err());
        assert!(parse_money("abc").is_err());
        assert!(parse_money("0").is_err());
        let p = parse_price("€5/dag").unwrap();
        assert_eq!((p.amount.cents, p.unit.as_str()), (500, "dag"));
        let p = parse_price("3 per portie").unwrap();
        assert_eq!((p.amount.cents, p.unit.as_str()), (300, "portie"));
    }

    #[test]
    fn topics() {
        assert_eq!(
            parse_topics(&["Gereedschap".into()]).unwrap(),
            ["goods.tools"]
        );
        assert_eq!(parse_topics(&[]).unwrap(), ["other"]);
        assert!(parse_topics(&["drills".into()]).is_err());
    }

    #[test]
    fn hours_and_moments() {
        assert_eq!(parse_hours("2").unwrap(), 120);
        assert_eq!(parse_hours("1,5").unwrap(), 90);
        assert!(parse_hours("twee").is_err() && parse_hours("-1").is_err());
        let t = 1_767_225_600; // 2026-01-01T00:00:00Z
        assert_eq!(parse_when("3d", t).unwrap(), t + 3 * DAY);
        assert_eq!(parse_when("2026-01-02", t).unwrap(), t + DAY);
        assert_eq!(
            parse_when("2026-01-02T14:30", t).unwrap(),
            t + DAY + 14 * 3_600 + 1_800
        );
        assert_eq!(
            parse_when("2026-01-02T14:30:00+01:00", t).unwrap(),
            t + DAY + 13 * 3_600 + 1_800
        );
        assert!(parse_when("zaterdag", t).is_err());
        assert!(parse_when("2026-13-01", t).is_err());
    }
}
