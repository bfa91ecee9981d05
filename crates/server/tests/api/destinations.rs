//! Fiat accounts and crypto destination addresses.
