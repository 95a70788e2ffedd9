//! A brownfield directory: accounts that existed before hrsync, seeded into a test's OU before
//! hrsync's first run, and helpers to check that hrsync leaves them alone.
//!
//! [`seed`] creates, under `OU=Legacy,{ou}` (inside the test's search base, outside the managed
//! OUs `OU=Staff,{ou}` and `OU=Disabled,{ou}`), unmanaged accounts (no `employeeNumber`) that take
//! the natural login name of part of the simulator's active people, in three styles, rotating:
//!
//! - [`Style::NtLogin`]: `sAMAccountName` = the natural name (`first.last`);
//! - [`Style::Upn`]: `sAMAccountName` = `u<digits>`, `userPrincipalName` = `first.last@<realm>`
//!   (which claims `first.last` as a sAMAccountName too: AD's names share namespaces);
//! - [`Style::MailOnly`]: `sAMAccountName` = `m<digits>`, `mail` = the person's `work_email`.
//!
//! It also creates one protected account (`adminCount: 1`, disabled, in Domain Admins when the
//! directory allows it) in `OU=Staff,{ou}` — inside a managed OU, so that "protected" is the only
//! reason hrsync has to refuse it — whose `mail` is an active person's `work_email`.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::{BTreeSet, HashMap, HashSet};

use hrsync::directory::escape::escape_dn_value;
use hrsync::directory::{DirEntry, DirectoryError};
use serde_json::Value;

use crate::fixtures::AdEnv;
use crate::world::{World, connect, delete_tree};

/// Held for the whole of a brownfield test (see [`process_lock`]).
pub struct ProcessLock(#[allow(dead_code)] std::fs::File);

/// Waits for, then holds, a lock file shared by every process on this machine: two processes
/// running these tests at once would use the same OUs and the same names (same seeds) in the
/// shared domain and wreck each other's accounts. `AD` only serializes the tests of one process.
/// Take it right after the `AD` guard; it is released when dropped.
pub fn process_lock() -> ProcessLock {
    let path = std::env::temp_dir().join("hrsync-brownfield-tests.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    ProcessLock(file)
}

/// Deletes a test's OU when the test panics (see [`tidy_on_panic`]).
pub struct TidyOnPanic {
    ad: AdEnv,
    ou: String,
}

/// A guard that deletes the world's OU if the test panics before [`World::cleanup`], so that a
/// failing test does not leave hundreds of accounts holding names in the shared domain (names
/// other tests then cannot have). Set `HRSYNC_KEEP_FAILED=1` to keep them for a look. Declare it
/// after the `AD` lock guard and the world, so that it runs while the lock is still held.
pub fn tidy_on_panic(world: &World) -> TidyOnPanic {
    TidyOnPanic {
        ad: world.ad.clone(),
        ou: world.ou.clone(),
    }
}

impl Drop for TidyOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() || std::env::var_os("HRSYNC_KEEP_FAILED").is_some() {
            return;
        }
        let (ad, ou) = (self.ad.clone(), self.ou.clone());
        // The test's runtime is unwinding on this thread: delete from a runtime of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut d = connect(&ad).await;
                delete_tree(&mut d, &ou).await;
                let _ = d.unbind().await;
            });
        })
        .join();
    }
}

/// Characters Active Directory refuses in `sAMAccountName` (as the `samsafe` filter removes them).
const SAM_FORBIDDEN: &[char] = &[
    '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@',
];

/// How a seeded account claims a person's natural name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// `sAMAccountName` = `first.last`.
    NtLogin,
    /// `sAMAccountName` = `u<digits>`, `userPrincipalName` = `first.last@<realm>`.
    Upn,
    /// `sAMAccountName` = `m<digits>`, `mail` = the person's `work_email`.
    MailOnly,
}

/// One account [`seed`] created.
#[derive(Debug, Clone)]
pub struct SeededAccount {
    pub style: Style,
    /// The person whose natural name (or work email) it takes.
    pub person_id: String,
    /// The person's natural sAMAccountName (what hrsync's first candidate renders).
    pub natural: String,
    pub dn: String,
    pub sam: String,
    pub upn: Option<String>,
    pub mail: Option<String>,
}

/// The protected account [`seed`] created.
#[derive(Debug, Clone)]
pub struct Protected {
    pub dn: String,
    pub sam: String,
    /// The active person whose `work_email` it carries as `mail`.
    pub person_id: String,
    pub mail: String,
    /// Whether it could be added to `CN=Domain Admins,CN=Users,<domain>`.
    pub in_domain_admins: bool,
}

/// How many accounts of each style were created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StyleCounts {
    pub nt_login: usize,
    pub upn: usize,
    pub mail_only: usize,
}

/// What [`seed`] did.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// `OU=Legacy,{ou}`.
    pub legacy_ou: String,
    /// The AD DNS domain (`example.test` for `DC=example,DC=test`).
    pub realm: String,
    pub accounts: Vec<SeededAccount>,
    /// Ids of the people an account was created for (any style), in creation order.
    pub collisions: Vec<String>,
    pub counts: StyleCounts,
    /// People chosen but not seeded, with the reason (name taken elsewhere in the domain, …).
    pub skipped: Vec<(String, String)>,
    pub protected: Protected,
}

impl Seeded {
    /// The seeded accounts of one style.
    pub fn of(&self, style: Style) -> impl Iterator<Item = &SeededAccount> {
        self.accounts.iter().filter(move |a| a.style == style)
    }

    /// Every name a seeded account claims in the sAMAccountName namespace (its sAMAccountName and
    /// the prefix of its UPN), lower-case.
    pub fn claimed_names(&self) -> HashSet<String> {
        let mut out = HashSet::new();
        for a in &self.accounts {
            out.insert(a.sam.to_lowercase());
            if let Some(prefix) = a.upn.as_deref().and_then(upn_prefix) {
                out.insert(prefix.to_lowercase());
            }
        }
        out.insert(self.protected.sam.to_lowercase());
        out
    }
}

/// The AD DNS domain of a domain DN: `DC=example,DC=test` → `example.test`.
pub fn realm(domain_dn: &str) -> String {
    domain_dn
        .split(',')
        .filter_map(|rdn| {
            let (attr, value) = rdn.trim().split_once('=')?;
            attr.trim()
                .eq_ignore_ascii_case("DC")
                .then(|| value.trim().to_lowercase())
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The part of a UPN before the last `@`.
pub fn upn_prefix(upn: &str) -> Option<&str> {
    upn.rsplit_once('@').map(|(prefix, _)| prefix)
}

/// A string field of `v`, if it is a non-blank string.
fn text_of<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| v[*k].as_str())
        .filter(|s| !s.trim().is_empty())
}

/// `(first_name, last_name)` as the Remote connector derives them from an employment's detail:
/// `basic_information` names when there is a given name, else `full_name` split at the first
/// run of white space.
pub fn person_names(e: &Value) -> Option<(String, Option<String>)> {
    let basic = &e["basic_information"];
    let given = text_of(basic, &["given_name", "first_name"]);
    let surname = text_of(basic, &["surname", "last_name", "family_name"]);
    match given {
        Some(g) => Some((g.to_string(), surname.map(str::to_string))),
        None => {
            let full = e["full_name"].as_str().filter(|s| !s.trim().is_empty())?;
            let mut words = full.split_whitespace();
            let first = words.next()?.to_string();
            let rest: Vec<&str> = words.collect();
            Some((first, (!rest.is_empty()).then(|| rest.join(" "))))
        }
    }
}

/// `value|ascii|lower|samsafe`.
fn sam_part(value: &str) -> String {
    deunicode::deunicode_with_tofu(value, "")
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !SAM_FORBIDDEN.contains(c))
        .collect()
}

/// The person's natural sAMAccountName: the test config's first candidate
/// (`first|ascii|lower|samsafe` + `.` + `last|ascii|lower|samsafe`), cut to 20 characters with no
/// trailing separator; `None` when it renders blank.
pub fn natural_sam(e: &Value) -> Option<String> {
    let (first, last) = person_names(e)?;
    let mut sam = sam_part(&first);
    if let Some(last) = last {
        sam.push('.');
        sam.push_str(&sam_part(&last));
    }
    let cut: String = sam.chars().take(20).collect();
    let cut = cut.trim_end_matches(['.', '-', '_', ' ']).to_string();
    (!cut.trim().is_empty()).then_some(cut)
}

/// Three digits that differ between tests (from the OU's name), so that the `u…`/`m…` names of
/// two tests never meet in the shared domain.
pub fn tag(ou: &str) -> u32 {
    // FNV-1a.
    let mut h: u32 = 0x811c_9dc5;
    for b in ou.to_lowercase().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    100 + h % 900
}

/// An account to create outside hrsync.
#[derive(Debug, Clone, Default)]
pub struct LegacyAccount {
    /// The CN (cut to 64 characters and DN-escaped here).
    pub cn: String,
    pub sam: String,
    pub upn: Option<String>,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    /// `userAccountControl` at creation: 512 (enabled; Samba accepts it without a password),
    /// 514 (disabled).
    pub uac: u32,
    /// Sets `adminCount: 1`.
    pub admin_count: bool,
}

/// Creates `account` under `parent` (creating the OU if needed); returns its DN.
pub async fn add_legacy_account(
    world: &World,
    parent: &str,
    account: &LegacyAccount,
) -> Result<String, DirectoryError> {
    let mut d = connect(&world.ad).await;
    let _ = d.ensure_ou(parent).await;
    let r = add_with(&mut d, parent, account).await;
    let _ = d.unbind().await;
    r
}

async fn add_with(
    d: &mut hrsync::directory::Directory,
    parent: &str,
    a: &LegacyAccount,
) -> Result<String, DirectoryError> {
    let cn: String = a.cn.trim().chars().take(64).collect();
    let dn = format!("CN={},{parent}", escape_dn_value(cn.trim()));
    let mut attrs: Vec<(&str, Vec<String>)> = vec![
        (
            "objectClass",
            vec!["top", "person", "organizationalPerson", "user"]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
        ("sAMAccountName", vec![a.sam.clone()]),
        ("userAccountControl", vec![a.uac.to_string()]),
    ];
    if let Some(upn) = &a.upn {
        attrs.push(("userPrincipalName", vec![upn.clone()]));
    }
    if let Some(mail) = &a.mail {
        attrs.push(("mail", vec![mail.clone()]));
    }
    if let Some(name) = &a.display_name {
        let name: String = name.trim().chars().take(256).collect();
        if !name.is_empty() {
            attrs.push(("displayName", vec![name]));
        }
    }
    if a.admin_count {
        attrs.push(("adminCount", vec!["1".into()]));
    }
    d.add(&dn, &attrs).await?;
    Ok(dn)
}

/// Whether a person was picked: about `share` of them, spread evenly over the list.
fn picked(i: usize, share: f64) -> bool {
    let share = share.clamp(0.0, 1.0);
    ((i + 1) as f64 * share).floor() > (i as f64 * share).floor()
}

/// Seeds the brownfield (see the module documentation). Call it before hrsync's first run.
///
/// About `share` of the active people with a natural name get a colliding account. When the name
/// is already taken (by an account seeded here for a namesake, or elsewhere in the shared domain),
/// the person is skipped and listed in [`Seeded::skipped`]. [`Style::MailOnly`] needs a `work_email`: without one the person
/// gets an [`Style::NtLogin`] account instead.
///
/// # Panics
/// If the protected account cannot be created (no active person with a work email left).
pub async fn seed(world: &World, share: f64) -> Seeded {
    let legacy_ou = format!("OU=Legacy,{}", world.ou);
    let staff_ou = format!("OU=Staff,{}", world.ou);
    let realm = realm(&world.ad.base_dn);
    let tag = tag(&world.ou);
    let people = world.sim().employments();
    let active: Vec<&Value> = people.iter().filter(|e| e["status"] == "active").collect();

    let mut d = connect(&world.ad).await;
    d.ensure_ou(&legacy_ou).await.unwrap();
    d.ensure_ou(&staff_ou).await.unwrap();

    let mut seeded = Seeded {
        legacy_ou: legacy_ou.clone(),
        realm: realm.clone(),
        accounts: Vec::new(),
        collisions: Vec::new(),
        counts: StyleCounts::default(),
        skipped: Vec::new(),
        protected: Protected {
            dn: String::new(),
            sam: String::new(),
            person_id: String::new(),
            mail: String::new(),
            in_domain_admins: false,
        },
    };
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    // Natural names already claimed by an account seeded here (two people may share one).
    let mut claimed: HashSet<String> = HashSet::new();
    let mut k = 0usize;
    for (i, e) in active
        .iter()
        .filter(|e| natural_sam(e).is_some())
        .enumerate()
    {
        if !picked(i, share) {
            continue;
        }
        let id = e["id"].as_str().unwrap().to_string();
        let natural = natural_sam(e).unwrap();
        chosen.insert(id.clone());
        let work_email = e["work_email"].as_str().map(str::to_string);
        let mut style = match k % 3 {
            0 => Style::NtLogin,
            1 => Style::Upn,
            _ => Style::MailOnly,
        };
        if style == Style::MailOnly && work_email.is_none() {
            style = Style::NtLogin;
        }
        if style != Style::MailOnly && claimed.contains(&natural.to_lowercase()) {
            seeded.skipped.push((
                id,
                format!("{natural} is already held by an account seeded for another person"),
            ));
            continue;
        }
        let display = e["full_name"].as_str().unwrap_or("").trim().to_string();
        let (sam, upn, mail) = match style {
            Style::NtLogin => (natural.clone(), None, None),
            Style::Upn => (
                format!("u{tag}{k:03}"),
                Some(format!("{natural}@{realm}")),
                None,
            ),
            Style::MailOnly => (format!("m{tag}{k:03}"), None, work_email),
        };
        let account = LegacyAccount {
            cn: format!("{} {sam}", display.chars().take(40).collect::<String>()),
            sam: sam.clone(),
            upn: upn.clone(),
            mail: mail.clone(),
            display_name: Some(display),
            uac: 512,
            admin_count: false,
        };
        match add_with(&mut d, &legacy_ou, &account).await {
            Ok(dn) => {
                k += 1;
                if style != Style::MailOnly {
                    claimed.insert(natural.to_lowercase());
                }
                match style {
                    Style::NtLogin => seeded.counts.nt_login += 1,
                    Style::Upn => seeded.counts.upn += 1,
                    Style::MailOnly => seeded.counts.mail_only += 1,
                }
                seeded.collisions.push(id.clone());
                seeded.accounts.push(SeededAccount {
                    style,
                    person_id: id,
                    natural,
                    dn,
                    sam,
                    upn,
                    mail,
                });
            }
            Err(e) => seeded.skipped.push((id, e.to_string())),
        }
    }

    // The protected account: an active person with a work email who has no seeded account, the
    // last one in list order.
    let seeded_mails: HashSet<&str> = seeded
        .accounts
        .iter()
        .filter_map(|a| a.mail.as_deref())
        .collect();
    let target = active
        .iter()
        .rev()
        .find(|e| {
            let id = e["id"].as_str().unwrap_or("");
            e["work_email"]
                .as_str()
                .is_some_and(|m| !seeded_mails.contains(m))
                && !chosen.contains(id)
                && natural_sam(e).is_some()
        })
        .expect("an active person with a work email for the protected account");
    let mail = target["work_email"].as_str().unwrap().to_string();
    let sam = format!("adm{tag}");
    let account = LegacyAccount {
        cn: format!("Legacy Admin {tag}"),
        sam: sam.clone(),
        upn: None,
        mail: Some(mail.clone()),
        display_name: target["full_name"].as_str().map(str::to_string),
        uac: 514,
        admin_count: true,
    };
    let dn = add_with(&mut d, &staff_ou, &account)
        .await
        .unwrap_or_else(|e| panic!("cannot create the protected account: {e}"));
    let admins = format!("CN=Domain Admins,CN=Users,{}", world.ad.base_dn);
    let in_domain_admins = d.add_member(&admins, &dn).await.is_ok();
    seeded.protected = Protected {
        dn,
        sam,
        person_id: target["id"].as_str().unwrap().to_string(),
        mail,
        in_domain_admins,
    };
    let _ = d.unbind().await;
    seeded
}

/// Every user account under the test OU without an `employeeNumber` (so not hrsync's), with all
/// its attributes, by DN.
pub async fn unmanaged(world: &World) -> HashMap<String, DirEntry> {
    let mut d = connect(&world.ad).await;
    let entries = d
        .search_paged(
            &world.ou,
            "(&(objectClass=user)(!(employeeNumber=*)))",
            &["*"],
        )
        .await
        .unwrap();
    let _ = d.unbind().await;
    entries.into_iter().map(|e| (e.dn.clone(), e)).collect()
}

/// The entries at these DNs with all their attributes (missing ones are left out).
pub async fn read_all(world: &World, dns: &[&str]) -> HashMap<String, DirEntry> {
    let mut d = connect(&world.ad).await;
    let mut out = HashMap::new();
    for dn in dns {
        if let Some(e) = d.get(dn, &["*"]).await.unwrap() {
            out.insert(e.dn.clone(), e);
        }
    }
    let _ = d.unbind().await;
    out
}

/// hrsync's accounts under the test OU (with `employeeNumber`), with the attributes the brownfield
/// tests look at, by employeeNumber.
pub async fn managed(world: &World) -> HashMap<String, DirEntry> {
    let mut d = connect(&world.ad).await;
    let entries = d
        .search_paged(
            &world.ou,
            "(&(objectClass=user)(employeeNumber=*))",
            &[
                "employeeNumber",
                "sAMAccountName",
                "userPrincipalName",
                "mail",
                "cn",
                "givenName",
                "sn",
                "displayName",
                "department",
                "userAccountControl",
                "manager",
            ],
        )
        .await
        .unwrap();
    let _ = d.unbind().await;
    entries
        .into_iter()
        .map(|e| (e.first("employeeNumber").unwrap().to_string(), e))
        .collect()
}

/// The user account with this sAMAccountName under the test OU, with all its attributes.
pub async fn by_sam(world: &World, sam: &str) -> Option<DirEntry> {
    let mut d = connect(&world.ad).await;
    let filter = format!(
        "(&(objectClass=user)(sAMAccountName={}))",
        hrsync::directory::escape::escape_filter_value(sam)
    );
    let mut entries = d.search_paged(&world.ou, &filter, &["*"]).await.unwrap();
    let _ = d.unbind().await;
    entries.pop()
}

/// What differs between two readings of the same entries (by DN): entries gone or added,
/// attributes changed. Empty when nothing changed.
pub fn diff(before: &HashMap<String, DirEntry>, after: &HashMap<String, DirEntry>) -> Vec<String> {
    let mut out = Vec::new();
    for (dn, b) in before {
        let Some(a) = after.get(dn) else {
            out.push(format!("{dn}: gone (moved, renamed or deleted)"));
            continue;
        };
        let names: BTreeSet<String> = b
            .attrs
            .keys()
            .chain(a.attrs.keys())
            .map(|k| k.to_lowercase())
            .collect();
        for name in names {
            let (x, y) = (b.values(&name), a.values(&name));
            let (mut x, mut y) = (x.to_vec(), y.to_vec());
            x.sort();
            y.sort();
            if x != y {
                out.push(format!("{dn}: {name} {x:?} → {y:?}"));
            }
        }
        let bin: BTreeSet<String> = b
            .bin_attrs
            .keys()
            .chain(a.bin_attrs.keys())
            .map(|k| k.to_lowercase())
            .collect();
        for name in bin {
            if b.first_bin(&name) != a.first_bin(&name) {
                out.push(format!("{dn}: binary {name} changed"));
            }
        }
    }
    for dn in after.keys() {
        if !before.contains_key(dn) {
            out.push(format!("{dn}: new"));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn realm_from_the_domain_dn() {
        assert_eq!(realm("DC=example,DC=test"), "example.test");
        assert_eq!(realm("dc=Corp, dc=Example,DC=com"), "corp.example.com");
    }

    #[test]
    fn natural_names_follow_the_first_candidate() {
        let e = json!({"full_name": "Zoë Ångström", "basic_information": null});
        assert_eq!(natural_sam(&e).as_deref(), Some("zoe.angstrom"));
        let e = json!({"full_name": "Nguyễn Văn An",
            "basic_information": {"given_name": "Văn An", "surname": "Nguyễn"}});
        assert_eq!(natural_sam(&e).as_deref(), Some("vanan.nguyen"));
        let e = json!({"full_name": "Venkatasubrahmanyam Raghunathan"});
        assert_eq!(natural_sam(&e).as_deref(), Some("venkatasubrahmanyam"));
        let e = json!({"full_name": "Cher"});
        assert_eq!(natural_sam(&e).as_deref(), Some("cher"));
        assert_eq!(natural_sam(&json!({"full_name": "  "})), None);
    }

    #[test]
    fn about_share_are_picked() {
        let n = (0..300).filter(|&i| picked(i, 0.5)).count();
        assert_eq!(n, 150);
        assert_eq!((0..300).filter(|&i| picked(i, 0.0)).count(), 0);
        assert_eq!((0..10).filter(|&i| picked(i, 1.0)).count(), 10);
    }
}
