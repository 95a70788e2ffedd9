//! `userAccountControl` flags (MS-ADTS 2.2.16) and helpers to enable and disable accounts.
//!
//! A new AD user without a password reads back `546` (`NORMAL_ACCOUNT | PASSWD_NOTREQD |
//! ACCOUNTDISABLE`); an enabled one `512`, a disabled one `514`.

pub const SCRIPT: u32 = 0x0000_0001;
pub const ACCOUNTDISABLE: u32 = 0x0000_0002;
pub const HOMEDIR_REQUIRED: u32 = 0x0000_0008;
pub const LOCKOUT: u32 = 0x0000_0010;
pub const PASSWD_NOTREQD: u32 = 0x0000_0020;
pub const PASSWD_CANT_CHANGE: u32 = 0x0000_0040;
pub const ENCRYPTED_TEXT_PWD_ALLOWED: u32 = 0x0000_0080;
pub const TEMP_DUPLICATE_ACCOUNT: u32 = 0x0000_0100;
pub const NORMAL_ACCOUNT: u32 = 0x0000_0200;
pub const INTERDOMAIN_TRUST_ACCOUNT: u32 = 0x0000_0800;
pub const WORKSTATION_TRUST_ACCOUNT: u32 = 0x0000_1000;
pub const SERVER_TRUST_ACCOUNT: u32 = 0x0000_2000;
pub const DONT_EXPIRE_PASSWORD: u32 = 0x0001_0000;
pub const MNS_LOGON_ACCOUNT: u32 = 0x0002_0000;
pub const SMARTCARD_REQUIRED: u32 = 0x0004_0000;
pub const TRUSTED_FOR_DELEGATION: u32 = 0x0008_0000;
pub const NOT_DELEGATED: u32 = 0x0010_0000;
pub const USE_DES_KEY_ONLY: u32 = 0x0020_0000;
pub const DONT_REQ_PREAUTH: u32 = 0x0040_0000;
pub const PASSWORD_EXPIRED: u32 = 0x0080_0000;
pub const TRUSTED_TO_AUTH_FOR_DELEGATION: u32 = 0x0100_0000;
pub const PARTIAL_SECRETS_ACCOUNT: u32 = 0x0400_0000;

/// An enabled normal user (`512`).
pub const ENABLED_USER: u32 = NORMAL_ACCOUNT;
/// A disabled normal user (`514`).
pub const DISABLED_USER: u32 = NORMAL_ACCOUNT | ACCOUNTDISABLE;

/// Filter matching disabled accounts (bitwise AND matching rule).
pub const DISABLED_FILTER: &str = "(userAccountControl:1.2.840.113556.1.4.803:=2)";

/// True when the `ACCOUNTDISABLE` bit is set.
pub fn is_disabled(uac: u32) -> bool {
    uac & ACCOUNTDISABLE != 0
}

/// The value after enabling: clears `ACCOUNTDISABLE`, and also `PASSWD_NOTREQD`, which AD sets on
/// users created without a password (an enabled account must require one). Other bits are kept:
/// `514 → 512`, `546 → 512`, `66050 → 66048`.
pub fn enabled(uac: u32) -> u32 {
    uac & !(ACCOUNTDISABLE | PASSWD_NOTREQD)
}

/// The value after disabling: sets `ACCOUNTDISABLE`, keeps other bits (`512 → 514`).
pub fn disabled(uac: u32) -> u32 {
    uac | ACCOUNTDISABLE
}

/// Parses a `userAccountControl` value as AD sends it: a decimal 32-bit integer, which some tools
/// write as a negative signed number.
pub fn parse(value: &str) -> Option<u32> {
    let v = value.trim();
    v.parse::<u32>()
        .ok()
        .or_else(|| v.parse::<i32>().ok().map(|n| n.cast_unsigned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enable_and_disable_keep_other_bits() {
        assert_eq!(enabled(514), 512);
        assert_eq!(enabled(546), 512);
        assert_eq!(enabled(512), 512);
        assert_eq!(disabled(512), 514);
        assert_eq!(disabled(514), 514);
        let with_flags = NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD | SMARTCARD_REQUIRED;
        assert_eq!(enabled(disabled(with_flags)), with_flags);
        assert!(is_disabled(546));
        assert!(!is_disabled(512));
    }

    #[test]
    fn parses_decimal_and_signed() {
        assert_eq!(parse("512"), Some(512));
        assert_eq!(parse(" 514 "), Some(514));
        assert_eq!(parse("-2147483136"), Some(0x8000_0200));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse(""), None);
    }
}
