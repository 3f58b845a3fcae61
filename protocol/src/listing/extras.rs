//! What a version-2 listing carries beyond version 1: availability windows,
//! a standing offer's rhythm, a broker's posting on a resident's behalf, a
//! photo's hash, and the circle a private listing belongs to
//! (protocol.md, section 5, "Version 2").
//!
//! A listing without any of them is encoded as version 1, byte for byte as
//! before, so old listings and old nodes are unaffected.

use serde::{Deserialize, Serialize};

use crate::calendar::{self, Day};
use crate::codec::{DecodeError, Reader, Writer};

/// Most availability windows on one listing.
pub const MAX_WINDOWS: usize = 8;
/// Longest resident name or initials on a listing posted on their behalf.
pub const MAX_RESIDENT_CHARS: usize = 32;
/// Longest consent statement, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 500;
/// Largest photo, in bytes.
pub const MAX_PHOTO_BYTES: u32 = 300 * 1024;
/// Every weekday, Monday (bit 0) to Sunday (bit 6).
pub const ALL_WEEKDAYS: u8 = 0x7F;
/// Minutes in a day: a window's `end_minute` of 1440 means midnight.
pub const MINUTES_PER_DAY: u16 = 1_440;

/// The version-2 additions; all empty is a version-1 listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extras {
    /// When the thing or help can be had; empty means whenever the listing
    /// is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability: Vec<Window>,
    /// A standing offer's rhythm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Recurrence>,
    /// Posted by a broker for a resident without a device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behalf: Option<Behalf>,
    /// The one photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<Photo>,
    /// The private circle this listing was written for. A node never stores
    /// or passes on such a listing in clear: it travels sealed, as mail.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex16")]
    pub circle: Option<[u8; 16]>,
}

/// Days (inclusive), on some weekdays, between two times of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: Day,
    pub to: Day,
    /// Bit 0 Monday … bit 6 Sunday; [`ALL_WEEKDAYS`] for every day.
    pub weekdays: u8,
    /// Minutes after midnight; `0..1440` is the whole day.
    pub start_minute: u16,
    pub end_minute: u16,
}

impl Window {
    /// Whole days `from..=to`, every weekday.
    pub fn days(from: Day, to: Day) -> Window {
        Window {
            from,
            to,
            weekdays: ALL_WEEKDAYS,
            start_minute: 0,
            end_minute: MINUTES_PER_DAY,
        }
    }

    /// True when `day` lies in the window and is one of its weekdays.
    pub fn covers(&self, day: Day) -> bool {
        self.from <= day && day <= self.to && self.weekdays & (1 << calendar::weekday(day)) != 0
    }
}

/// How often a standing offer comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Week,
    Fortnight,
    Month,
}

impl Period {
    pub fn code(self) -> u8 {
        match self {
            Period::Week => 0,
            Period::Fortnight => 1,
            Period::Month => 2,
        }
    }

    pub fn from_code(c: u8) -> Option<Period> {
        [Period::Week, Period::Fortnight, Period::Month]
            .into_iter()
            .find(|p| p.code() == c)
    }
}

/// A standing offer: it happens on `first` and then every period; for a
/// month, on the same weekday of the same week of the month (the second
/// Tuesday), skipping months that have no such day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub period: Period,
    pub first: Day,
    /// Paused: not renewed, and not found by search until resumed.
    pub paused: bool,
}

impl Recurrence {
    /// The first `n` occurrences on or after `from`.
    pub fn next(&self, from: Day, n: usize) -> Vec<Day> {
        let mut out = Vec::with_capacity(n);
        match self.period {
            Period::Week | Period::Fortnight => {
                let step = if self.period == Period::Week { 7 } else { 14 };
                let mut d = if from <= self.first {
                    self.first
                } else {
                    self.first + (from - self.first).div_ceil(step) * step
                };
                while out.len() < n {
                    out.push(d);
                    d += step;
                }
            }
            Period::Month => {
                let (mut y, mut m, dom) = calendar::civil(self.first);
                let week = (dom - 1) / 7;
                let wd = calendar::weekday(self.first);
                // Bounded: at most 12 months are skipped for any n.
                for _ in 0..(n * 2 + 12) {
                    if out.len() == n {
                        break;
                    }
                    if let Some(day) = nth_weekday(y, m, wd, week) {
                        if day >= from && day >= self.first {
                            out.push(day);
                        }
                    }
                    (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                }
            }
        }
        out
    }
}

/// The `week`-th (0-based) weekday `wd` of a month, if the month has one.
fn nth_weekday(year: i32, month: u8, wd: u8, week: u8) -> Option<Day> {
    let first = calendar::from_civil(year, month, 1)?;
    let offset = (7 + wd - calendar::weekday(first)) % 7;
    let dom = 1 + offset + 7 * week;
    (dom <= calendar::days_in_month(year, month)).then(|| first + u32::from(offset + 7 * week))
}

/// A listing a broker posted for a resident, with the resident's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behalf {
    /// A first name or initials ("mevrouw J."), never contact details.
    pub resident: String,
    /// The day the resident consented.
    pub consent_on: Day,
    /// The broker's statement of that consent.
    pub statement: String,
}

/// The kind of image a photo is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Media {
    Jpeg,
    Png,
    Webp,
}

impl Media {
    pub fn code(self) -> u8 {
        match self {
            Media::Jpeg => 0,
            Media::Png => 1,
            Media::Webp => 2,
        }
    }

    pub fn from_code(c: u8) -> Option<Media> {
        [Media::Jpeg, Media::Png, Media::Webp]
            .into_iter()
            .find(|m| m.code() == c)
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Media::Jpeg => "image/jpeg",
            Media::Png => "image/png",
            Media::Webp => "image/webp",
        }
    }

    /// The kind of image `bytes` start like, by their magic numbers.
    pub fn sniff(bytes: &[u8]) -> Option<Media> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Media::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Media::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Media::Webp)
        } else {
            None
        }
    }
}

/// A photo by its content: SHA-256 and size of the exact image bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Photo {
    /// SHA-256 of the image bytes, 64 hex characters.
    #[serde(with = "hex32")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sha256: [u8; 32],
    pub size: u32,
    pub media: Media,
}

impl Extras {
    /// True for a version-1 listing.
    pub fn is_empty(&self) -> bool {
        *self == Extras::default()
    }

    /// True when the listing can be had on `day` (always, without windows).
    pub fn available_on(&self, day: Day) -> bool {
        self.availability.is_empty() || self.availability.iter().any(|w| w.covers(day))
    }

    /// The windows with the days `from..=to` taken out; without windows,
    /// the listing's life `life_from..=life_to` stands for them. Used when an
    /// accepted agreement makes those days unavailable.
    pub fn without_days(&self, from: Day, to: Day, life_from: Day, life_to: Day) -> Vec<Window> {
        let windows = if self.availability.is_empty() {
            vec![Window::days(life_from, life_to)]
        } else {
            self.availability.clone()
        };
        let mut out = Vec::new();
        for w in windows {
            if to < w.from || from > w.to {
                out.push(w);
                continue;
            }
            if w.from < from {
                out.push(Window { to: from - 1, ..w });
            }
            if to < w.to {
                out.push(Window { from: to + 1, ..w });
            }
        }
        out
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        super::count(w, self.availability.len(), "availability");
        for win in &self.availability {
            w.u32(win.from);
            w.u32(win.to);
            w.u8(win.weekdays);
            w.u16(win.start_minute);
            w.u16(win.end_minute);
        }
        match &self.every {
            None => w.u8(0),
            Some(r) => {
                w.u8(1);
                w.u8(r.period.code());
                w.u32(r.first);
                w.u8(u8::from(r.paused));
            }
        }
        match &self.behalf {
            None => w.u8(0),
            Some(b) => {
                w.u8(1);
                w.str8(&b.resident, "resident");
                w.u32(b.consent_on);
                w.str16(&b.statement, "statement");
            }
        }
        match &self.photo {
            None => w.u8(0),
            Some(p) => {
                w.u8(1);
                w.bytes(&p.sha256);
                w.u32(p.size);
                w.u8(p.media.code());
            }
        }
        match &self.circle {
            None => w.u8(0),
            Some(c) => {
                w.u8(1);
                w.bytes(c);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Extras, DecodeError> {
        let n = r.u8("availability")?;
        let mut availability = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            availability.push(Window {
                from: r.u32("window")?,
                to: r.u32("window")?,
                weekdays: r.u8("window")?,
                start_minute: r.u16("window")?,
                end_minute: r.u16("window")?,
            });
        }
        let every = if r.option("every")? {
            let period = super::read_enum(r, "period", Period::from_code)?;
            let first = r.u32("first")?;
            let paused = super::read_enum(r, "paused", |c| match c {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            })?;
            Some(Recurrence {
                period,
                first,
                paused,
            })
        } else {
            None
        };
        let behalf = if r.option("behalf")? {
            Some(Behalf {
                resident: r.str8("resident")?,
                consent_on: r.u32("consent_on")?,
                statement: r.str16("statement")?,
            })
        } else {
            None
        };
        let photo = if r.option("photo")? {
            Some(Photo {
                sha256: r.array("photo")?,
                size: r.u32("photo size")?,
                media: super::read_enum(r, "media", Media::from_code)?,
            })
        } else {
            None
        };
        let circle = if r.option("circle")? {
            Some(r.array("circle")?)
        } else {
            None
        };
        Ok(Extras {
            availability,
            every,
            behalf,
            photo,
            circle,
        })
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

mod opt_hex16 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 16]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&hex::encode(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 16]>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let mut out = [0u8; 16];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse;

    fn day(s: &str) -> Day {
        parse(s).unwrap()
    }

    /// The next `n` dates of `r` from `from`, as text.
    fn dates(r: &Recurrence, from: Day, n: usize) -> Vec<String> {
        r.next(from, n).into_iter().map(calendar::format).collect()
    }

    #[test]
    fn weekly_and_fortnightly_dates_follow_the_first() {
        let r = Recurrence {
            period: Period::Week,
            first: day("2026-12-01"),
            paused: false,
        };
        let next = dates(&r, day("2026-12-09"), 3);
        assert_eq!(next, ["2026-12-15", "2026-12-22", "2026-12-29"]);
        let r = Recurrence {
            period: Period::Fortnight,
            ..r
        };
        let next = dates(&r, day("2026-11-01"), 2);
        assert_eq!(next, ["2026-12-01", "2026-12-15"]);
    }

    #[test]
    fn monthly_dates_keep_the_weekday_of_the_week_of_the_month() {
        // 2026-12-08 is the second Tuesday of December.
        let r = Recurrence {
            period: Period::Month,
            first: day("2026-12-08"),
            paused: false,
        };
        let next = dates(&r, day("2026-12-09"), 3);
        assert_eq!(next, ["2027-01-12", "2027-02-09", "2027-03-09"]);
        // A fifth Tuesday skips the months without one.
        let r = Recurrence {
            first: day("2026-12-29"),
            ..r
        };
        let next = dates(&r, day("2026-12-29"), 2);
        assert_eq!(next, ["2026-12-29", "2027-03-30"]);
    }

    #[test]
    fn taking_days_out_splits_a_window() {
        let e = Extras {
            availability: vec![Window::days(day("2026-12-20"), day("2026-12-23"))],
            ..Extras::default()
        };
        let left = e.without_days(day("2026-12-21"), day("2026-12-22"), 0, 0);
        assert_eq!(
            left,
            [
                Window::days(day("2026-12-20"), day("2026-12-20")),
                Window::days(day("2026-12-23"), day("2026-12-23"))
            ]
        );
        let open = Extras::default();
        let left = open.without_days(
            day("2026-12-20"),
            day("2026-12-23"),
            day("2026-12-01"),
            day("2027-01-31"),
        );
        assert_eq!(left.len(), 2);
        assert!(!Extras {
            availability: left,
            ..Extras::default()
        }
        .available_on(day("2026-12-21")));
    }

    #[test]
    fn weekdays_narrow_a_window() {
        let w = Window {
            weekdays: 0b001_1111,
            ..Window::days(day("2026-12-01"), day("2026-12-31"))
        };
        assert!(w.covers(day("2026-12-04")), "a Friday");
        assert!(!w.covers(day("2026-12-05")), "a Saturday");
        assert!(!w.covers(day("2027-01-01")));
    }
}
