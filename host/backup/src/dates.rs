//! The two date formats of a backup.
//!
//! - Active Objects `<timestamp>`: UTC, `2014-09-04T06:36:33.057Z`.
//! - entities.xml: `2014-09-02 17:42:48.053` (or `.0` on older sites), the server's local
//!   wall-clock time without a zone. Here such a date is handled as "wall-clock millis":
//!   the millis it would be if the wall clock were UTC. Applying the server's zone is the
//!   core model's business.
//!
//! Parsing is `airlock_contract::dates`', which the SDK's `Row::timestamp` shares.

use airlock_contract::dates::{parse_date, parse_wall_clock, parse_zone};
use time::{Date, OffsetDateTime};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Parses an Active Objects timestamp into UTC millis since the Unix epoch.
///
/// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]`; without a zone the time
/// is taken as UTC (Active Objects writes UTC). Fractions beyond milliseconds are
/// truncated. `None` if the text is not such a timestamp or names an impossible date.
pub fn parse_ao_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (wall, rest) = parse_wall_clock(text, b'T')?;
    let offset_seconds = parse_zone(rest)?;
    wall.checked_sub(offset_seconds * 1000)
}

/// Formats UTC millis as an Active Objects timestamp, `2014-09-04T06:36:33.057Z`.
/// `None` outside the years 0–9999.
pub fn format_ao_timestamp(millis: i64) -> Option<String> {
    let (date, h, m, s, ms) = split_millis(millis)?;
    Some(format!(
        "{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

/// Parses an entities.xml date (`2014-09-02 17:42:48.053`, `2014-09-02 17:42:48.0`,
/// `2014-09-02 17:42:48` or a bare `2014-09-02`) into wall-clock millis.
pub fn parse_entity_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() == 10 {
        return Some(parse_date(text)? * MILLIS_PER_DAY);
    }
    match parse_wall_clock(text, b' ')? {
        (wall, "") => Some(wall),
        _ => None,
    }
}

/// Formats wall-clock millis as an entities.xml date, `2014-09-02 17:42:48.053`.
/// `None` outside the years 0–9999.
pub fn format_entity_date(millis: i64) -> Option<String> {
    let (date, h, m, s, ms) = split_millis(millis)?;
    Some(format!(
        "{:04}-{:02}-{:02} {h:02}:{m:02}:{s:02}.{ms:03}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

fn split_millis(millis: i64) -> Option<(Date, u8, u8, u8, u16)> {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()?;
    if !(0..=9999).contains(&at.year()) {
        return None;
    }
    Some((
        at.date(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ao_timestamps_parse_to_utc_millis() {
        assert_eq!(parse_ao_timestamp("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_ao_timestamp("2014-09-04T06:36:33.057Z"),
            Some(1_409_812_593_057)
        );
        assert_eq!(
            parse_ao_timestamp("2014-09-04T08:36:33.057+02:00"),
            Some(1_409_812_593_057)
        );
        assert_eq!(
            parse_ao_timestamp("2014-09-04T08:36:33.057+0200"),
            Some(1_409_812_593_057)
        );
        assert_eq!(
            parse_ao_timestamp("2014-09-04T06:36:33Z"),
            Some(1_409_812_593_000)
        );
        assert_eq!(parse_ao_timestamp("1969-12-31T23:59:59.999Z"), Some(-1));
        for bad in [
            "",
            "2014-09-04",
            "2014-13-04T06:36:33Z",
            "2014-02-30T00:00:00Z",
            "2014-09-04T24:00:00Z",
            "2014-09-04T06:36:33.Z",
            "2014-09-04T06:36:33Zjunk",
            "x014-09-04T06:36:33Z",
            "2014-09-04T06:36:33.1234567890Z",
        ] {
            assert_eq!(parse_ao_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn ao_timestamps_round_trip() {
        for millis in [0, 1_409_812_593_057, -1, 253_402_300_799_999] {
            let text = format_ao_timestamp(millis).unwrap();
            assert_eq!(parse_ao_timestamp(&text), Some(millis), "{text}");
        }
        assert_eq!(
            format_ao_timestamp(1_409_812_593_057).unwrap(),
            "2014-09-04T06:36:33.057Z"
        );
        assert_eq!(format_ao_timestamp(253_402_300_800_000), None);
    }

    #[test]
    fn entity_dates_parse_every_seen_shape() {
        let full = parse_entity_date("2014-09-02 17:42:48.053").unwrap();
        assert_eq!(format_entity_date(full).unwrap(), "2014-09-02 17:42:48.053");
        assert_eq!(parse_entity_date("2014-09-02 17:42:48.0"), Some(full - 53));
        assert_eq!(parse_entity_date("2014-09-02 17:42:48"), Some(full - 53));
        assert_eq!(
            parse_entity_date("2014-09-02"),
            Some(full - 53 - (17 * 3600 + 42 * 60 + 48) * 1000)
        );
        assert_eq!(parse_entity_date("2014-09-02T17:42:48.053"), None);
        assert_eq!(parse_entity_date("2014-09-02 17:42:48.053Z"), None);
    }
}
