//! Bank identifiers for fiat withdrawals. Each standard carries a check digit
//! or a fixed shape, so a typo is caught here instead of as a returned wire
//! days later. Routing numbers and BICs name banks and are public, so errors
//! echo them; account numbers and IBANs name someone's account, so they don't.

use crate::address::shown;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    #[error("ABA routing number '{}' must be exactly 9 digits", shown(.0))]
    AbaFormat(String),
    #[error("ABA routing number '{}' fails its checksum; check for a mistyped digit", shown(.0))]
    AbaChecksum(String),
    #[error("SWIFT/BIC code '{}' must be 8 or 11 characters, not {length}", shown(.code))]
    BicLength { code: String, length: usize },
    #[error("SWIFT/BIC code '{}' must be upper case", shown(.0))]
    BicCase(String),
    #[error("SWIFT/BIC code '{}' must start with a 4-letter institution code", shown(.0))]
    BicInstitution(String),
    #[error("SWIFT/BIC code '{}' must have a 2-letter country code in positions 5-6", shown(.0))]
    BicCountry(String),
    #[error(
        "SWIFT/BIC code '{}' must have a 2-character letter or digit location code in positions 7-8",
        shown(.0)
    )]
    BicLocation(String),
    #[error(
        "SWIFT/BIC code '{}' must have a 3-character letter or digit branch code in positions 9-11",
        shown(.0)
    )]
    BicBranch(String),
    #[error("IBAN must be 15 to 34 letters and digits (spaces aside), not {0}")]
    IbanLength(usize),
    #[error("IBAN must start with a 2-letter country code")]
    IbanCountry,
    #[error("IBAN must have 2 check digits after the country code")]
    IbanCheckDigits,
    #[error("IBAN may contain only letters, digits and spaces")]
    IbanCharacter,
    #[error("IBAN fails its check digits; check for a mistyped character")]
    IbanChecksum,
    #[error("account number must be 4 to 17 digits, not {0}")]
    AccountNumberLength(usize),
    #[error("account number must contain only digits 0-9, with no spaces or dashes")]
    AccountNumberCharacter,
}

/// A US ABA routing transit number: 9 digits whose weighted sum
/// 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) is a multiple of 10.
pub fn validate_aba_routing(number: &str) -> Result<(), BankError> {
    if number.len() != 9 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BankError::AbaFormat(number.to_string()));
    }
    let sum: u32 = number
        .bytes()
        .zip([3, 7, 1].iter().cycle())
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    if sum.is_multiple_of(10) {
        Ok(())
    } else {
        Err(BankError::AbaChecksum(number.to_string()))
    }
}

/// A SWIFT/BIC code (ISO 9362): institution (4 letters), country (2 letters),
/// location (2 letters or digits), and an optional branch (3 letters or
/// digits). Upper case only, as SWIFT prints them and banks match them.
pub fn validate_bic(code: &str) -> Result<(), BankError> {
    let length = code.chars().count();
    if length != 8 && length != 11 {
        return Err(BankError::BicLength {
            code: code.to_string(),
            length,
        });
    }
    if code.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(BankError::BicCase(code.to_string()));
    }
    let owned = || code.to_string();
    let chars: Vec<char> = code.chars().collect();
    let letters = |s: &[char]| s.iter().all(char::is_ascii_uppercase);
    let alphanumeric = |s: &[char]| {
        s.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if !letters(&chars[0..4]) {
        return Err(BankError::BicInstitution(owned()));
    }
    if !letters(&chars[4..6]) {
        return Err(BankError::BicCountry(owned()));
    }
    if !alphanumeric(&chars[6..8]) {
        return Err(BankError::BicLocation(owned()));
    }
    if !alphanumeric(&chars[8..]) {
        return Err(BankError::BicBranch(owned()));
    }
    Ok(())
}

/// An IBAN (ISO 13616), returned compact and upper case: spaces, as IBANs
/// are usually printed in groups of four, are removed and lower case is
/// accepted. The check digits are verified with mod 97 computed piecewise,
/// so no big integers are needed.
pub fn validate_iban(iban: &str) -> Result<String, BankError> {
    let compact: String = iban
        .chars()
        .filter(|&c| c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(BankError::IbanCharacter);
    }
    if !(15..=34).contains(&compact.len()) {
        return Err(BankError::IbanLength(compact.len()));
    }
    let bytes = compact.as_bytes();
    if !bytes[0..2].iter().all(u8::is_ascii_uppercase) {
        return Err(BankError::IbanCountry);
    }
    if !bytes[2..4].iter().all(u8::is_ascii_digit) {
        return Err(BankError::IbanCheckDigits);
    }
    // Check digits run from 02 to 98; 00, 01 and 99 are never issued.
    if matches!(&compact[2..4], "00" | "01" | "99") {
        return Err(BankError::IbanChecksum);
    }
    // Move the first four characters to the end, read letters as 10..=35,
    // and take the remainder digit by digit.
    let remainder = bytes[4..]
        .iter()
        .chain(&bytes[..4])
        .fold(0u32, |r, &b| match b {
            b'0'..=b'9' => (r * 10 + u32::from(b - b'0')) % 97,
            _ => (r * 100 + u32::from(b - b'A') + 10) % 97,
        });
    if remainder == 1 {
        Ok(compact)
    } else {
        Err(BankError::IbanChecksum)
    }
}

/// A US bank account number: 4 to 17 digits. There is no check digit, so
/// shape is all that can be verified.
pub fn validate_account_number(text: &str) -> Result<(), BankError> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BankError::AccountNumberCharacter);
    }
    if !(4..=17).contains(&text.len()) {
        return Err(BankError::AccountNumberLength(text.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aba_accepts_real_routing_numbers() {
        for n in [
            "021000021", // JPMorgan Chase, New York
            "011000015", // Federal Reserve Bank of Boston
            "026009593", // Bank of America, New York
            "121000248", // Wells Fargo, California
            "111000025", // Federal Reserve Bank of Dallas
        ] {
            assert_eq!(validate_aba_routing(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn aba_rejects_bad_checksums() {
        for n in ["021000022", "021000012", "120000021", "011000016"] {
            assert_eq!(
                validate_aba_routing(n),
                Err(BankError::AbaChecksum(n.to_string())),
                "{n}"
            );
        }
        assert_eq!(
            validate_aba_routing("021000022").unwrap_err().to_string(),
            "ABA routing number '021000022' fails its checksum; check for a mistyped digit"
        );
    }

    #[test]
    fn aba_rejects_wrong_shape() {
        for n in [
            "",
            "02100002",
            "0210000210",
            "02100002a",
            " 021000021",
            "021-000-021",
            "０21000021",
        ] {
            assert_eq!(
                validate_aba_routing(n),
                Err(BankError::AbaFormat(n.to_string())),
                "{n:?}"
            );
        }
        assert_eq!(
            validate_aba_routing("12345").unwrap_err().to_string(),
            "ABA routing number '12345' must be exactly 9 digits"
        );
    }

    #[test]
    fn bic_accepts_real_codes() {
        for code in [
            "DEUTDEFF",
            "DEUTDEFF500",
            "CHASUS33XXX",
            "CHASUS33",
            "BOFAUS3N",
            "NWBKGB2L",
        ] {
            assert_eq!(validate_bic(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn bic_rejects_near_misses() {
        type Variant = fn(String) -> BankError;
        let cases: [(&str, Variant); 7] = [
            ("DEUT1EFF", BankError::BicCountry),
            ("DEU1DEFF", BankError::BicInstitution),
            ("DEUTDEF_", BankError::BicLocation),
            ("DEUTDEFF50_", BankError::BicBranch),
            ("deutdeff", BankError::BicCase),
            ("DEUTDEFf", BankError::BicCase),
            ("DEUTDEFé", BankError::BicLocation),
        ];
        for (code, expected) in cases {
            assert_eq!(
                validate_bic(code),
                Err(expected(code.to_string())),
                "{code}"
            );
        }
        for (code, length) in [
            ("DEUTDEF", 7),
            ("DEUTDEFF5", 9),
            ("DEUTDEFF5000", 12),
            ("", 0),
        ] {
            assert_eq!(
                validate_bic(code),
                Err(BankError::BicLength {
                    code: code.to_string(),
                    length
                })
            );
        }
        assert_eq!(
            validate_bic("DEUT1EFF").unwrap_err().to_string(),
            "SWIFT/BIC code 'DEUT1EFF' must have a 2-letter country code in positions 5-6"
        );
        assert_eq!(
            validate_bic("DEUTDEF").unwrap_err().to_string(),
            "SWIFT/BIC code 'DEUTDEF' must be 8 or 11 characters, not 7"
        );
    }

    #[test]
    fn iban_accepts_real_examples() {
        for (input, compact) in [
            ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
            ("DE89370400440532013000", "DE89370400440532013000"),
            ("gb82 west 1234 5698 7654 32", "GB82WEST12345698765432"),
            ("NO9386011117947", "NO9386011117947"), // the shortest, 15
            ("FR1420041010050500013M02606", "FR1420041010050500013M02606"),
            (
                "MT84MALT011000012345MTLCAST001S",
                "MT84MALT011000012345MTLCAST001S",
            ),
        ] {
            assert_eq!(validate_iban(input).as_deref(), Ok(compact), "{input}");
        }
    }

    #[test]
    fn iban_rejects_one_changed_digit() {
        for bad in [
            "GB82 WEST 1234 5698 7654 33",
            "GB83 WEST 1234 5698 7654 32",
            "DE89370400440532013001",
            "DE89370400440532031000", // two digits swapped
            "GB82 WEST 1234 5698 7654 23",
        ] {
            assert_eq!(validate_iban(bad), Err(BankError::IbanChecksum), "{bad}");
        }
    }

    #[test]
    fn iban_rejects_wrong_shape() {
        assert_eq!(validate_iban(""), Err(BankError::IbanLength(0)));
        assert_eq!(
            validate_iban("NO938601111794"),
            Err(BankError::IbanLength(14))
        );
        let long = format!("DE89{}", "1".repeat(31));
        assert_eq!(validate_iban(&long), Err(BankError::IbanLength(35)));
        assert_eq!(
            validate_iban("1B82WEST12345698765432"),
            Err(BankError::IbanCountry)
        );
        assert_eq!(
            validate_iban("GBX2WEST12345698765432"),
            Err(BankError::IbanCheckDigits)
        );
        for bad in [
            "GB82-WEST-1234-5698-7654-32",
            "GB82\tWEST12345698765432",
            "GB82WEST1234569876543é",
        ] {
            assert_eq!(validate_iban(bad), Err(BankError::IbanCharacter), "{bad:?}");
        }
        assert_eq!(
            validate_iban("GB82 WEST 1234 5698 7654 33")
                .unwrap_err()
                .to_string(),
            "IBAN fails its check digits; check for a mistyped character"
        );
    }

    #[test]
    fn iban_rejects_reserved_check_digits() {
        // Mod 97 cannot tell 00 from 97, 01 from 98, or 99 from 02, so for
        // some account numbers two check digit pairs pass it; only the one
        // in 02..=98 is ever issued.
        let mut aliases_seen = 0;
        for n in 0..300 {
            let bban = format!("370400440532{n:06}");
            let passing: Vec<u32> = (0..=99)
                .filter(|check| validate_iban(&format!("DE{check:02}{bban}")).is_ok())
                .collect();
            assert_eq!(passing.len(), 1, "{bban}: {passing:?}");
            assert!((2..=98).contains(&passing[0]), "{bban}: {passing:?}");
            if matches!(passing[0], 2 | 97 | 98) {
                aliases_seen += 1;
            }
        }
        assert!(
            aliases_seen > 0,
            "the sample should include an aliased case"
        );
    }

    #[test]
    fn account_numbers() {
        for ok in ["1234", "12345678901234567", "000123456789"] {
            assert_eq!(validate_account_number(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_account_number("123"),
            Err(BankError::AccountNumberLength(3))
        );
        assert_eq!(
            validate_account_number("123456789012345678"),
            Err(BankError::AccountNumberLength(18))
        );
        assert_eq!(
            validate_account_number(""),
            Err(BankError::AccountNumberLength(0))
        );
        for bad in ["1234 5678", "1234-5678", "12345a", "١٢٣٤", " 12345"] {
            assert_eq!(
                validate_account_number(bad),
                Err(BankError::AccountNumberCharacter),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_account_number("12").unwrap_err().to_string(),
            "account number must be 4 to 17 digits, not 2"
        );
    }
}
