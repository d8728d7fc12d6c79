//! Dates, times, timestamps and durations in the exact text `to_jsonb` gives their Postgres types.
//!
//! `to_jsonb(date)` is `"2023-06-21"`, `to_jsonb(daterange)` is the canonical half-open form
//! `"[2019-06-03,2019-06-08)"`, `to_jsonb(time)` is `"16:42:00"`, `to_jsonb(interval)` with the
//! default IntervalStyle is `"25:01:01"`. `to_jsonb(timestamptz)` follows the session TimeZone; the
//! codec is immutable, so it always renders UTC (`"2026-03-21T08:47:10+00:00"`), which is what a
//! session with `TimeZone = 'UTC'` prints.

use compact_str::CompactString;

/// A calendar date (proleptic Gregorian, years 1..=9999 — monday never stores others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, b| {
        acc.checked_mul(10)?.checked_add((b - b'0') as u32)
    })
}

impl Date {
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// `YYYY-MM-DD`, optionally followed by a time part (`T…` or ` …`) that is ignored.
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        if b.len() > 10 && b[10] != b'T' && b[10] != b' ' {
            return None;
        }
        Date::new(
            digits(&b[0..4])? as i32,
            digits(&b[5..7])?,
            digits(&b[8..10])?,
        )
    }

    /// The next day (for turning monday's inclusive end dates into a canonical range bound).
    pub fn succ(self) -> Date {
        if self.day < days_in_month(self.year, self.month) {
            Date {
                day: self.day + 1,
                ..self
            }
        } else if self.month < 12 {
            Date {
                month: self.month + 1,
                day: 1,
                ..self
            }
        } else {
            Date {
                year: self.year + 1,
                month: 1,
                day: 1,
            }
        }
    }

    /// The previous day; `None` before 0001-01-01.
    pub fn pred(self) -> Option<Date> {
        let d = Date::from_days_since_epoch(self.days_from_epoch() - 1);
        (d.year >= 1).then_some(d)
    }

    /// The next day; `None` after 9999-12-31 (unlike [`Date::succ`], which only range ends use).
    pub fn checked_succ(self) -> Option<Date> {
        let d = self.succ();
        (d.year <= 9999).then_some(d)
    }

    /// Day of the week, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
    pub fn weekday(self) -> u32 {
        (self.days_from_epoch() + 3).rem_euclid(7) as u32
    }

    /// Days since 1970-01-01 (H. Hinnant's days_from_civil).
    pub fn days_from_epoch(self) -> i64 {
        let y = self.year as i64 - if self.month <= 2 { 1 } else { 0 };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    pub fn from_days_since_epoch(z: i64) -> Date {
        let z = z + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + if month <= 2 { 1 } else { 0 }) as i32;
        Date { year, month, day }
    }

    pub fn to_iso(self) -> CompactString {
        compact_str::format_compact!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The canonical text of a `daterange` built from monday's *inclusive* bounds.
/// `None` bounds are unbounded. Returns `None` when lower > upper (Postgres rejects that range).
pub fn daterange_inclusive(lower: Option<Date>, upper: Option<Date>) -> Option<CompactString> {
    if let (Some(l), Some(u)) = (lower, upper) {
        if l > u {
            return None;
        }
    }
    let mut s = CompactString::default();
    match lower {
        Some(l) => {
            s.push('[');
            s.push_str(&l.to_iso());
        }
        None => s.push('('),
    }
    s.push(',');
    if let Some(u) = upper {
        s.push_str(&u.succ().to_iso());
    }
    s.push(')');
    Some(s)
}

/// A `daterange` as its inclusive first and last days (`None` = unbounded), or empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRange {
    Empty,
    Days {
        first: Option<Date>,
        last: Option<Date>,
    },
}

/// Why a text is not a `daterange` of days monday can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeError {
    /// Not range text, or a bound that is not a `YYYY-MM-DD` date.
    Format,
    /// A bound is `infinity`/`-infinity`, or the range reaches outside years 1..=9999.
    Overflow,
    /// The lower bound is after the upper one (Postgres rejects such a range too).
    Reversed,
}

/// Parses `daterange` text as `range_in` does: `empty`, or `[`/`(` lower `,` upper `]`/`)` with
/// either bound possibly missing (unbounded) or double-quoted. `to_jsonb` always gives the
/// canonical `[first,next)` form (`"[2019-06-03,2019-06-08)"`); the other bracket forms are
/// converted to inclusive days the way Postgres canonicalises them.
pub fn parse_daterange(s: &str) -> Result<DateRange, RangeError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("empty") {
        return Ok(DateRange::Empty);
    }
    let b = t.as_bytes();
    if b.len() < 3 {
        return Err(RangeError::Format);
    }
    let lower_inclusive = match b[0] {
        b'[' => true,
        b'(' => false,
        _ => return Err(RangeError::Format),
    };
    let upper_inclusive = match b[b.len() - 1] {
        b']' => true,
        b')' => false,
        _ => return Err(RangeError::Format),
    };
    let inner = &t[1..t.len() - 1];
    let (lo, hi) = inner.split_once(',').ok_or(RangeError::Format)?;
    let unquote = |text: &str| -> String {
        let text = text.trim();
        match text.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            Some(unquoted) => unquoted.trim().to_string(),
            None => text.to_string(),
        }
    };
    let bound = |text: &str| -> Result<Option<Date>, RangeError> {
        if text.is_empty() {
            return Ok(None);
        }
        let b = text.as_bytes();
        let year_past_9999 = b.len() > 10 && b[..5].iter().all(u8::is_ascii_digit);
        if text.eq_ignore_ascii_case("infinity")
            || text.eq_ignore_ascii_case("-infinity")
            || text.ends_with(" BC")
            || year_past_9999
        {
            return Err(RangeError::Overflow);
        }
        // Exactly a date: a time part would be silently dropped by Date::parse.
        if text.len() != 10 {
            return Err(RangeError::Format);
        }
        Date::parse(text).map(Some).ok_or(RangeError::Format)
    };
    let (lo, hi) = (unquote(lo), unquote(hi));
    // A range that ends on 9999-12-31 prints its exclusive upper bound as the day after.
    let ends_last_day = !upper_inclusive && hi == "10000-01-01";
    let lower = bound(&lo)?;
    let upper = if ends_last_day { None } else { bound(&hi)? };
    if let (Some(l), Some(u)) = (lower, upper) {
        if l > u {
            return Err(RangeError::Reversed);
        }
    }
    // Exclusive bounds move one day inwards. A bound that then leaves years 1..=9999 either
    // empties the range (the other bound is inside it) or makes it reach outside monday's dates.
    let first = match lower {
        Some(l) if !lower_inclusive => match l.checked_succ() {
            Some(d) => Some(d),
            None if upper.is_some() => return Ok(DateRange::Empty),
            None => return Err(RangeError::Overflow),
        },
        other => other,
    };
    let last = match upper {
        _ if ends_last_day => Date::new(9999, 12, 31),
        Some(u) if !upper_inclusive => match u.pred() {
            Some(d) => Some(d),
            None if lower.is_some() => return Ok(DateRange::Empty),
            None => return Err(RangeError::Overflow),
        },
        other => other,
    };
    if let (Some(f), Some(l)) = (first, last) {
        if f > l {
            return Ok(DateRange::Empty);
        }
    }
    Ok(DateRange::Days { first, last })
}

/// Parses `time` text as `to_jsonb(time)` prints it: `HH:MM:SS` with optional `.ffffff`, or
/// `HH:MM`. Returns (hour, minute, second, microseconds); `24:00:00` is a valid `time`.
pub fn parse_time(s: &str) -> Option<(u32, u32, u32, u32)> {
    let b = s.trim().as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let hour = digits(&b[0..2])?;
    let minute = digits(&b[3..5])?;
    let (mut second, mut micros) = (0, 0);
    if b.len() > 5 {
        if b.len() < 8 || b[5] != b':' {
            return None;
        }
        second = digits(&b[6..8])?;
        if b.len() > 8 {
            let frac = b[8..].strip_prefix(b".")?;
            if frac.is_empty() || frac.len() > 6 {
                return None;
            }
            micros = digits(frac)? * 10u32.pow(6 - frac.len() as u32);
        }
    }
    let valid = (hour < 24 && minute < 60 && second < 60)
        || (hour == 24 && minute == 0 && second == 0 && micros == 0);
    valid.then_some((hour, minute, second, micros))
}

/// `time` text for an hour and minute.
pub fn time_of_day(hour: i64, minute: i64) -> Option<CompactString> {
    if !(0..=23).contains(&hour) || !(0..=59).contains(&minute) {
        return None;
    }
    Some(compact_str::format_compact!("{hour:02}:{minute:02}:00"))
}

/// `interval` text (IntervalStyle = postgres) of a number of seconds: `make_interval(secs => n)`.
pub fn interval_seconds(secs: i64) -> CompactString {
    let sign = if secs < 0 { "-" } else { "" };
    let a = secs.unsigned_abs();
    compact_str::format_compact!("{sign}{:02}:{:02}:{:02}", a / 3600, (a / 60) % 60, a % 60)
}

/// Parses the timestamp forms monday uses and renders the instant in UTC, as
/// `to_jsonb(timestamptz)` does in a UTC session: `2026-03-21T08:47:10.123+00:00`.
///
/// Accepted: ISO-8601 `YYYY-MM-DDTHH:MM[:SS[.f…]]` with `Z`, `±HH`, `±HHMM` or `±HH:MM`; the same with a
/// space instead of `T`; a trailing ` UTC` (the `text` form) or ` +0000` (webhook form). A value
/// without any zone is UTC: monday's stored values are UTC.
pub fn timestamptz_utc(s: &str) -> Option<CompactString> {
    let total_micros = epoch_micros(s)?;
    let d = Date::from_days_since_epoch(total_micros.div_euclid(86_400_000_000));
    let day_micros = total_micros.rem_euclid(86_400_000_000);
    let secs = day_micros / 1_000_000;
    let us = day_micros % 1_000_000;
    let mut out = compact_str::format_compact!(
        "{}T{:02}:{:02}:{:02}",
        d.to_iso(),
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    if us != 0 {
        let frac = format!("{us:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str("+00:00");
    Some(out)
}

/// The instant of a timestamp in any form [`timestamptz_utc`] accepts, as microseconds since
/// 1970-01-01T00:00:00Z. `None` when the text is not such a timestamp or the instant falls outside
/// years 1..=9999 (UTC).
pub fn epoch_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = Date::parse(s)?;
    let b = s.as_bytes();
    if b.len() == 10 {
        return Some(date.days_from_epoch() * 86_400_000_000);
    }
    let rest = &s[11..];
    let rb = rest.as_bytes();
    if rb.len() < 5 || rb[2] != b':' {
        return None;
    }
    let hour = digits(&rb[0..2])? as i64;
    let minute = digits(&rb[3..5])? as i64;
    let mut i = 5;
    let mut second = 0i64;
    let mut micros = 0i64;
    if rb.len() >= 8 && rb[5] == b':' {
        second = digits(&rb[6..8])? as i64;
        i = 8;
        if i < rb.len() && rb[i] == b'.' {
            i += 1;
            let start = i;
            while i < rb.len() && rb[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            // Microseconds, rounded half up as timestamptz_in does.
            let frac = &rest[start..i];
            let mut padded: String = frac.chars().take(7).collect();
            while padded.len() < 7 {
                padded.push('0');
            }
            let seven: i64 = padded.parse().ok()?;
            micros = (seven + 5) / 10;
        }
    }
    if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute | second | micros) != 0) {
        return None;
    }
    let zone = rest[i..].trim_start();
    let offset_secs: i64 =
        if zone.is_empty() || zone == "Z" || zone == "z" || zone.eq_ignore_ascii_case("UTC") {
            0
        } else {
            let zb = zone.as_bytes();
            let sign = match zb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = &zone[1..];
            let (h, m) = match z.len() {
                2 => (digits(z.as_bytes())?, 0),
                4 => (digits(&z.as_bytes()[0..2])?, digits(&z.as_bytes()[2..4])?),
                5 if z.as_bytes()[2] == b':' => {
                    (digits(&z.as_bytes()[0..2])?, digits(&z.as_bytes()[3..5])?)
                }
                _ => return None,
            };
            if h > 15 || m > 59 {
                return None;
            }
            sign * (h as i64 * 3600 + m as i64 * 60)
        };

    let total_micros = ((date.days_from_epoch() * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs)
        * 1_000_000)
        + micros;
    let d = Date::from_days_since_epoch(total_micros.div_euclid(86_400_000_000));
    if !(1..=9999).contains(&d.year) {
        return None;
    }
    Some(total_micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(Date::parse("2023-06-21").unwrap().to_iso(), "2023-06-21");
        assert_eq!(
            Date::parse("2024-02-29").unwrap().succ().to_iso(),
            "2024-03-01"
        );
        assert_eq!(
            Date::parse("2019-12-31").unwrap().succ().to_iso(),
            "2020-01-01"
        );
        assert_eq!(
            Date::parse("2026-06-15T09:00:00Z").unwrap().to_iso(),
            "2026-06-15"
        );
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "2023-6-1",
            "20230621",
            "",
            "2023-06-21x",
            "abcd-ef-gh",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
        for days in [-1000_i64, 0, 1, 19_000, 2_932_896] {
            assert_eq!(Date::from_days_since_epoch(days).days_from_epoch(), days);
        }
    }

    #[test]
    fn ranges() {
        let d = |s| Date::parse(s);
        assert_eq!(
            daterange_inclusive(d("2019-06-03"), d("2019-06-07")).unwrap(),
            "[2019-06-03,2019-06-08)"
        );
        assert_eq!(
            daterange_inclusive(d("2019-06-03"), d("2019-06-03")).unwrap(),
            "[2019-06-03,2019-06-04)"
        );
        assert_eq!(
            daterange_inclusive(d("2019-06-03"), None).unwrap(),
            "[2019-06-03,)"
        );
        assert_eq!(
            daterange_inclusive(None, d("2019-06-03")).unwrap(),
            "(,2019-06-04)"
        );
        assert!(daterange_inclusive(d("2019-06-04"), d("2019-06-03")).is_none());
    }

    #[test]
    fn timestamps_render_in_utc() {
        let cases = [
            ("2026-03-21T08:47:10Z", "2026-03-21T08:47:10+00:00"),
            ("2024-11-19T13:43:36.060Z", "2024-11-19T13:43:36.06+00:00"),
            ("2026-03-21 08:47:10 UTC", "2026-03-21T08:47:10+00:00"),
            ("2025-02-04 19:20:54 +0000", "2025-02-04T19:20:54+00:00"),
            ("2026-01-01T01:30:00+02:00", "2025-12-31T23:30:00+00:00"),
            ("2026-01-01T23:30:00-0130", "2026-01-02T01:00:00+00:00"),
            (
                "2026-01-01T00:00:00.0000005Z",
                "2026-01-01T00:00:00.000001+00:00",
            ),
            ("2026-01-01", "2026-01-01T00:00:00+00:00"),
        ];
        for (input, want) in cases {
            assert_eq!(timestamptz_utc(input).as_deref(), Some(want), "{input}");
        }
        for bad in [
            "yesterday",
            "2026-01-01T",
            "2026-01-01T25:00:00Z",
            "2026-01-01T10:00:00 CET",
            "2026-01-01T10:00:00+1",
        ] {
            assert!(timestamptz_utc(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn epoch_micros_of_each_form() {
        for (input, want) in [
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01", 0),
            ("2025-02-04 19:20:54 +0000", 1_738_696_854_000_000),
            ("2025-02-04T19:20:54.000Z", 1_738_696_854_000_000),
            ("2025-02-05T17:52:13.231Z", 1_738_777_933_231_000),
            ("2025-02-05T18:52:13.231+01:00", 1_738_777_933_231_000),
            ("1969-12-31T23:59:59Z", -1_000_000),
            ("0001-01-01T00:00:00Z", -62_135_596_800_000_000),
        ] {
            assert_eq!(epoch_micros(input), Some(want), "{input}");
        }
        // Outside years 1..=9999 once shifted to UTC.
        assert_eq!(epoch_micros("0001-01-01T00:00:00+01:00"), None);
        assert_eq!(epoch_micros("9999-12-31T23:30:00-01:00"), None);
        assert_eq!(epoch_micros("yesterday"), None);
    }

    #[test]
    fn neighbours_and_weekdays() {
        let d = |s| Date::parse(s).unwrap();
        assert_eq!(d("2024-03-01").pred().unwrap().to_iso(), "2024-02-29");
        assert_eq!(d("2020-01-01").pred().unwrap().to_iso(), "2019-12-31");
        assert!(d("0001-01-01").pred().is_none());
        assert!(d("9999-12-31").checked_succ().is_none());
        assert_eq!(d("1970-01-01").weekday(), 3); // Thursday
        assert_eq!(d("2019-06-10").weekday(), 0); // Monday
        assert_eq!(d("2019-06-16").weekday(), 6); // Sunday
        assert_eq!(d("0001-01-01").weekday(), 0); // Monday, proleptic Gregorian
    }

    #[test]
    fn dateranges_as_range_in_reads_them() {
        let days = |a: &str, b: &str| DateRange::Days {
            first: Date::parse(a),
            last: Date::parse(b),
        };
        let cases = [
            ("[2019-06-03,2019-06-08)", days("2019-06-03", "2019-06-07")),
            ("[2019-06-03,2019-06-07]", days("2019-06-03", "2019-06-07")),
            ("(2019-06-02,2019-06-08)", days("2019-06-03", "2019-06-07")),
            (
                " [\"2019-06-03\", \"2019-06-04\") ",
                days("2019-06-03", "2019-06-03"),
            ),
            ("[2019-06-03,)", days("2019-06-03", "")),
            ("(,2019-06-04)", days("", "2019-06-03")),
            ("(,)", days("", "")),
            ("empty", DateRange::Empty),
            ("EMPTY", DateRange::Empty),
            ("[2019-06-03,2019-06-03)", DateRange::Empty),
            ("(2019-06-03,2019-06-04)", DateRange::Empty),
            ("[9999-12-31,9999-12-31]", days("9999-12-31", "9999-12-31")),
            ("(9999-12-31,9999-12-31]", DateRange::Empty),
            ("[0001-01-01,0001-01-01)", DateRange::Empty),
            ("[9999-12-31,10000-01-01)", days("9999-12-31", "9999-12-31")),
        ];
        for (input, want) in cases {
            assert_eq!(parse_daterange(input), Ok(want), "{input}");
        }
        for bad in [
            "",
            "[]",
            "2019-06-03",
            "[2019-06-03 2019-06-08)",
            "{2019-06-03,2019-06-08)",
            "[2019-06-03,2019-06-08",
            "[2019-6-3,2019-06-08)",
            "[2019-06-03T00:00,2019-06-08)",
            "[2019-02-30,2019-06-08)",
        ] {
            assert_eq!(parse_daterange(bad), Err(RangeError::Format), "{bad}");
        }
        assert_eq!(
            parse_daterange("[2019-06-03,infinity)"),
            Err(RangeError::Overflow)
        );
        assert_eq!(parse_daterange("(9999-12-31,)"), Err(RangeError::Overflow));
        assert_eq!(
            parse_daterange("[2019-06-03,10000-01-02)"),
            Err(RangeError::Overflow)
        );
        assert_eq!(
            parse_daterange("[2019-06-03,10000-01-01]"),
            Err(RangeError::Overflow)
        );
        assert_eq!(
            parse_daterange("[0044-03-15 BC,2019-06-03)"),
            Err(RangeError::Overflow)
        );
        assert_eq!(parse_daterange("(,0001-01-01)"), Err(RangeError::Overflow));
        assert_eq!(
            parse_daterange("[2019-06-08,2019-06-03)"),
            Err(RangeError::Reversed)
        );
    }

    #[test]
    fn times_as_to_jsonb_prints_them() {
        assert_eq!(parse_time("16:42:00"), Some((16, 42, 0, 0)));
        assert_eq!(parse_time("16:42"), Some((16, 42, 0, 0)));
        assert_eq!(parse_time("00:00:05.25"), Some((0, 0, 5, 250_000)));
        assert_eq!(parse_time("24:00:00"), Some((24, 0, 0, 0)));
        for bad in [
            "",
            "1:00",
            "16:42:0",
            "16:42:00.",
            "16:42:00.1234567",
            "25:00:00",
            "24:00:01",
            "16:60:00",
            "16:42:60",
            "16h42",
            "16:42:00Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_and_intervals() {
        assert_eq!(time_of_day(16, 42).unwrap(), "16:42:00");
        assert_eq!(time_of_day(0, 5).unwrap(), "00:05:00");
        assert!(time_of_day(24, 0).is_none());
        assert_eq!(interval_seconds(0), "00:00:00");
        assert_eq!(interval_seconds(90061), "25:01:01");
        assert_eq!(interval_seconds(-5), "-00:00:05");
    }
}
