//! What the server issues: deposit addresses, fiat memo ids, secrets.

use rand::{Rng, RngCore};
use stableport_domain::address::address_from_seed;
use stableport_domain::network::CryptoNetwork;
use uuid::Uuid;

/// A fresh address on `network`, derived from the record's id: valid for
/// its network, unique, and stable for as long as the record lives.
pub fn new_address(id: Uuid, network: CryptoNetwork) -> String {
    address_from_seed(network, id.as_bytes())
}

/// 16 characters a person can read out over the phone to a bank.
pub fn new_memo_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `bytes` random bytes as lowercase hex: secrets and signing keys.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
