//! Active Directory / LDAP access over `ldap3` (async, tokio, rustls).
//!
//! - [`Directory`]: one bound connection: paged search, read, add, modify, rename/move, delete,
//!   password, enable/disable, group membership, OU creation.
//! - [`DirectoryConfig`]: URL (`ldaps://` or `ldap://` + StartTLS), bind DN and password, the CA
//!   file the server certificate is checked against, timeout and page size.
//! - [`escape`]: DN and filter escaping for untrusted (HR) values, and DN helpers.
//! - [`uac`]: `userAccountControl` flags.
//! - [`DirectoryError`]: what failed, on which DN and attribute, in words an admin can act on.
//!
//! Passwords (`unicodePwd`) are only ever sent over an encrypted connection.

mod client;
mod config;
mod entry;
mod error;
pub mod escape;
mod pool;
mod tls;
pub mod uac;

pub use client::Directory;
pub use config::{DirectoryConfig, SecretString, Transport};
pub use entry::{DirEntry, Modification, SearchScope};
pub use error::{DirectoryError, Operation};
pub use pool::{DirectoryPool, PooledDirectory};
