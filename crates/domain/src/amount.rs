//! Exact amounts. Wire amounts are decimal strings; stored amounts are whole
//! numbers of an asset's smallest unit (cents for USD, 1e-8 for USDP), so the
//! databases can add and compare them exactly with plain integer arithmetic.

use std::fmt;

use rust_decimal::Decimal;

use crate::Asset;

/// The largest amount a single request may move: far above any real payment,
/// far below what an i64 of the finest unit (1e-8) can hold.
pub const MAX_AMOUNT_WHOLE: i64 = 1_000_000_000;

/// Balances stay below this many smallest units, so sums never overflow an i64.
pub const MAX_BALANCE_UNITS: i64 = 4_000_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error(
        "must be a decimal string of digits with an optional fractional part, like \"100.25\""
    )]
    Malformed,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("has more than {0} decimal places")]
    TooPrecise(u32),
    #[error("exceeds the maximum of {MAX_AMOUNT_WHOLE}")]
    TooLarge,
}

/// A positive, exact amount with at most 28 significant digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(Decimal);

impl Amount {
    /// Parses the wire form strictly: `^[0-9]*\.?[0-9]+$` as in the spec; no
    /// sign, exponent, or white space. Trailing zeros do not count as precision:
    /// "1.50" is a valid USD amount, "1.505" is not.
    pub fn parse(text: &str, max_decimals: u32) -> Result<Amount, AmountError> {
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = !text.is_empty()
            && !text.ends_with('.')
            && digits_only(int_part)
            && digits_only(frac_part)
            && text.len() <= 40;
        if !well_formed {
            return Err(AmountError::Malformed);
        }
        let whole = int_part.trim_start_matches('0');
        if whole.len() > MAX_AMOUNT_WHOLE.to_string().len() {
            return Err(AmountError::TooLarge);
        }
        let significant_frac = frac_part.trim_end_matches('0');
        if significant_frac.len() > max_decimals as usize {
            return Err(AmountError::TooPrecise(max_decimals));
        }
        let whole = if whole.is_empty() { "0" } else { whole };
        let canonical = if significant_frac.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{significant_frac}")
        };
        let value: Decimal = canonical.parse().map_err(|_| AmountError::Malformed)?;
        if value.is_zero() {
            return Err(AmountError::NotPositive);
        }
        if value > Decimal::from(MAX_AMOUNT_WHOLE) {
            return Err(AmountError::TooLarge);
        }
        Ok(Amount(value.normalize()))
    }

    /// The amount in whole smallest units of `asset`. Exact because parsing
    /// already limited the decimals to at most the asset's precision.
    pub fn units(self, asset: Asset) -> i64 {
        let scaled = self.0 * Decimal::from(10_i64.pow(asset.decimals()));
        debug_assert!(scaled.fract().is_zero());
        i64::try_from(scaled.trunc()).expect("amounts are bounded by MAX_AMOUNT_WHOLE")
    }

    pub fn from_units(units: i64, asset: Asset) -> Amount {
        Amount(Decimal::new(units, asset.decimals()).normalize())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Formats a stored balance (which may be zero or, for system accounts,
/// negative) as the decimal string the API shows.
pub fn format_units(units: i64, asset: Asset) -> String {
    Decimal::new(units, asset.decimals())
        .normalize()
        .to_string()
}

/// What `units` of `asset` are worth in US cents, rounded up: every asset
/// here is a dollar or a dollar-backed stablecoin, worth one dollar.
pub fn usd_cents(units: i64, asset: Asset) -> i64 {
    let cents = (Decimal::new(units, asset.decimals()) * Decimal::ONE_HUNDRED).ceil();
    i64::try_from(cents.trunc()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_cents_round_up() {
        assert_eq!(usd_cents(1050, Asset::Usd), 1050);
        assert_eq!(usd_cents(10_500_001, Asset::Usdc), 1051);
        assert_eq!(usd_cents(100_000_000, Asset::Usdp), 100);
    }

    #[test]
    fn accepts_plain_decimals() {
        assert_eq!(Amount::parse("100", 2).unwrap().to_string(), "100");
        assert_eq!(Amount::parse("100.50", 2).unwrap().to_string(), "100.5");
        assert_eq!(Amount::parse(".5", 2).unwrap().to_string(), "0.5");
        assert_eq!(Amount::parse("0001.25", 2).unwrap().to_string(), "1.25");
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "", ".", "1.", "-1", "+1", "1e3", "1E3", " 1", "1 ", "1,5", "0x10", "١",
        ] {
            assert_eq!(
                Amount::parse(bad, 8),
                Err(AmountError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(Amount::parse("0", 2), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("0.000", 2), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("1.001", 2), Err(AmountError::TooPrecise(2)));
        assert_eq!(
            Amount::parse("1000000000.01", 2),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            Amount::parse("99999999999999999999999999999999", 2),
            Err(AmountError::TooLarge)
        );
        assert!(Amount::parse("1000000000", 2).is_ok());
    }

    #[test]
    fn converts_to_units_exactly() {
        let a = Amount::parse("12.34", 2).unwrap();
        assert_eq!(a.units(Asset::Usd), 1234);
        assert_eq!(a.units(Asset::Usdp), 1_234_000_000);
        assert_eq!(Amount::from_units(1_234_000_000, Asset::Usdp), a);
        assert_eq!(format_units(0, Asset::Usd), "0");
        assert_eq!(format_units(-150, Asset::Usd), "-1.5");
        let max = Amount::parse("1000000000", 8).unwrap();
        assert_eq!(max.units(Asset::Usdp), 100_000_000_000_000_000);
    }
}
