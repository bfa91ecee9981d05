//! Page cursors: any text a client sends decodes or is refused without a
//! panic, also behind a valid MAC; a cursor we issue decodes to the row it
//! names, and only for its own list and order.
#![no_main]

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use stableport_server::api::common::keys::Keys;
use stableport_server::api::common::pagination::{decode, encode};
use stableport_store::Order;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::new(&"ab".repeat(32)));

fuzz_target!(|data: &[u8]| {
    let keys = &*KEYS;
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode(keys, "conversions", Order::Asc, text);
    }
    let mut signed = data.to_vec();
    signed.extend(keys.sign_cursor(data));
    let _ = decode(
        keys,
        "conversions",
        Order::Desc,
        &URL_SAFE_NO_PAD.encode(signed),
    );

    let Some((stamp, id)) = data.split_first_chunk::<8>() else {
        return;
    };
    let (created_at, Ok(id)) = (i64::from_le_bytes(*stamp), std::str::from_utf8(id)) else {
        return;
    };
    if id.contains('|') {
        return; // row ids are UUIDs
    }
    let cursor = encode(
        keys,
        "conversions",
        Order::Asc,
        (created_at, id.to_string()),
    );
    let row = decode(keys, "conversions", Order::Asc, &cursor).expect("our own cursor");
    assert_eq!(row, (created_at, id.to_string()));
    assert!(decode(keys, "orchestrations", Order::Asc, &cursor).is_err());
    assert!(decode(keys, "conversions", Order::Desc, &cursor).is_err());
});
