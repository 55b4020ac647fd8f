//! Date-times as Jira and Active Objects write them, parsed without a date library (the
//! contract builds for Wasm with no dependency beyond MD5). The host's backup reader and
//! the SDK's `Row::timestamp` read text through these same functions.

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Parses an ISO 8601 date-time into UTC milliseconds since the Unix epoch:
/// `YYYY-MM-DD(T| )HH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]`. Without a zone the time is
/// taken as UTC (Active Objects writes UTC); fractions beyond milliseconds are truncated.
/// `None` if the text is not such a date-time or names an impossible one.
pub fn parse_iso_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let separator = *text.as_bytes().get(10)?;
    if separator != b'T' && separator != b' ' {
        return None;
    }
    let (wall, zone) = parse_wall_clock(text, separator)?;
    wall.checked_sub(parse_zone(zone)? * 1000)
}

/// `YYYY-MM-DD<separator>HH:MM:SS[.fraction]`: the milliseconds it would be if the wall
/// clock were UTC, and the unparsed rest (a zone, or anything else).
pub fn parse_wall_clock(text: &str, separator: u8) -> Option<(i64, &str)> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || bytes[10] != separator || bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let days = parse_date(&text[..10])?;
    let hour = digits(&bytes[11..13])?;
    let minute = digits(&bytes[14..16])?;
    let second = digits(&bytes[17..19])?;
    // 60 would be a leap second: Java never writes one, so refuse rather than guess.
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &bytes[19..];
    let mut millis = 0u32;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || len > 9 {
            return None;
        }
        // Pad or cut to three digits: ".0" is 0 ms, ".05" is 50 ms, ".0571" is 57 ms.
        millis = fraction[..len]
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(3)
            .fold(0, |acc, &b| acc * 10 + u32::from(b - b'0'));
        rest = &fraction[len..];
    }
    let seconds = i64::from(hour * 3600 + minute * 60 + second);
    let wall = days * MILLIS_PER_DAY + seconds * 1000 + i64::from(millis);
    // `rest` starts at an ASCII byte boundary, so this cannot fail.
    let rest = std::str::from_utf8(rest).ok()?;
    Some((wall, rest))
}

/// `YYYY-MM-DD` (years 0000–9999) as days since 1970-01-01; `None` for an impossible date.
pub fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i64::from(digits(&bytes[0..4])?);
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `Z`, `±HH:MM`, `±HHMM`, `±HH` or nothing: the offset east of UTC in seconds.
pub fn parse_zone(zone: &str) -> Option<i64> {
    match zone.as_bytes() {
        [] | [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            if hours > 18 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes.iter().try_fold(0u32, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_with_and_without_zone_or_fraction() {
        for (text, millis) in [
            ("1970-01-01T00:00:00.000Z", 0),
            ("2014-09-04T06:36:33.057Z", 1_409_812_593_057),
            ("2014-09-04T08:36:33.057+02:00", 1_409_812_593_057),
            ("2014-09-04T08:36:33.057+0200", 1_409_812_593_057),
            ("2014-09-04T03:36:33.057-03", 1_409_812_593_057),
            ("2014-09-04T06:36:33.057", 1_409_812_593_057),
            ("2014-09-04 06:36:33.057", 1_409_812_593_057),
            ("2014-09-04T06:36:33.057123Z", 1_409_812_593_057),
            ("2014-09-04T06:36:33Z", 1_409_812_593_000),
            ("2014-09-04T06:36:33", 1_409_812_593_000),
            (" 2014-09-04T06:36:33.5 ", 1_409_812_593_500),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2000-02-29T00:00:00Z", 951_782_400_000),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
        ] {
            assert_eq!(parse_iso_timestamp(text), Some(millis), "{text}");
        }
        for bad in [
            "",
            "2014-09-04",
            "2014-09-04X06:36:33Z",
            "2014-13-04T06:36:33Z",
            "2014-02-30T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2014-09-04T24:00:00Z",
            "2014-09-04T06:36:33.Z",
            "2014-09-04T06:36:33Zjunk",
            "x014-09-04T06:36:33Z",
            "2014-09-04T06:36:33.1234567890Z",
            "2014-09-04T06:36:33+19:00",
            "1409812593057",
        ] {
            assert_eq!(parse_iso_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_days_agree_with_the_calendar() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("0000-01-01"), Some(-719_528));
        // Every day from 1600 to 2400 follows the one before it.
        let mut expected = parse_date("1600-01-01").unwrap();
        for year in 1600..2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    assert_eq!(parse_date(&text), Some(expected), "{text}");
                    expected += 1;
                }
            }
        }
    }
}
