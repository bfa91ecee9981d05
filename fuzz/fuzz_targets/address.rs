//! Address validation never panics on any input for any network, and its
//! canonical form is a fixed point (validating it again gives it back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stableport_domain::address::validate_address;
use stableport_domain::network::CryptoNetwork;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let network = CryptoNetwork::ALL[usize::from(selector) % CryptoNetwork::ALL.len()];
    if let Ok(canonical) = validate_address(network, text) {
        assert_eq!(
            validate_address(network, &canonical).as_deref(),
            Ok(canonical.as_str()),
            "{network} {text:?}"
        );
    }
    let _ = text.parse::<CryptoNetwork>();
});
