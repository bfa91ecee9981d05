//! RFC 3339 timestamps on the wire, microseconds since the epoch inside.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now() -> i64 {
    Utc::now().timestamp_micros()
}

const MICROS_A_DAY: i64 = 86_400_000_000;

/// `2026-12-07T06:22:09.454313Z`, as chrono writes it with microseconds,
/// but without its formatting machinery: every item of every page has two
/// or more (a page of 100 conversions spent 3% of its CPU here). Years
/// outside 0000-9999, which chrono writes with a sign, go to chrono.
pub fn format(micros: i64) -> String {
    let (days, in_day) = (
        micros.div_euclid(MICROS_A_DAY),
        micros.rem_euclid(MICROS_A_DAY),
    );
    let (year, month, day) = civil(days);
    if !(0..=9999).contains(&year) {
        return by_chrono(micros);
    }
    let seconds = in_day / 1_000_000;
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    // Each field's value, where it starts and how many digits it has.
    let fields = [
        (year, 0, 4),
        (month, 5, 2),
        (day, 8, 2),
        (seconds / 3600, 11, 2),
        (seconds / 60 % 60, 14, 2),
        (seconds % 60, 17, 2),
        (in_day % 1_000_000, 20, 6),
    ];
    for (mut value, start, width) in fields {
        for digit in text[start..start + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    text.iter().copied().map(char::from).collect()
}

fn by_chrono(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let of_era = z.rem_euclid(146_097);
    let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
    let day_of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn parse(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn timestamps_read_as_chrono_writes_them() {
        let edges = [
            0,
            -1,
            1,
            951_782_400_000_000 - 1, // 2000-02-28T23:59:59.999999Z
            951_868_800_000_000,     // 2000-03-01
            4_107_542_400_000_000,   // 2100-03-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999Z
            253_402_300_800_000_000, // 10000-01-01: chrono's own form
            -62_167_219_200_000_000, // 0000-01-01
            -62_167_219_200_000_001, // before year 0
            i64::MIN,
            i64::MAX,
        ];
        let mut rng = rand::thread_rng();
        let random =
            (0..100_000).map(|_| rng.gen_range(-62_200_000_000_000_000..253_500_000_000_000_000));
        for micros in edges.into_iter().chain(random) {
            assert_eq!(format(micros), by_chrono(micros), "{micros}");
        }
    }
}
