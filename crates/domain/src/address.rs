//! Blockchain addresses and transaction hashes. Validation catches the typos
//! that would otherwise send stablecoins to an address nobody controls, using
//! what each format offers: EIP-55 letter case on EVM chains, the exact key
//! length on Solana, the StrKey CRC on Stellar.

use std::fmt::Write as _;

use sha2::{Digest, Sha256, Sha512};
use sha3::Keccak256;

use crate::network::CryptoNetwork;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{network} address '{}' must be 0x followed by 40 hexadecimal digits", shown(.address))]
    EvmMalformed {
        network: CryptoNetwork,
        address: String,
    },
    #[error("address {} does not match its EIP-55 checksum; check the letter case or send it all lowercase", shown(.0))]
    EvmChecksum(String),
    #[error("SOLANA address '{}' is {length} characters; a base58 public key has 32 to 44", shown(.address))]
    SolanaLength { address: String, length: usize },
    #[error("SOLANA address '{}' is not base58: '{}' at position {position} is not in the alphabet (which excludes 0, O, I and l)", shown(.address), character.escape_debug())]
    SolanaCharacter {
        address: String,
        character: char,
        position: usize,
    },
    #[error("SOLANA address '{}' decodes to {bytes} bytes; a public key is 32", shown(.address))]
    SolanaKeyLength { address: String, bytes: usize },
    /// The address is not echoed: whoever sent it has leaked their secret key.
    #[error("STELLAR address looks like a secret seed (it starts with S); never share it, and send the public account id, which starts with G")]
    StellarSecretSeed,
    #[error("STELLAR address '{}' must be a public account id: 56 characters of A-Z and 2-7 starting with G", shown(.0))]
    StellarMalformed(String),
    #[error("STELLAR address '{}' does not match its checksum", shown(.0))]
    StellarChecksum(String),
}

/// Checks that `address` is well formed for `network` and returns its
/// canonical form: EIP-55 mixed case for EVM networks, the input unchanged
/// otherwise. Nothing is trimmed or case-folded beyond that, so what is
/// stored is what the chain will see.
pub fn validate_address(network: CryptoNetwork, address: &str) -> Result<String, AddressError> {
    match network {
        CryptoNetwork::Solana => validate_solana(address),
        CryptoNetwork::Stellar => validate_stellar(address),
        _ => validate_evm(network, address),
    }
}

/// A valid address for `network`, derived deterministically from `seed`, so
/// sandbox deposit addresses are stable across restarts without storing keys.
/// Nobody holds the private key, which is what a sandbox wants.
pub fn address_from_seed(network: CryptoNetwork, seed: &[u8]) -> String {
    let digest = tagged_sha256("address", network, seed);
    match network {
        CryptoNetwork::Solana => bs58::encode(digest).into_string(),
        CryptoNetwork::Stellar => stellar_account_id(&digest),
        _ => eip55(&to_hex(&digest[..20])),
    }
}

/// The output index of every simulated chain transaction: each moves one
/// transfer, so its output is the first (Paxos's `crypto_tx_index`).
pub const TX_INDEX: &str = "0";

/// A well-formed, deterministic transaction hash for `network`, in the form
/// that network's explorers show: "0x" + 64 hex digits on EVM networks, a
/// base58 64-byte signature on Solana, 64 hex digits on Stellar.
pub fn tx_hash(network: CryptoNetwork, seed: &[u8]) -> String {
    match network {
        CryptoNetwork::Solana => {
            let mut hasher = Sha512::new();
            hasher.update(tag("tx", network));
            hasher.update(seed);
            bs58::encode(hasher.finalize()).into_string()
        }
        CryptoNetwork::Stellar => to_hex(&tagged_sha256("tx", network, seed)),
        _ => format!("0x{}", to_hex(&tagged_sha256("tx", network, seed))),
    }
}

/// The user's input as it appears inside an error message: cut short, with
/// control characters escaped, so a hostile value cannot flood or forge the
/// problem detail.
pub(crate) fn shown(text: &str) -> String {
    const LIMIT: usize = 64;
    let mut out: String = text
        .chars()
        .take(LIMIT)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out
}

/// Separates derivations by purpose and network, so a seed reused for two
/// networks or for an address and a hash yields unrelated values.
fn tag(purpose: &str, network: CryptoNetwork) -> String {
    format!("stableport:{purpose}:{}:", network.code())
}

fn tagged_sha256(purpose: &str, network: CryptoNetwork, seed: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(tag(purpose, network));
    hasher.update(seed);
    hasher.finalize().into()
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a String cannot fail");
    }
    out
}

fn validate_evm(network: CryptoNetwork, address: &str) -> Result<String, AddressError> {
    let hex = address
        .strip_prefix("0x")
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| AddressError::EvmMalformed {
            network,
            address: address.to_string(),
        })?;
    let checksummed = eip55(&hex.to_ascii_lowercase());
    // All one case carries no checksum (EIP-55 is opt-in); mixed case must match.
    let single_case = !hex.bytes().any(|b| b.is_ascii_lowercase())
        || !hex.bytes().any(|b| b.is_ascii_uppercase());
    if single_case || checksummed == address {
        Ok(checksummed)
    } else {
        Err(AddressError::EvmChecksum(address.to_string()))
    }
}

/// EIP-55: "0x" + the address with each letter upper-cased where the
/// corresponding nibble of Keccak-256(lowercase hex) is 8 or more.
fn eip55(lower_hex: &str) -> String {
    let hash = Keccak256::digest(lower_hex.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower_hex.chars().enumerate() {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

fn validate_solana(address: &str) -> Result<String, AddressError> {
    // Checked before decoding so oversized input costs nothing.
    let length = address.chars().count();
    if !(32..=44).contains(&length) {
        return Err(AddressError::SolanaLength {
            address: address.to_string(),
            length,
        });
    }
    let bad = address
        .chars()
        .enumerate()
        .find(|(_, c)| !BASE58_ALPHABET.contains(*c));
    if let Some((index, character)) = bad {
        return Err(AddressError::SolanaCharacter {
            address: address.to_string(),
            character,
            position: index + 1,
        });
    }
    // Every character is in the alphabet, so decoding cannot fail.
    let bytes = bs58::decode(address).into_vec().unwrap_or_default();
    if bytes.len() != 32 {
        return Err(AddressError::SolanaKeyLength {
            address: address.to_string(),
            bytes: bytes.len(),
        });
    }
    Ok(address.to_string())
}

/// The Bitcoin base58 alphabet Solana uses: no 0, O, I or l, which are easily misread.
const BASE58_ALPHABET: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// StrKey version byte of an ed25519 public key: 6 << 3, which base32 renders as "G".
const STELLAR_ACCOUNT_VERSION: u8 = 6 << 3;

fn validate_stellar(address: &str) -> Result<String, AddressError> {
    let malformed = || AddressError::StellarMalformed(address.to_string());
    if address.starts_with('S') && address.len() == 56 {
        return Err(AddressError::StellarSecretSeed);
    }
    if address.len() != 56 || !address.starts_with('G') {
        return Err(malformed());
    }
    let bytes = base32_decode(address).ok_or_else(malformed)?;
    debug_assert_eq!(bytes.len(), 35);
    let (payload, checksum) = bytes.split_at(33);
    if payload[0] != STELLAR_ACCOUNT_VERSION {
        return Err(malformed());
    }
    if crc16_xmodem(payload).to_le_bytes() != checksum {
        return Err(AddressError::StellarChecksum(address.to_string()));
    }
    Ok(address.to_string())
}

fn stellar_account_id(key: &[u8; 32]) -> String {
    strkey(STELLAR_ACCOUNT_VERSION, key)
}

fn strkey(version: u8, key: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(35);
    bytes.push(version);
    bytes.extend_from_slice(key);
    let crc = crc16_xmodem(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    base32_encode(&bytes)
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), as StrKey uses.
fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// RFC 4648 base32 without padding, upper case only. Rejects input whose
/// leftover bits are not zero, so every byte string has exactly one encoding.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = BASE32_ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    let leftover_is_zero = buffer & ((1 << bits) - 1) == 0;
    // A valid length leaves fewer than 5 bits (one partial character).
    (bits < 5 && leftover_is_zero).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVM: [CryptoNetwork; 6] = [
        CryptoNetwork::Ethereum,
        CryptoNetwork::Base,
        CryptoNetwork::PolygonPos,
        CryptoNetwork::ArbitrumOne,
        CryptoNetwork::Ink,
        CryptoNetwork::XLayer,
    ];

    /// StrKey version byte of an ed25519 secret seed, rendered as "S".
    const STELLAR_SEED_VERSION: u8 = 18 << 3;

    /// The mixed-case vectors from the EIP-55 specification.
    const EIP55_VECTORS: [&str; 4] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    fn flip_first_letter_case(s: &str) -> String {
        let i = s[2..].find(|c: char| c.is_ascii_alphabetic()).unwrap() + 2;
        let mut chars: Vec<char> = s.chars().collect();
        chars[i] = if chars[i].is_ascii_uppercase() {
            chars[i].to_ascii_lowercase()
        } else {
            chars[i].to_ascii_uppercase()
        };
        chars.into_iter().collect()
    }

    #[test]
    fn evm_accepts_eip55_spec_vectors() {
        for network in EVM {
            for v in EIP55_VECTORS {
                assert_eq!(validate_address(network, v).as_deref(), Ok(v), "{v}");
            }
        }
    }

    #[test]
    fn evm_accepts_real_contracts() {
        // USDC and PYUSD on Ethereum mainnet, as Etherscan shows them.
        for v in [
            "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "0x6c3ea9036406852006290770BEdFcAbA0e23A0e8",
        ] {
            assert_eq!(
                validate_address(CryptoNetwork::Ethereum, v).as_deref(),
                Ok(v)
            );
        }
    }

    #[test]
    fn evm_single_case_is_canonicalised() {
        for v in EIP55_VECTORS {
            let lower = format!("0x{}", v[2..].to_ascii_lowercase());
            let upper = format!("0x{}", v[2..].to_ascii_uppercase());
            assert_eq!(
                validate_address(CryptoNetwork::Base, &lower).as_deref(),
                Ok(v)
            );
            assert_eq!(
                validate_address(CryptoNetwork::Base, &upper).as_deref(),
                Ok(v)
            );
        }
        // The all-caps and all-lowercase vectors from the EIP-55 specification.
        for v in [
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "0xde709f2102306220921060314715629080e2fb77",
            "0x27b1fdb04752bbc536007a920d24acb045561c26",
        ] {
            let canonical = validate_address(CryptoNetwork::Ethereum, v).unwrap();
            assert!(canonical.eq_ignore_ascii_case(v));
        }
        let zero = "0x0000000000000000000000000000000000000000";
        assert_eq!(
            validate_address(CryptoNetwork::PolygonPos, zero).as_deref(),
            Ok(zero)
        );
    }

    #[test]
    fn evm_rejects_one_flipped_letter() {
        for v in EIP55_VECTORS {
            let flipped = flip_first_letter_case(v);
            assert_eq!(
                validate_address(CryptoNetwork::Ethereum, &flipped),
                Err(AddressError::EvmChecksum(flipped.clone()))
            );
        }
        let err = validate_address(
            CryptoNetwork::Ethereum,
            "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "address 0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed does not match its EIP-55 \
             checksum; check the letter case or send it all lowercase"
        );
    }

    #[test]
    fn evm_rejects_malformed() {
        let good = EIP55_VECTORS[0];
        for bad in [
            "",
            "0x",
            &good[2..],                                   // no prefix
            &format!("0X{}", &good[2..]),                 // upper-case prefix
            &good[..41],                                  // 39 digits
            &format!("{good}0"),                          // 41 digits
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", // not hex
            &format!(" {good}"),
            &format!("{good} "),
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAé",
        ] {
            assert!(
                matches!(
                    validate_address(CryptoNetwork::PolygonPos, bad),
                    Err(AddressError::EvmMalformed { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_address(CryptoNetwork::Base, "0x123")
                .unwrap_err()
                .to_string(),
            "BASE address '0x123' must be 0x followed by 40 hexadecimal digits"
        );
    }

    #[test]
    fn solana_accepts_real_keys() {
        for v in [
            "11111111111111111111111111111111", // system program: 32 zero bytes
            "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", // SPL token program
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", // USDC mint
            "2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo", // PYUSD mint
        ] {
            assert_eq!(validate_address(CryptoNetwork::Solana, v).as_deref(), Ok(v));
        }
    }

    #[test]
    fn solana_rejects_characters_outside_the_alphabet() {
        let good = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
        for (bad_char, position) in [('0', 1), ('O', 2), ('I', 10), ('l', 43)] {
            let mut chars: Vec<char> = good.chars().collect();
            chars[position - 1] = bad_char;
            let bad: String = chars.into_iter().collect();
            assert_eq!(
                validate_address(CryptoNetwork::Solana, &bad),
                Err(AddressError::SolanaCharacter {
                    address: bad.clone(),
                    character: bad_char,
                    position,
                })
            );
        }
        assert_eq!(
            validate_address(
                CryptoNetwork::Solana,
                "0okenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
            )
            .unwrap_err()
            .to_string(),
            "SOLANA address '0okenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA' is not base58: '0' at \
             position 1 is not in the alphabet (which excludes 0, O, I and l)"
        );
        // Multi-byte characters are counted as one position.
        let bad = "ééTokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5";
        assert!(matches!(
            validate_address(CryptoNetwork::Solana, bad),
            Err(AddressError::SolanaCharacter {
                character: 'é',
                position: 1,
                ..
            })
        ));
    }

    #[test]
    fn solana_rejects_wrong_lengths() {
        let short = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5D"; // one character dropped
        assert_eq!(
            validate_address(CryptoNetwork::Solana, short),
            Err(AddressError::SolanaKeyLength {
                address: short.to_string(),
                bytes: 31
            })
        );
        let ones31 = "1".repeat(31);
        assert_eq!(
            validate_address(CryptoNetwork::Solana, &ones31),
            Err(AddressError::SolanaLength {
                address: ones31.clone(),
                length: 31
            })
        );
        // 33 zero bytes: the right character count, the wrong key size.
        let ones33 = "1".repeat(33);
        assert!(matches!(
            validate_address(CryptoNetwork::Solana, &ones33),
            Err(AddressError::SolanaKeyLength { bytes: 33, .. })
        ));
        // 44 characters that overflow 32 bytes.
        let big = "z".repeat(44);
        assert!(matches!(
            validate_address(CryptoNetwork::Solana, &big),
            Err(AddressError::SolanaKeyLength { bytes: 33, .. })
        ));
        let huge = "z".repeat(10_000);
        let message = validate_address(CryptoNetwork::Solana, &huge)
            .unwrap_err()
            .to_string();
        assert!(message.contains("is 10000 characters"), "{message}");
        assert!(message.len() < 200, "the echo is cut short: {message}");
        assert!(validate_address(CryptoNetwork::Solana, "").is_err());
    }

    const STELLAR_DOCS_EXAMPLE: &str = "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN7";

    #[test]
    fn stellar_accepts_account_ids() {
        for v in [
            STELLAR_DOCS_EXAMPLE,
            // SEP-23's public key vector.
            "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ",
            // The all-zero key.
            "GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF",
        ] {
            assert_eq!(
                validate_address(CryptoNetwork::Stellar, v).as_deref(),
                Ok(v)
            );
        }
    }

    #[test]
    fn stellar_rejects_one_changed_character() {
        // Changing any one character breaks the CRC (or the version byte).
        for i in 1..56 {
            let mut chars: Vec<char> = STELLAR_DOCS_EXAMPLE.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let bad: String = chars.into_iter().collect();
            assert!(
                validate_address(CryptoNetwork::Stellar, &bad).is_err(),
                "{bad}"
            );
        }
        let bad = "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN6";
        assert_eq!(
            validate_address(CryptoNetwork::Stellar, bad)
                .unwrap_err()
                .to_string(),
            format!("STELLAR address '{bad}' does not match its checksum")
        );
    }

    #[test]
    fn stellar_rejects_malformed() {
        let good = STELLAR_DOCS_EXAMPLE;
        for bad in [
            "",
            &good[..55],
            &format!("{good}A"),
            &good.to_ascii_lowercase(),
            &format!("{}1", &good[..55]), // '1' is not base32
            &format!("{}=", &good[..55]),
            &format!("A{}", &good[1..]), // wrong version character
        ] {
            assert!(
                matches!(
                    validate_address(CryptoNetwork::Stellar, bad),
                    Err(AddressError::StellarMalformed(_))
                ),
                "{bad:?}"
            );
        }
        // A valid muxed-looking or contract key is not an account id either.
        let contract = strkey(2 << 3, &[7; 32]);
        assert!(contract.starts_with('C'));
        assert!(validate_address(CryptoNetwork::Stellar, &contract).is_err());
    }

    #[test]
    fn stellar_secret_seed_is_refused_without_echo() {
        let seed = strkey(STELLAR_SEED_VERSION, &[42; 32]);
        assert!(seed.starts_with('S'));
        let err = validate_address(CryptoNetwork::Stellar, &seed).unwrap_err();
        assert_eq!(err, AddressError::StellarSecretSeed);
        assert!(!err.to_string().contains(&seed[1..]));
    }

    #[test]
    fn address_from_seed_is_valid_stable_and_distinct() {
        for network in CryptoNetwork::ALL {
            let a = address_from_seed(network, b"profile-1");
            let b = address_from_seed(network, b"profile-2");
            assert_eq!(validate_address(network, &a).as_deref(), Ok(a.as_str()));
            assert_eq!(validate_address(network, &b).as_deref(), Ok(b.as_str()));
            assert_ne!(a, b);
            assert_eq!(a, address_from_seed(network, b"profile-1"));
            assert!(validate_address(network, &address_from_seed(network, b"")).is_ok());
        }
        let evm = address_from_seed(CryptoNetwork::Ethereum, b"x");
        assert_eq!(evm.len(), 42);
        assert!(
            evm[2..].bytes().any(|b| b.is_ascii_uppercase()),
            "checksummed: {evm}"
        );
        assert_ne!(evm, address_from_seed(CryptoNetwork::Base, b"x"));
        assert!(address_from_seed(CryptoNetwork::Stellar, b"x").starts_with('G'));
    }

    #[test]
    fn tx_hash_formats() {
        let is_lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        for network in EVM {
            let h = tx_hash(network, b"withdrawal-1");
            assert_eq!(h.len(), 66);
            assert!(h.starts_with("0x") && is_lower_hex(&h[2..]), "{h}");
        }
        let sol = tx_hash(CryptoNetwork::Solana, b"withdrawal-1");
        let bytes = bs58::decode(&sol).into_vec().unwrap();
        assert_eq!(bytes.len(), 64);
        assert!((86..=88).contains(&sol.len()), "{sol}");
        let xlm = tx_hash(CryptoNetwork::Stellar, b"withdrawal-1");
        assert_eq!(xlm.len(), 64);
        assert!(is_lower_hex(&xlm), "{xlm}");

        for network in CryptoNetwork::ALL {
            assert_eq!(tx_hash(network, b"a"), tx_hash(network, b"a"));
            assert_ne!(tx_hash(network, b"a"), tx_hash(network, b"b"));
        }
        assert_ne!(
            tx_hash(CryptoNetwork::Ethereum, b"a"),
            tx_hash(CryptoNetwork::PolygonPos, b"a")
        );
    }

    #[test]
    fn crc16_xmodem_check_value() {
        // The standard check input for CRC catalogues.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        assert_eq!(crc16_xmodem(b""), 0);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(base32_decode("MZ"), None, "non-zero leftover bits");
        assert_eq!(base32_decode("M"), None, "too short for a byte");
        assert_eq!(base32_decode("mzxw6"), None, "lower case");
    }

    #[test]
    fn shown_escapes_and_truncates() {
        assert_eq!(shown("abc"), "abc");
        assert_eq!(shown("a\nb'"), "a\\nb\\'");
        let long = "x".repeat(100);
        assert_eq!(shown(&long), format!("{}…", "x".repeat(64)));
        assert_eq!(shown(&"x".repeat(64)), "x".repeat(64));
    }
}
