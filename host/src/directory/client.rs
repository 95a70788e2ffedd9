//! [`Directory`]: one authenticated LDAP connection to Active Directory, with the operations the
//! sync engine needs. Each operation is bounded by the configured timeout and logged in a
//! `tracing` span with its DN; values and passwords are never logged.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use ldap3::adapters::PagedResults;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Mod, SearchEntry};
use tracing::{debug, instrument, warn};

use super::config::{DirectoryConfig, Transport};
use super::entry::{DirEntry, Modification, SearchScope, is_password_attribute};
use super::error::{DirectoryError, OpContext, Operation};
use super::escape::{escape_filter_value, parent_dn, rdn_attr};
use super::{tls, uac};

/// An open, bound connection. Operations take `&mut self`: one at a time per connection (AD
/// applies writes one at a time anyway).
pub struct Directory {
    ldap: Ldap,
    url: String,
    bind_dn: String,
    transport: Transport,
    timeout: Duration,
    page_size: i32,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("transport", &self.transport)
            .field("timeout", &self.timeout)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

type LdapOutcome = Result<LdapResult, LdapError>;

/// Opens a TCP connection to the URL's host and port with `TCP_NODELAY` set.
async fn tcp_nodelay(url: &str, timeout: Duration) -> io::Result<std::net::TcpStream> {
    let parsed =
        url::Url::parse(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let port = parsed
        .port()
        .unwrap_or(if parsed.scheme() == "ldaps" { 636 } else { 389 });
    let host = parsed
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .unwrap_or_default();
    let stream = tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no connection to {url} within {timeout:?}"),
        )
    })??;
    stream.set_nodelay(true)?;
    stream.into_std()
}

impl Directory {
    /// Connects (LDAPS, or LDAP with optional StartTLS), verifies the server certificate against
    /// `ca_file` when set, and binds as `bind_dn`.
    #[instrument(name = "directory.connect", skip_all, fields(url = %config.url, bind_dn = %config.bind_dn))]
    pub async fn connect(config: &DirectoryConfig) -> Result<Self, DirectoryError> {
        let transport = config.transport()?;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(config.timeout)
            .set_starttls(transport == Transport::StartTls);
        match (&config.ca_file, transport.is_tls()) {
            (Some(ca_file), true) => settings = settings.set_config(tls::client_config(ca_file)?),
            (Some(_), false) => warn!("ca_file is ignored: the connection is not encrypted"),
            (None, true) => {
                // ldap3 then builds its own config (system roots) with rustls' process-default
                // crypto provider; make sure there is one even if more providers get compiled in.
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            }
            (None, false) => {}
        }
        // Our own TCP connection with Nagle off: ldap3 leaves it on, and the bind then waits
        // ~40 ms on a delayed ACK (measured against Samba: 56 ms → 15 ms per connect).
        let stream = tcp_nodelay(&config.url, config.timeout)
            .await
            .map_err(|e| connect_error(config, transport, LdapError::from(e)))?;
        let settings = settings.set_std_stream(ldap3::StdStream::Tcp(stream));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &config.url)
            .await
            .map_err(|e| connect_error(config, transport, e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                warn!(error = %e, "directory connection ended with an error");
            }
        });
        if !transport.is_tls() {
            warn!(
                "binding over an unencrypted connection: the bind password crosses the network in clear text; use ldaps:// or StartTLS"
            );
        }
        let res = ldap
            .with_timeout(config.timeout)
            .simple_bind(&config.bind_dn, config.bind_password.expose())
            .await;
        let ctx = OpContext::new(
            &config.url,
            Operation::Bind,
            &config.bind_dn,
            config.timeout,
        );
        match res {
            Ok(r) if r.rc == 0 => {}
            Ok(r) => return Err(ctx.result_error(&r)),
            Err(e) => return Err(ctx.error(e)),
        }
        debug!(?transport, "bound to the directory");
        Ok(Directory {
            ldap,
            url: config.url.clone(),
            bind_dn: config.bind_dn.clone(),
            transport,
            timeout: config.timeout,
            page_size: config.page_size,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn bind_dn(&self) -> &str {
        &self.bind_dn
    }

    /// True when the connection is encrypted (LDAPS or StartTLS).
    pub fn is_tls(&self) -> bool {
        self.transport.is_tls()
    }

    /// All entries under `base` (subtree) matching `filter`, fetched in pages of the configured
    /// size. Referrals (AD returns some for the configuration partition) are skipped. An empty
    /// `attrs` asks for all user attributes; `["1.1"]` for none.
    pub async fn search_paged(
        &mut self,
        base: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<DirEntry>, DirectoryError> {
        self.search_paged_scoped(base, SearchScope::Subtree, filter, attrs)
            .await
    }

    /// Like [`Directory::search_paged`] with a chosen scope.
    #[instrument(name = "directory.search", level = "debug", skip_all, fields(base = %base, filter = %filter, ?scope))]
    pub async fn search_paged_scoped(
        &mut self,
        base: &str,
        scope: SearchScope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<DirEntry>, DirectoryError> {
        let entries = self
            .search_inner(Operation::Search, base, scope, filter, attrs)
            .await?;
        debug!(entries = entries.len(), "search done");
        Ok(entries)
    }

    /// The entry `dn` with `attrs` (empty: all user attributes), or `None` if it does not exist.
    #[instrument(name = "directory.get", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn get(
        &mut self,
        dn: &str,
        attrs: &[&str],
    ) -> Result<Option<DirEntry>, DirectoryError> {
        match self
            .search_inner(
                Operation::Read,
                dn,
                SearchScope::Base,
                "(objectClass=*)",
                attrs,
            )
            .await
        {
            Ok(mut entries) => Ok(entries.pop()),
            Err(e) if e.is_no_such_object() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `dn` with these attributes (attributes with no values are left out). Passwords
    /// belong in [`Directory::set_password`].
    #[instrument(name = "directory.add", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn add<A: AsRef<str>, V: AsRef<str>>(
        &mut self,
        dn: &str,
        attrs: &[(A, Vec<V>)],
    ) -> Result<(), DirectoryError> {
        let names: Vec<&str> = attrs.iter().map(|(a, _)| a.as_ref()).collect();
        self.refuse_password_in_clear(dn, &names)?;
        self.add_raw(dn, add_attrs(attrs), &names).await?;
        debug!("added");
        Ok(())
    }

    async fn add_raw(
        &mut self,
        dn: &str,
        attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
        names: &[&str],
    ) -> Result<(), DirectoryError> {
        let t = Instant::now();
        let res = self.ldap.with_timeout(self.timeout).add(dn, attrs).await;
        observe(Operation::Add, t);
        self.check(res, Operation::Add, dn, names)?;
        Ok(())
    }

    /// The schema's upper length limits (`rangeUpper`) of these attributes, by lower-cased
    /// name; attributes without a limit are absent. One search of the schema partition.
    #[instrument(name = "directory.attribute_limits", level = "debug", skip_all)]
    pub async fn attribute_limits(
        &mut self,
        attributes: &[&str],
    ) -> Result<HashMap<String, usize>, DirectoryError> {
        let mut out = HashMap::new();
        if attributes.is_empty() {
            return Ok(out);
        }
        let Some(root) = self.get("", &["schemaNamingContext"]).await? else {
            return Ok(out);
        };
        let Some(schema) = root.first("schemaNamingContext").map(str::to_owned) else {
            return Ok(out);
        };
        let clauses: String = attributes
            .iter()
            .map(|a| {
                format!(
                    "(lDAPDisplayName={})",
                    super::escape::escape_filter_value(a)
                )
            })
            .collect();
        let filter = format!("(&(objectClass=attributeSchema)(|{clauses}))");
        for e in self
            .search_paged(&schema, &filter, &["lDAPDisplayName", "rangeUpper"])
            .await?
        {
            if let (Some(name), Some(Ok(max))) = (
                e.first("lDAPDisplayName"),
                e.first("rangeUpper").map(str::parse::<usize>),
            ) {
                out.insert(name.to_ascii_lowercase(), max);
            }
        }
        Ok(out)
    }

    /// Creates `dn` with these attributes and the password `password` (AD's `unicodePwd`) in one
    /// add, so the account can be created enabled (`userAccountControl: 512` among `attrs`).
    /// Refused, without sending anything, unless the connection is encrypted.
    #[instrument(name = "directory.add_with_password", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn add_with_password<A: AsRef<str>, V: AsRef<str>>(
        &mut self,
        dn: &str,
        attrs: &[(A, Vec<V>)],
        password: &str,
    ) -> Result<(), DirectoryError> {
        const ATTR: &str = "unicodePwd";
        let mut names: Vec<&str> = attrs.iter().map(|(a, _)| a.as_ref()).collect();
        names.push(ATTR);
        self.refuse_password_in_clear(dn, &names)?;
        let mut ldap_attrs = add_attrs(attrs);
        ldap_attrs.push((
            ATTR.as_bytes().to_vec(),
            HashSet::from([unicode_pwd(password)]),
        ));
        self.add_raw(dn, ldap_attrs, &names).await?;
        debug!("added with a password");
        Ok(())
    }

    /// Applies `mods` to `dn` in one atomic modify operation. An empty list does nothing.
    #[instrument(name = "directory.modify", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn modify(&mut self, dn: &str, mods: &[Modification]) -> Result<(), DirectoryError> {
        let mods: Vec<&Modification> = mods
            .iter()
            .filter(|m| !matches!(m, Modification::Add { values, .. } if values.is_empty()))
            .collect();
        if mods.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = mods.iter().map(|m| m.attr()).collect();
        self.refuse_password_in_clear(dn, &names)?;
        let ldap_mods: Vec<Mod<Vec<u8>>> = mods.iter().map(|m| m.to_ldap()).collect();
        let t = Instant::now();
        let res = self
            .ldap
            .with_timeout(self.timeout)
            .modify(dn, ldap_mods)
            .await;
        observe(Operation::Modify, t);
        self.check(res, Operation::Modify, dn, &names)?;
        debug!(attributes = ?names, "modified");
        Ok(())
    }

    /// Renames `dn` to `new_rdn` (an escaped RDN such as `CN=Ann Smith`, see
    /// [`super::escape::rdn`]) and, with `new_parent`, moves it there. The old RDN value is
    /// removed. Returns the new DN.
    #[instrument(name = "directory.rename", level = "debug", skip_all, fields(dn = %dn, new_rdn = %new_rdn, new_parent = ?new_parent))]
    pub async fn rename(
        &mut self,
        dn: &str,
        new_rdn: &str,
        new_parent: Option<&str>,
    ) -> Result<String, DirectoryError> {
        let parent = match new_parent.or_else(|| parent_dn(dn)) {
            Some(parent) => parent.to_owned(),
            None => {
                return Err(DirectoryError::Config {
                    reason: format!("cannot rename {dn}: it has no parent DN"),
                });
            }
        };
        let new_dn = format!("{new_rdn},{parent}");
        let t = Instant::now();
        let res = self
            .ldap
            .with_timeout(self.timeout)
            .modifydn(dn, new_rdn, true, new_parent)
            .await;
        observe(Operation::Rename, t);
        let what = format!("{dn} to {new_dn}");
        self.check(res, Operation::Rename, &what, &[])?;
        debug!(%new_dn, "renamed");
        Ok(new_dn)
    }

    /// Deletes the leaf entry `dn`.
    #[instrument(name = "directory.delete", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn delete(&mut self, dn: &str) -> Result<(), DirectoryError> {
        let t = Instant::now();
        let res = self.ldap.with_timeout(self.timeout).delete(dn).await;
        observe(Operation::Delete, t);
        self.check(res, Operation::Delete, dn, &[])?;
        debug!("deleted");
        Ok(())
    }

    /// Sets the password of `dn` (AD's `unicodePwd`: the UTF-16LE bytes of the password in
    /// double quotes). Refused, without sending anything, unless the connection is encrypted.
    #[instrument(name = "directory.set_password", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn set_password(&mut self, dn: &str, password: &str) -> Result<(), DirectoryError> {
        const ATTR: &str = "unicodePwd";
        self.refuse_password_in_clear(dn, &[ATTR])?;
        let mods = vec![Mod::Replace(
            ATTR.as_bytes().to_vec(),
            HashSet::from([unicode_pwd(password)]),
        )];
        let t = Instant::now();
        let res = self.ldap.with_timeout(self.timeout).modify(dn, mods).await;
        observe(Operation::Modify, t);
        self.check(res, Operation::SetPassword, dn, &[ATTR])?;
        debug!("password set");
        Ok(())
    }

    /// Enables the account: clears `ACCOUNTDISABLE` (and `PASSWD_NOTREQD`, which AD sets on users
    /// created without a password), keeping the other `userAccountControl` bits. Returns the new
    /// value (`512` for a plain user); writes nothing when already enabled.
    #[instrument(name = "directory.enable", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn enable(&mut self, dn: &str) -> Result<u32, DirectoryError> {
        self.update_uac(dn, Operation::Enable, uac::enabled).await
    }

    /// Disables the account: sets `ACCOUNTDISABLE`, keeping the other bits (`512 → 514`).
    /// Returns the new value; writes nothing when already disabled.
    #[instrument(name = "directory.disable", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn disable(&mut self, dn: &str) -> Result<u32, DirectoryError> {
        self.update_uac(dn, Operation::Disable, uac::disabled).await
    }

    /// Adds `member_dn` to the group. Returns false (not an error) when it already was a member.
    #[instrument(name = "directory.add_member", level = "debug", skip_all, fields(group = %group_dn, member = %member_dn))]
    pub async fn add_member(
        &mut self,
        group_dn: &str,
        member_dn: &str,
    ) -> Result<bool, DirectoryError> {
        let res = self.member_change(group_dn, member_dn, true).await;
        let what = format!("{group_dn} (member {member_dn})");
        match self.check(res, Operation::AddMember, &what, &["member"]) {
            Ok(_) => Ok(true),
            // 68: AD's "already a member"; 20: attributeOrValueExists (other servers).
            Err(e) if matches!(e.rc(), Some(20 | 68)) => {
                debug!("already a member");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes `member_dn` from the group. Returns false (not an error) when it was not a member.
    #[instrument(name = "directory.remove_member", level = "debug", skip_all, fields(group = %group_dn, member = %member_dn))]
    pub async fn remove_member(
        &mut self,
        group_dn: &str,
        member_dn: &str,
    ) -> Result<bool, DirectoryError> {
        let res = self.member_change(group_dn, member_dn, false).await;
        let what = format!("{group_dn} (member {member_dn})");
        match self.check(res, Operation::RemoveMember, &what, &["member"]) {
            Ok(_) => Ok(true),
            // 16: noSuchAttribute, the standard "not a member".
            Err(e) if e.rc() == Some(16) => Ok(false),
            // AD answers 53 (unwilling) for a non-member; 53 can mean other things, so look.
            Err(e) if e.rc() == Some(53) => {
                if self.is_member(group_dn, member_dn).await? {
                    Err(e)
                } else {
                    debug!("was not a member");
                    Ok(false)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Adds (or removes) many members in one modify. AD applies it whole or not at all: a
    /// member that is already there (or, for a removal, not there) fails the whole batch, so
    /// callers fall back to [`Directory::add_member`] / [`Directory::remove_member`] one by one.
    #[instrument(name = "directory.change_members", level = "debug", skip_all, fields(group = %group_dn, members = members.len(), add))]
    pub async fn change_members(
        &mut self,
        group_dn: &str,
        members: &[String],
        add: bool,
    ) -> Result<(), DirectoryError> {
        if members.is_empty() {
            return Ok(());
        }
        let attr = b"member".to_vec();
        let values: HashSet<Vec<u8>> = members.iter().map(|m| m.as_bytes().to_vec()).collect();
        let change = if add {
            Mod::Add(attr, values)
        } else {
            Mod::Delete(attr, values)
        };
        let res = self
            .ldap
            .with_timeout(self.timeout)
            .modify(group_dn, vec![change])
            .await;
        let operation = if add {
            Operation::AddMember
        } else {
            Operation::RemoveMember
        };
        let what = format!("{group_dn} ({} members)", members.len());
        self.check(res, operation, &what, &["member"])?;
        Ok(())
    }

    /// True when the group's `member` attribute holds `member_dn`.
    pub async fn is_member(
        &mut self,
        group_dn: &str,
        member_dn: &str,
    ) -> Result<bool, DirectoryError> {
        let filter = format!("(member={})", escape_filter_value(member_dn));
        let found = self
            .search_inner(
                Operation::Read,
                group_dn,
                SearchScope::Base,
                &filter,
                &["1.1"],
            )
            .await?;
        Ok(!found.is_empty())
    }

    /// Creates the OU `dn` and any missing parent OUs. Only `OU=` components are created; a
    /// missing parent of another kind is an error. Returns true when something was created.
    #[instrument(name = "directory.ensure_ou", level = "debug", skip_all, fields(dn = %dn))]
    pub async fn ensure_ou(&mut self, dn: &str) -> Result<bool, DirectoryError> {
        let mut missing: Vec<String> = Vec::new();
        let mut current = dn.to_owned();
        while self.get(&current, &["1.1"]).await?.is_none() {
            let is_ou = rdn_attr(&current).is_some_and(|a| a.eq_ignore_ascii_case("OU"));
            let parent = parent_dn(&current).map(str::to_owned);
            match (is_ou, parent) {
                (true, Some(parent)) => {
                    missing.push(current);
                    current = parent;
                }
                _ => {
                    return Err(DirectoryError::NoSuchObject {
                        operation: Operation::EnsureOu,
                        dn: current,
                        diagnostic: String::new(),
                    });
                }
            }
        }
        for ou in missing.iter().rev() {
            match self
                .add(ou, &[("objectClass", vec!["organizationalUnit"])])
                .await
            {
                Ok(()) => debug!(ou = %ou, "created OU"),
                Err(DirectoryError::AlreadyExists {
                    attribute: None, ..
                }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(!missing.is_empty())
    }

    /// Ends the session politely. Dropping a `Directory` also closes the connection.
    #[instrument(name = "directory.unbind", level = "debug", skip_all)]
    pub async fn unbind(mut self) -> Result<(), DirectoryError> {
        let res = self.ldap.unbind().await;
        res.map_err(|e| {
            OpContext::new(&self.url, Operation::Unbind, &self.url, self.timeout).error(e)
        })
    }

    // --- internals ---

    async fn search_inner(
        &mut self,
        operation: Operation,
        base: &str,
        scope: SearchScope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<DirEntry>, DirectoryError> {
        let mut entries = Vec::new();
        self.search_each_inner(operation, base, scope, filter, attrs, |e| entries.push(e))
            .await?;
        Ok(entries)
    }

    /// Like [`Directory::search_paged`], handing each entry to `each` as it arrives instead of
    /// collecting them: a read of every account holds one page at a time. Returns how many
    /// entries were handed over.
    #[instrument(name = "directory.search", level = "debug", skip_all, fields(base = %base, filter = %filter))]
    pub async fn search_each(
        &mut self,
        base: &str,
        filter: &str,
        attrs: &[&str],
        each: impl FnMut(DirEntry),
    ) -> Result<usize, DirectoryError> {
        let n = self
            .search_each_inner(
                Operation::Search,
                base,
                SearchScope::Subtree,
                filter,
                attrs,
                each,
            )
            .await?;
        debug!(entries = n, "search done");
        Ok(n)
    }

    async fn search_each_inner(
        &mut self,
        operation: Operation,
        base: &str,
        scope: SearchScope,
        filter: &str,
        attrs: &[&str],
        each: impl FnMut(DirEntry),
    ) -> Result<usize, DirectoryError> {
        let t = Instant::now();
        let res = self
            .search_untimed(operation, base, scope, filter, attrs, each)
            .await;
        observe(operation, t);
        res
    }

    async fn search_untimed(
        &mut self,
        operation: Operation,
        base: &str,
        scope: SearchScope,
        filter: &str,
        attrs: &[&str],
        mut each: impl FnMut(DirEntry),
    ) -> Result<usize, DirectoryError> {
        if ldap3::parse_filter(filter).is_err() {
            return Err(DirectoryError::InvalidFilter {
                base: base.to_owned(),
                filter: filter.to_owned(),
            });
        }
        let attrs: Vec<String> = attrs.iter().map(|a| (*a).to_owned()).collect();
        let started = self
            .ldap
            .with_timeout(self.timeout)
            .streaming_search_with(
                PagedResults::new(self.page_size),
                base,
                scope.into(),
                filter,
                attrs,
            )
            .await;
        let ctx = OpContext::new(&self.url, operation, base, self.timeout);
        let mut stream = started.map_err(|e| ctx.error(e))?;
        let mut count = 0usize;
        let mut referrals = 0usize;
        loop {
            match stream.next().await {
                Ok(Some(item)) if item.is_ref() || item.is_intermediate() => referrals += 1,
                Ok(Some(item)) => {
                    count += 1;
                    each(DirEntry::from(SearchEntry::construct(item)));
                }
                Ok(None) => break,
                Err(e) => {
                    // The search already failed; a failure to end it adds nothing to report.
                    if let Err(also) = stream.finish().await.success() {
                        debug!(error = %also, "ending the failed search failed too");
                    }
                    return Err(ctx.error(e));
                }
            }
        }
        let res = stream.finish().await;
        if referrals > 0 {
            debug!(referrals, "ignored referrals");
        }
        match res.rc {
            0 | 10 => Ok(count),
            _ => Err(ctx.result_error(&res)),
        }
    }

    async fn member_change(&mut self, group_dn: &str, member_dn: &str, add: bool) -> LdapOutcome {
        let attr = b"member".to_vec();
        let values = HashSet::from([member_dn.as_bytes().to_vec()]);
        let change = if add {
            Mod::Add(attr, values)
        } else {
            Mod::Delete(attr, values)
        };
        let t = Instant::now();
        let res = self
            .ldap
            .with_timeout(self.timeout)
            .modify(group_dn, vec![change])
            .await;
        observe(Operation::Modify, t);
        res
    }

    async fn update_uac(
        &mut self,
        dn: &str,
        operation: Operation,
        change: fn(u32) -> u32,
    ) -> Result<u32, DirectoryError> {
        const ATTR: &str = "userAccountControl";
        let entry = self
            .get(dn, &[ATTR])
            .await?
            .ok_or_else(|| DirectoryError::NoSuchObject {
                operation,
                dn: dn.to_owned(),
                diagnostic: String::new(),
            })?;
        let invalid = |value: &str, reason: &str| DirectoryError::InvalidValue {
            dn: dn.to_owned(),
            attribute: ATTR.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let raw = entry.first(ATTR).ok_or_else(|| {
            invalid(
                "",
                "it is missing, so this is not a user or computer account",
            )
        })?;
        let old = uac::parse(raw).ok_or_else(|| invalid(raw, "not a 32-bit number"))?;
        let new = change(old);
        if new == old {
            debug!(uac = new, "userAccountControl already right");
            return Ok(new);
        }
        let mods = vec![Mod::Replace(
            ATTR.as_bytes().to_vec(),
            HashSet::from([new.to_string().into_bytes()]),
        )];
        let t = Instant::now();
        let res = self.ldap.with_timeout(self.timeout).modify(dn, mods).await;
        observe(Operation::Modify, t);
        self.check(res, operation, dn, &[ATTR])?;
        debug!(old, new, "userAccountControl changed");
        Ok(new)
    }

    fn refuse_password_in_clear(&self, dn: &str, attrs: &[&str]) -> Result<(), DirectoryError> {
        if self.transport.is_tls() {
            return Ok(());
        }
        match attrs.iter().find(|a| is_password_attribute(a)) {
            Some(attr) => Err(DirectoryError::InsecureConnection {
                url: self.url.clone(),
                dn: dn.to_owned(),
                attribute: (*attr).to_owned(),
            }),
            None => Ok(()),
        }
    }

    fn check(
        &self,
        res: LdapOutcome,
        operation: Operation,
        dn: &str,
        attrs: &[&str],
    ) -> Result<LdapResult, DirectoryError> {
        let ctx = OpContext::new(&self.url, operation, dn, self.timeout).with_attrs(attrs);
        match res {
            Ok(r) if r.rc == 0 => Ok(r),
            Ok(r) => Err(ctx.result_error(&r)),
            Err(e) => Err(ctx.error(e)),
        }
    }
}

/// Maps a failure to open the connection (TCP, TLS, StartTLS, timeout).
fn connect_error(config: &DirectoryConfig, transport: Transport, err: LdapError) -> DirectoryError {
    let url = config.url.clone();
    let tls_error = |ca_check_failed: bool, reason: String| DirectoryError::Tls {
        url: config.url.clone(),
        ca_file: config.ca_file.clone(),
        ca_check_failed,
        reason,
    };
    match err {
        LdapError::Io { source } => {
            if let Some(e) = tls::rustls_error(&source) {
                return tls_error(tls::is_certificate_rejection(e), e.to_string());
            }
            let handshake_cut = matches!(
                source.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            );
            if transport.is_tls() && handshake_cut {
                tls_error(
                    false,
                    format!(
                        "the server closed the connection during the handshake ({source}); is this a TLS port?"
                    ),
                )
            } else {
                DirectoryError::Connect {
                    url,
                    reason: source.to_string(),
                }
            }
        }
        LdapError::Rustls { source } => {
            tls_error(tls::is_certificate_rejection(&source), source.to_string())
        }
        LdapError::Timeout { .. } => DirectoryError::Connect {
            url,
            reason: format!("no answer within {:?}", config.timeout),
        },
        LdapError::LdapResult { result } if transport == Transport::StartTls => tls_error(
            false,
            format!(
                "the server refused StartTLS: LDAP result {} {}",
                result.rc, result.text
            ),
        ),
        other => OpContext::new(&config.url, Operation::Connect, &config.url, config.timeout)
            .error(other),
    }
}

/// AD's `unicodePwd` value: the UTF-16LE bytes of the password in double quotes.
fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Attributes for an add, as bytes; attributes with no values are left out.
fn add_attrs<A: AsRef<str>, V: AsRef<str>>(
    attrs: &[(A, Vec<V>)],
) -> Vec<(Vec<u8>, HashSet<Vec<u8>>)> {
    attrs
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(a, values)| {
            let set = values.iter().map(|v| v.as_ref().as_bytes().to_vec());
            (a.as_ref().as_bytes().to_vec(), set.collect())
        })
        .collect()
}

/// Records an LDAP operation's latency for `/metrics` ([`crate::telemetry`]).
fn observe(operation: Operation, started: Instant) {
    crate::telemetry::observe_ldap_operation(operation.metric_label(), started.elapsed());
}
