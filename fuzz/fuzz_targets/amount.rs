//! Amount parsing never panics, and what it accepts round-trips exactly
//! through the stored form (whole units of the asset).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stableport_domain::amount::format_units;
use stableport_domain::{Amount, Asset};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let asset = [
        Asset::Usd,
        Asset::Usdp,
        Asset::Pyusd,
        Asset::Usdg,
        Asset::Usdc,
    ][usize::from(selector) % 5];
    if let Ok(amount) = Amount::parse(text, asset.decimals()) {
        let units = amount.units(asset);
        assert!(units > 0, "{text:?} parsed to {units} units");
        let shown = format_units(units, asset);
        let again = Amount::parse(&shown, asset.decimals()).expect("a formatted amount parses");
        assert_eq!(again.units(asset), units, "{text:?} -> {shown:?}");
    }
});
