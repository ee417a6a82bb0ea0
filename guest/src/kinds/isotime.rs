//! The app's `parse_utc_iso_or_none` (utils/time.py), which decides when a
//! validation override expires: a trailing `Z` has every `Z` replaced by
//! `+00:00`, then Python's `datetime.fromisoformat` reads it, and a time
//! without an offset is UTC.
//!
//! `fromisoformat` is CPython's C implementation (Modules/_datetimemodule.c,
//! 3.11 to 3.13), followed step by step with its quirks, since what it
//! accepts decides whether an override is active: any single ASCII
//! separator between date and time, ISO week dates, `HHMMSS` without
//! colons, fractions of any length (six digits kept), offsets up to a day.
//! Bytes past the end read as the NUL that ends a C string.

/// Microseconds since the Unix epoch; `None` where the app's parser gives
/// `None` (empty, or `fromisoformat` raises).
pub fn parse_utc_iso(value: &str) -> Option<i128> {
    if value.is_empty() {
        return None;
    }
    let normalized;
    let value = if value.ends_with('Z') {
        normalized = value.replace('Z', "+00:00");
        &normalized
    } else {
        value
    };
    // Python counts characters; the C parser then works on UTF-8 bytes.
    if value.chars().count() < 7 {
        return None;
    }
    from_iso_format(Text(value.as_bytes()))
}

#[derive(Clone, Copy)]
struct Text<'a>(&'a [u8]);

impl Text<'_> {
    fn at(self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }

    fn len(self) -> usize {
        self.0.len()
    }

    /// `n` ASCII digits at `p` added to `value`; where they end.
    fn digits(self, p: usize, n: usize, value: &mut i64) -> Option<usize> {
        for i in 0..n {
            let digit = self.at(p + i).wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            *value = *value * 10 + i64::from(digit);
        }
        Some(p + n)
    }
}

/// `datetime_fromisoformat`.
fn from_iso_format(t: Text) -> Option<i128> {
    let separator = separator(t)?;
    let days = date(t, separator)?;
    let (mut clock, mut offset) = (0, 0);
    if t.len() > separator {
        // The separator is any one character, in UTF-8 as many bytes.
        let width = match t.at(separator) {
            0xf0.. => 4,
            0xe0.. => 3,
            0xc0.. => 2,
            _ => 1,
        };
        (clock, offset) = time(t, separator + width, t.len())?;
    }
    Some(i128::from(days) * 86_400_000_000 + clock - offset)
}

/// `_find_isoformat_datetime_separator`: where the date ends.
fn separator(t: Text) -> Option<usize> {
    let len = t.len();
    if len == 7 {
        return Some(7);
    }
    if t.at(4) == b'-' {
        if t.at(5) != b'W' {
            return Some(10); // YYYY-MM-DD
        }
        if len > 8 && t.at(8) == b'-' {
            if len == 9 {
                return None;
            }
            // YYYY-Www-D, or YYYY-Www and a separator `-` before digits
            return Some(if len > 10 && t.at(10).is_ascii_digit() {
                8
            } else {
                10
            });
        }
        return Some(8); // YYYY-Www
    }
    if t.at(4) != b'W' {
        return Some(8); // YYYYMMDD
    }
    let mut idx = 7; // YYYYWww or YYYYWwwD
    while idx < len && t.at(idx).is_ascii_digit() {
        idx += 1;
    }
    Some(match idx {
        _ if idx < 9 => idx,
        _ if idx % 2 == 0 => 7,
        _ => 8,
    })
}

/// `parse_isoformat_date` and the calendar check of the constructor: days
/// since the Unix epoch.
fn date(t: Text, len: usize) -> Option<i64> {
    let mut year = 0;
    let mut p = t.digits(0, 4, &mut year)?;
    let dashes = t.at(p) == b'-';
    p += usize::from(dashes);
    let dash = |p: &mut usize| {
        let ok = !dashes || t.at(*p) == b'-';
        *p += usize::from(dashes);
        ok
    };
    if t.at(p) == b'W' {
        let (mut week, mut day) = (0, 1);
        p = t.digits(p + 1, 2, &mut week)?;
        if p < len {
            if !dash(&mut p) {
                return None;
            }
            day = 0;
            t.digits(p, 1, &mut day)?;
        }
        return iso_week_date(year, week, day);
    }
    let (mut month, mut day) = (0, 0);
    p = t.digits(p, 2, &mut month)?;
    if !dash(&mut p) {
        return None;
    }
    t.digits(p, 2, &mut day)?;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return None,
    };
    ((1..=9999).contains(&year) && (1..=month_days).contains(&day))
        .then(|| days_from_civil(year, month, day))
}

/// `iso_to_ymd`: the ISO week date, as days since the epoch.
fn iso_week_date(year: i64, week: i64, day: i64) -> Option<i64> {
    if !(1..=9999).contains(&year) || !(1..=7).contains(&day) {
        return None;
    }
    let jan1 = days_from_civil(year, 1, 1);
    let weekday = (jan1 + 3).rem_euclid(7); // Monday 0; 1970-01-01 was a Thursday
                                            // ISO years have 53 weeks when they start on a Thursday, or on a
                                            // Wednesday in a leap year.
    let weeks = if weekday == 3 || (weekday == 2 && is_leap(year)) {
        53
    } else {
        52
    };
    if !(1..=weeks).contains(&week) {
        return None;
    }
    let monday = jan1 - weekday + if weekday > 3 { 7 } else { 0 };
    let days = monday + (week - 1) * 7 + day - 1;
    // The constructor refuses what falls outside years 1 to 9999.
    (days >= days_from_civil(1, 1, 1) && days < days_from_civil(10_000, 1, 1)).then_some(days)
}

/// `parse_isoformat_time`: microseconds into the day, and the offset.
fn time(t: Text, start: usize, end: usize) -> Option<(i128, i128)> {
    let mut tz = start;
    loop {
        if matches!(t.at(tz), b'Z' | b'+' | b'-') {
            break;
        }
        tz += 1;
        if tz >= end {
            break;
        }
    }
    let (clock, more) = hh_mm_ss_ff(t, start, tz)?;
    let (hour, minute, second, _) = clock;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let clock = micros(clock);
    if tz == end {
        return (!more).then_some((clock, 0));
    }
    if t.at(tz) == b'Z' {
        return (t.at(tz + 1) == 0).then_some((clock, 0));
    }
    let sign = if t.at(tz) == b'-' { -1 } else { 1 };
    let ((hour, minute, second, micro), more) = hh_mm_ss_ff(t, tz + 1, end)?;
    // An offset of no whole seconds is UTC, its microseconds ignored.
    let micro = if (hour, minute, second) == (0, 0, 0) {
        0
    } else {
        micro
    };
    let offset = sign * micros((hour, minute, second, micro));
    // A timezone is strictly within a day.
    (!more && offset.abs() < 86_400_000_000).then_some((clock, offset))
}

fn micros((hour, minute, second, micro): (i64, i64, i64, i64)) -> i128 {
    i128::from(((hour * 60 + minute) * 60 + second) * 1_000_000 + micro)
}

/// `parse_hh_mm_ss_ff`: `HH[:?MM[:?SS[{.,}f+]]]` from `start` up to `end`,
/// and whether anything follows.
#[allow(clippy::type_complexity)]
fn hh_mm_ss_ff(t: Text, start: usize, end: usize) -> Option<((i64, i64, i64, i64), bool)> {
    let mut values = [0i64; 3];
    let mut p = start;
    let mut colons = true;
    for (i, value) in values.iter_mut().enumerate() {
        p = t.digits(p, 2, value)?;
        let c = t.at(p);
        p += 1;
        if i == 0 {
            colons = c == b':';
        }
        if p >= end {
            let [h, m, s] = values;
            return Some(((h, m, s, 0), c != 0));
        } else if colons && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !colons {
            p -= 1;
        } else {
            return None;
        }
    }
    // After three components the C loop falls through to the fraction,
    // with or without a `.` (so `HHMMSSff` reads `ff` as a fraction).
    let to_parse = end.saturating_sub(p).min(6);
    let mut micro = 0;
    p = t.digits(p, to_parse, &mut micro)?;
    micro *= 10i64.pow(6 - to_parse as u32);
    while t.at(p).is_ascii_digit() {
        p += 1;
    }
    let [h, m, s] = values;
    Some(((h, m, s, micro), t.at(p) != 0))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
