//! Bank detail validation (ABA routing numbers, SWIFT/BIC, IBAN, account
//! numbers) never panics, and a canonical IBAN validates to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stableport_domain::bank::{
    validate_aba_routing, validate_account_number, validate_bic, validate_iban,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate_aba_routing(text);
    let _ = validate_bic(text);
    let _ = validate_account_number(text);
    if let Ok(iban) = validate_iban(text) {
        assert_eq!(
            validate_iban(&iban).as_deref(),
            Ok(iban.as_str()),
            "{text:?}"
        );
    }
});
