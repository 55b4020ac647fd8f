//! ISO 8601 formatting of Unix-epoch milliseconds, without a date library.

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Formats milliseconds since the Unix epoch as an ISO 8601 UTC timestamp with
/// milliseconds: `2024-03-01T00:00:00.000Z`. Years outside 0000–9999 use the expanded
/// form (`+10000-01-01T…`, `-0001-…`).
pub fn iso8601(millis: i64) -> String {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let ms = millis.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, ms) = (ms / 3_600_000, ms % 3_600_000);
    let (minute, ms) = (ms / 60_000, ms % 60_000);
    let (second, ms) = (ms / 1_000, ms % 1_000);

    if (0..=9999).contains(&year) {
        // The common case, written digit by digit.
        let mut b = *b"0000-00-00T00:00:00.000Z";
        put(&mut b[0..4], year);
        put(&mut b[5..7], month);
        put(&mut b[8..10], day);
        put(&mut b[11..13], hour);
        put(&mut b[14..16], minute);
        put(&mut b[17..19], second);
        put(&mut b[20..23], ms);
        // Only ASCII digits and separators were written.
        return String::from_utf8(b.to_vec()).unwrap_or_default();
    }
    let sign = if year < 0 { '-' } else { '+' };
    format!(
        "{sign}{:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{ms:03}Z",
        year.unsigned_abs()
    )
}

/// Writes `value` as decimal digits right-aligned into `out`, which is pre-filled with
/// zeros and wide enough.
fn put(out: &mut [u8], mut value: i64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inverse (Hinnant's `days_from_civil`), to check round trips.
    fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[test]
    fn known_instants() {
        for (millis, iso) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (1_718_900_000_123, "2024-06-20T16:13:20.123Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
            (253_402_300_800_000, "+10000-01-01T00:00:00.000Z"),
            (-62_167_219_200_001, "-0001-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(iso8601(millis), iso, "{millis}");
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        assert!(iso8601(i64::MAX).starts_with('+'));
        assert!(iso8601(i64::MIN).starts_with('-'));
    }

    #[test]
    fn every_day_round_trips_and_follows_the_previous() {
        let mut previous = civil_from_days(-800_000);
        for days in -799_999..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d));
            let (py, pm, pd) = previous;
            let next_day = (y, m, d) == (py, pm, pd + 1);
            let next_month = (y, m, d) == (py, pm + 1, 1);
            let next_year = (y, m, d) == (py + 1, 1, 1) && (pm, pd) == (12, 31);
            assert!(
                next_day || next_month || next_year,
                "{previous:?} → {y}-{m}-{d}"
            );
            previous = (y, m, d);
        }
    }
}
