//! `hrsync::directory` against a real Samba 4 Active Directory DC on loopback.
//!
//! Start the DC first: `bash tests/ad/samba-ad.sh start`. The tests read its facts from the env
//! file the script writes (`$HRSYNC_AD_ENV`, default `/tmp/hrsync-samba-ad/env`) and fail when it
//! is missing. Each test works in its own `OU=t-<name>-<random>` under the base DN and deletes it
//! at the end, also when the test fails.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hrsync::directory::escape::{
    cn_dn, dn_eq, escape_filter_value, ou_dn, parse_dn, rdn, rdn_value,
};
use hrsync::directory::{
    Directory, DirectoryConfig, DirectoryError, Modification, SearchScope, uac,
};

const HOSTILE: &str = " Ann, \"Jr\"+=<x>;#*()";
const GOOD_PASSWORD: &str = "S3cret-Pass1!";

/// A CA that did not sign the test DC's certificate.
const UNRELATED_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBoDCCAUWgAwIBAgIUN1J8IkcfExu4VS0BOs6HJ3PKZ7wwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRdW5yZWxhdGVkIHRlc3QgQ0EwIBcNMjYxMTI3MDcxNDU5WhgP
MjEyNjExMDMwNzE0NTlaMBwxGjAYBgNVBAMMEXVucmVsYXRlZCB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEq9B2KgDPLtigj7ToTnInGjzHR+XwPYa1
4e05HGYXnI4jzF46lG0LFaK+CtGjtF3pqEr8FZlnl/W+Gyubrj44tKNjMGEwHQYD
VR0OBBYEFHPKIHvGxZlA66VXv+cKH+mc5b0/MB8GA1UdIwQYMBaAFHPKIHvGxZlA
66VXv+cKH+mc5b0/MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoG
CCqGSM49BAMCA0kAMEYCIQC4OYczwdqsVpaFfOImF7Mzks4HXKLCtGZ19204xrjR
oQIhANgzkcqb7yFnTTnmkX5/GkGPr74dsZdN/zTopxnfK52L
-----END CERTIFICATE-----
";

// --- the AD under test -------------------------------------------------------------------------

/// Facts about the running DC, from the env file of `tests/ad/samba-ad.sh`.
#[derive(Debug, Clone)]
struct Ad {
    url: String,
    ldap_url: String,
    bind_dn: String,
    password: String,
    base_dn: String,
    ca_file: PathBuf,
    upn_suffix: String,
    relaxed_policy: bool,
}

impl Ad {
    fn load() -> Ad {
        let path = std::env::var_os("HRSYNC_AD_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/hrsync-samba-ad/env"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the test AD's facts from {} ({e}). These tests need a running Samba AD DC: \
                 run `bash tests/ad/samba-ad.sh start` (or point HRSYNC_AD_ENV at its env file).",
                path.display()
            )
        });
        let facts = parse_env(&text);
        let get = |key: &str| -> String {
            facts.get(key).cloned().unwrap_or_else(|| {
                panic!(
                    "{} has no {key}; re-run `bash tests/ad/samba-ad.sh start` to rewrite it",
                    path.display()
                )
            })
        };
        Ad {
            url: get("HRSYNC_AD_URL"),
            ldap_url: facts
                .get("HRSYNC_AD_LDAP_URL")
                .cloned()
                .unwrap_or_else(|| "ldap://127.0.0.1:389".to_owned()),
            bind_dn: get("HRSYNC_AD_BIND_DN"),
            password: get("HRSYNC_AD_PASSWORD"),
            base_dn: get("HRSYNC_AD_BASE_DN"),
            ca_file: PathBuf::from(get("HRSYNC_AD_CA_FILE")),
            upn_suffix: facts
                .get("HRSYNC_AD_UPN_SUFFIX")
                .cloned()
                .unwrap_or_else(|| "example.test".to_owned()),
            relaxed_policy: facts
                .get("HRSYNC_AD_RELAXED_PWD_POLICY")
                .is_some_and(|v| v == "1"),
        }
    }

    fn config(&self) -> DirectoryConfig {
        DirectoryConfig::new(&self.url, &self.bind_dn, self.password.as_str())
            .with_ca_file(&self.ca_file)
            .with_timeout(Duration::from_secs(20))
    }

    async fn connect(&self) -> Directory {
        Directory::connect(&self.config())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test AD: {e}. Is it running? `bash tests/ad/samba-ad.sh start`"))
    }
}

/// `KEY='value'` lines as written by the script (shell single quoting, `'\''` for a quote).
fn parse_env(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let mut value = String::new();
        let mut quoted = false;
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => quoted = !quoted,
                '\\' if !quoted => value.extend(chars.next()),
                c => value.push(c),
            }
        }
        out.insert(key.trim().to_owned(), value);
    }
    out
}

/// Runs `body` with a connection and a fresh OU, then deletes the OU's subtree whatever happened
/// (a panic in `body` is re-raised after the cleanup).
async fn in_test_ou<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Ad, Directory, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let ad = Ad::load();
    let mut dir = ad.connect().await;
    let ou = ou_dn(
        &format!("t-{name}-{:08x}", rand::random::<u32>()),
        &ad.base_dn,
    );
    assert!(
        dir.ensure_ou(&ou).await.expect("create the test OU"),
        "test OU {ou} already existed"
    );
    let outcome = tokio::spawn(body(ad.clone(), dir, ou.clone())).await;
    let mut dir = ad.connect().await;
    let cleanup = delete_subtree(&mut dir, &ou).await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
    if let Err(e) = cleanup {
        panic!("cleanup of {ou} failed: {e}");
    }
}

/// Deletes `base` and everything below it, deepest entries first.
async fn delete_subtree(dir: &mut Directory, base: &str) -> Result<(), DirectoryError> {
    let mut dns: Vec<String> = dir
        .search_paged(base, "(objectClass=*)", &["1.1"])
        .await?
        .into_iter()
        .map(|e| e.dn)
        .collect();
    dns.sort_by_key(|dn| std::cmp::Reverse(parse_dn(dn).map_or(0, |rdns| rdns.len())));
    for dn in dns {
        dir.delete(&dn).await?;
    }
    Ok(())
}

/// A short unique account name (AD allows 20 characters).
fn sam(prefix: &str) -> String {
    format!("{prefix}{:08x}", rand::random::<u32>())
}

async fn add_user(dir: &mut Directory, ad: &Ad, cn: &str, parent: &str, sam: &str) -> String {
    let dn = cn_dn(cn, parent);
    let upn = format!("{sam}@{}", ad.upn_suffix);
    dir.add(
        &dn,
        &[
            ("objectClass", vec!["user"]),
            ("sAMAccountName", vec![sam]),
            ("userPrincipalName", vec![upn.as_str()]),
            ("givenName", vec!["Test"]),
            ("sn", vec![cn]),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("add user {dn}: {e}"));
    dn
}

async fn read_uac(dir: &mut Directory, dn: &str) -> u32 {
    let entry = dir
        .get(dn, &["userAccountControl"])
        .await
        .expect("read userAccountControl")
        .expect("the user exists");
    entry
        .first("useraccountcontrol")
        .and_then(uac::parse)
        .expect("a numeric userAccountControl")
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    eprintln!("message: {text}");
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "the message leaks a password: {text}"
        );
    }
}

// --- connecting --------------------------------------------------------------------------------

#[tokio::test]
async fn ldaps_bind_verifies_the_ca() {
    let ad = Ad::load();
    let mut dir = ad.connect().await;
    assert!(dir.is_tls());
    let base = dir
        .get(&ad.base_dn, &["objectClass"])
        .await
        .expect("read the base DN")
        .expect("the base DN exists");
    assert!(dn_eq(&base.dn, &ad.base_dn), "{}", base.dn);
    assert!(base.values("objectclass").iter().any(|v| v == "domainDNS"));
    dir.unbind().await.expect("unbind");
}

#[tokio::test]
async fn wrong_ca_fails_with_a_clear_tls_error() {
    let ad = Ad::load();
    let mut other = tempfile::NamedTempFile::new().expect("temp file");
    other
        .write_all(UNRELATED_CA.as_bytes())
        .expect("write the unrelated CA");

    let err = Directory::connect(&ad.config().with_ca_file(other.path()))
        .await
        .expect_err("a certificate from another CA must be rejected");
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            DirectoryError::Tls {
                ca_check_failed: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains(&ad.url), "{text}");
    assert!(text.contains(&other.path().display().to_string()), "{text}");
    assert!(text.contains("CA check"), "{text}");
    assert_no_secret(&text, &[&ad.password]);

    // The system trust store does not know the test CA either.
    let mut no_ca = ad.config();
    no_ca.ca_file = None;
    let err = Directory::connect(&no_ca)
        .await
        .expect_err("unknown issuer");
    assert!(
        matches!(
            &err,
            DirectoryError::Tls {
                ca_check_failed: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("system trust store"), "{err}");

    // A file that is not a certificate at all.
    let mut junk = tempfile::NamedTempFile::new().expect("temp file");
    junk.write_all(b"not a certificate\n").expect("write junk");
    let err = Directory::connect(&ad.config().with_ca_file(junk.path()))
        .await
        .expect_err("junk CA file");
    assert!(matches!(err, DirectoryError::CaFile { .. }), "{err:?}");

    // A plain LDAP port is not a TLS port.
    let plain_port = ad.url.replace(":636", ":389");
    let err = Directory::connect(&DirectoryConfig {
        url: plain_port.clone(),
        ..ad.config()
    })
    .await
    .expect_err("LDAPS to the plain LDAP port");
    assert!(
        matches!(
            err,
            DirectoryError::Tls {
                ca_check_failed: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&plain_port), "{err}");

    // Nothing listens here: a connection error naming the URL.
    let closed = DirectoryConfig::new("ldaps://127.0.0.1:1", &ad.bind_dn, ad.password.as_str())
        .with_ca_file(&ad.ca_file);
    let err = Directory::connect(&closed).await.expect_err("closed port");
    assert!(matches!(err, DirectoryError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("ldaps://127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn wrong_password_is_invalid_credentials_naming_the_bind_dn() {
    let ad = Ad::load();
    let wrong = "Wr0ng-Passw0rd-XYZ";
    let config = DirectoryConfig::new(&ad.url, &ad.bind_dn, wrong).with_ca_file(&ad.ca_file);
    let err = Directory::connect(&config)
        .await
        .expect_err("a wrong password must not bind");
    let text = err.to_string();
    match &err {
        DirectoryError::InvalidCredentials { bind_dn, .. } => assert_eq!(bind_dn, &ad.bind_dn),
        other => panic!("expected InvalidCredentials, got {other:?}"),
    }
    assert_eq!(err.rc(), Some(49));
    assert!(text.contains(&ad.bind_dn), "{text}");
    assert!(text.contains("invalid credentials"), "{text}");
    assert_no_secret(&text, &[wrong, &ad.password]);
    assert_no_secret(&format!("{err:?} {config:?}"), &[wrong]);
}

#[tokio::test]
async fn starttls_works_and_plain_ldap_never_sends_a_password() {
    in_test_ou("tls", |ad, mut dir, ou| async move {
        let name = sam("tls");
        let dn = add_user(&mut dir, &ad, "TLS User", &ou, &name).await;

        let starttls = DirectoryConfig::new(&ad.ldap_url, &ad.bind_dn, ad.password.as_str())
            .with_ca_file(&ad.ca_file)
            .with_starttls(true);
        let mut secure = Directory::connect(&starttls).await.expect("StartTLS bind");
        assert!(secure.is_tls());
        secure
            .set_password(&dn, GOOD_PASSWORD)
            .await
            .expect("set a password over StartTLS");

        let plain = DirectoryConfig::new(&ad.ldap_url, &ad.bind_dn, ad.password.as_str());
        let mut clear = Directory::connect(&plain).await.expect("plain bind");
        assert!(!clear.is_tls());
        let err = clear
            .set_password(&dn, GOOD_PASSWORD)
            .await
            .expect_err("no password over plain LDAP");
        assert!(
            matches!(&err, DirectoryError::InsecureConnection { attribute, .. } if attribute == "unicodePwd"),
            "{err:?}"
        );
        assert!(err.to_string().contains(&dn), "{err}");
        assert_no_secret(&err.to_string(), &[GOOD_PASSWORD]);
        let err = clear
            .modify(&dn, &[Modification::replace("unicodePwd", ["x"])])
            .await
            .expect_err("no unicodePwd over plain LDAP, even through modify");
        assert!(matches!(err, DirectoryError::InsecureConnection { .. }), "{err:?}");
        // Other writes are fine on a plain connection.
        clear
            .modify(&dn, &[Modification::replace("title", ["Plain"])])
            .await
            .expect("modify over plain LDAP");
    })
    .await;
}

// --- entries -----------------------------------------------------------------------------------

#[tokio::test]
async fn hostile_cn_round_trips_and_filters_are_escaped() {
    in_test_ou("hostile", |ad, mut dir, ou| async move {
        let name = sam("h");
        let dn = add_user(&mut dir, &ad, HOSTILE, &ou, &name).await;

        let entry = dir
            .get(&dn, &["cn", "sAMAccountName", "sn"])
            .await
            .expect("read back")
            .expect("the user exists");
        assert_eq!(entry.first("cn"), Some(HOSTILE));
        assert_eq!(entry.first("sn"), Some(HOSTILE));
        assert_eq!(entry.first("samaccountname"), Some(name.as_str()));
        assert!(dn_eq(&entry.dn, &dn), "{} vs {dn}", entry.dn);
        assert_eq!(rdn_value(&entry.dn).as_deref(), Some(HOSTILE));

        let by_cn = dir
            .search_paged(
                &ou,
                &format!("(cn={})", escape_filter_value(HOSTILE)),
                &["cn"],
            )
            .await
            .expect("search by escaped cn");
        assert_eq!(by_cn.len(), 1);
        assert_eq!(by_cn[0].first("cn"), Some(HOSTILE));

        let attack = "*)(objectClass=*";
        let raw = format!("(&(objectClass=user)(sAMAccountName={attack}))");
        let unescaped = dir
            .search_paged(&ou, &raw, &["1.1"])
            .await
            .expect("unescaped search");
        assert_eq!(unescaped.len(), 1, "the injection works when not escaped");
        let safe = format!(
            "(&(objectClass=user)(sAMAccountName={}))",
            escape_filter_value(attack)
        );
        let escaped = dir
            .search_paged(&ou, &safe, &["1.1"])
            .await
            .expect("escaped search");
        assert!(escaped.is_empty(), "escaped injection matched {escaped:?}");

        let err = dir
            .search_paged(&ou, "(cn=unbalanced", &["cn"])
            .await
            .expect_err("bad filter");
        assert!(
            matches!(err, DirectoryError::InvalidFilter { .. }),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn password_then_enable_and_disable() {
    in_test_ou("uac", |ad, mut dir, ou| async move {
        let name = sam("u");
        let dn = add_user(&mut dir, &ad, "Una Account", &ou, &name).await;
        assert_eq!(
            read_uac(&mut dir, &dn).await,
            546,
            "new users start disabled"
        );

        if ad.relaxed_policy {
            eprintln!("password policy relaxed on this DC: weak-password check skipped");
        } else {
            let weak = "abc";
            let err = dir
                .set_password(&dn, weak)
                .await
                .expect_err("weak password");
            assert!(
                matches!(err, DirectoryError::PasswordPolicy { .. }),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&dn) && text.contains("password policy"),
                "{text}"
            );
            assert_no_secret(&text.replace(&dn, ""), &["\"abc\""]);
        }

        dir.set_password(&dn, GOOD_PASSWORD)
            .await
            .expect("set password");
        assert_eq!(dir.enable(&dn).await.expect("enable"), 512);
        assert_eq!(read_uac(&mut dir, &dn).await, 512);
        assert_eq!(dir.enable(&dn).await.expect("enable again"), 512);

        let user = DirectoryConfig::new(&ad.url, &dn, GOOD_PASSWORD).with_ca_file(&ad.ca_file);
        Directory::connect(&user)
            .await
            .expect("the enabled user can bind")
            .unbind()
            .await
            .expect("unbind");

        assert_eq!(dir.disable(&dn).await.expect("disable"), 514);
        assert_eq!(read_uac(&mut dir, &dn).await, 514);
        assert!(uac::is_disabled(514));
        let err = Directory::connect(&user)
            .await
            .expect_err("a disabled user cannot bind");
        assert!(
            matches!(err, DirectoryError::InvalidCredentials { .. }),
            "{err:?}"
        );
        assert_no_secret(&err.to_string(), &[GOOD_PASSWORD]);

        assert_eq!(dir.enable(&dn).await.expect("re-enable"), 512);
        let disabled = dir
            .search_paged(&ou, uac::DISABLED_FILTER, &["1.1"])
            .await
            .expect("search disabled");
        assert!(disabled.is_empty());
    })
    .await;
}

#[tokio::test]
async fn duplicates_are_already_exists_naming_dn_and_attribute() {
    in_test_ou("dup", |ad, mut dir, ou| async move {
        let name = sam("d");
        add_user(&mut dir, &ad, "First", &ou, &name).await;

        let second = cn_dn("Second", &ou);
        let err = dir
            .add(
                &second,
                &[
                    ("objectClass", vec!["user"]),
                    ("sAMAccountName", vec![name.as_str()]),
                ],
            )
            .await
            .expect_err("duplicate sAMAccountName");
        match &err {
            DirectoryError::AlreadyExists { dn, attribute, .. } => {
                assert_eq!(dn, &second);
                assert_eq!(attribute.as_deref(), Some("sAMAccountName"));
            }
            other => panic!("expected AlreadyExists, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(&second) && text.contains("sAMAccountName"),
            "{text}"
        );

        let upn = format!("{name}@{}", ad.upn_suffix);
        let err = dir
            .add(
                &cn_dn("Third", &ou),
                &[
                    ("objectClass", vec!["user"]),
                    ("sAMAccountName", vec![sam("d3").as_str()]),
                    ("userPrincipalName", vec![upn.as_str()]),
                ],
            )
            .await
            .expect_err("duplicate userPrincipalName");
        let attribute = match &err {
            DirectoryError::ConstraintViolation { attribute, .. }
            | DirectoryError::AlreadyExists { attribute, .. } => attribute.clone(),
            other => panic!("expected a uniqueness error, got {other:?}"),
        };
        assert_eq!(attribute.as_deref(), Some("userPrincipalName"), "{err}");

        let err = dir
            .add(&cn_dn("First", &ou), &[("objectClass", vec!["contact"])])
            .await
            .expect_err("existing DN");
        assert!(
            matches!(
                &err,
                DirectoryError::AlreadyExists {
                    attribute: None,
                    ..
                }
            ),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn ensure_ou_move_and_rename() {
    in_test_ou("move", |ad, mut dir, ou| async move {
        let joiners = ou_dn("Joiners", &ou);
        let leavers = ou_dn("2024", &ou_dn("Leavers", &ou));
        assert!(dir.ensure_ou(&joiners).await.expect("create Joiners"));
        assert!(dir.ensure_ou(&leavers).await.expect("create Leavers path"));
        assert!(
            !dir.ensure_ou(&leavers)
                .await
                .expect("second call is a no-op")
        );
        let err = dir
            .ensure_ou(&ou_dn("x", "DC=nowhere,DC=invalid"))
            .await
            .expect_err("cannot create a DC");
        assert!(err.is_no_such_object(), "{err:?}");

        let name = sam("m");
        let dn = add_user(&mut dir, &ad, "Mona Move", &joiners, &name).await;
        let group = cn_dn(&format!("g-{name}"), &ou);
        dir.add(
            &group,
            &[
                ("objectClass", vec!["group"]),
                ("sAMAccountName", vec![format!("g{name}").as_str()]),
            ],
        )
        .await
        .expect("add group");
        assert!(dir.add_member(&group, &dn).await.expect("add member"));

        let renamed = dir
            .rename(&dn, &rdn("CN", "Mona Smith, Jr."), None)
            .await
            .expect("rename in place");
        assert_eq!(renamed, cn_dn("Mona Smith, Jr.", &joiners));
        assert!(dir.get(&dn, &["cn"]).await.expect("old DN").is_none());
        let entry = dir
            .get(&renamed, &["cn"])
            .await
            .expect("new DN")
            .expect("renamed");
        assert_eq!(entry.first("cn"), Some("Mona Smith, Jr."));

        let moved = dir
            .rename(&renamed, &rdn("CN", "Mona Smith, Jr."), Some(&leavers))
            .await
            .expect("move");
        assert_eq!(moved, cn_dn("Mona Smith, Jr.", &leavers));
        let entry = dir
            .get(&moved, &["sAMAccountName"])
            .await
            .expect("read moved")
            .expect("moved entry exists");
        assert_eq!(entry.first("sAMAccountName"), Some(name.as_str()));
        assert!(
            dir.is_member(&group, &moved)
                .await
                .expect("member follows the move")
        );

        add_user(&mut dir, &ad, "Other", &leavers, &sam("o")).await;
        let err = dir
            .rename(&moved, &rdn("CN", "Other"), None)
            .await
            .expect_err("target exists");
        assert!(err.is_already_exists(), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn group_membership_is_idempotent() {
    in_test_ou("group", |ad, mut dir, ou| async move {
        let name = sam("g");
        let user = add_user(&mut dir, &ad, HOSTILE, &ou, &name).await;
        let group = cn_dn("Engineering", &ou);
        dir.add(
            &group,
            &[
                ("objectClass", vec!["group"]),
                ("sAMAccountName", vec![format!("eng{name}").as_str()]),
                ("groupType", vec!["-2147483646"]),
            ],
        )
        .await
        .expect("add group");

        assert!(dir.add_member(&group, &user).await.expect("add"));
        assert!(!dir.add_member(&group, &user).await.expect("add again"));
        assert!(dir.is_member(&group, &user).await.expect("is member"));
        let entry = dir
            .get(&user, &["memberOf"])
            .await
            .expect("read")
            .expect("user");
        assert!(entry.values("memberof").iter().any(|g| dn_eq(g, &group)));

        assert!(dir.remove_member(&group, &user).await.expect("remove"));
        assert!(
            !dir.remove_member(&group, &user)
                .await
                .expect("remove again")
        );
        assert!(!dir.is_member(&group, &user).await.expect("not a member"));

        let ghost = cn_dn("Nobody", &ou);
        let err = dir
            .add_member(&group, &ghost)
            .await
            .expect_err("member that does not exist");
        assert!(err.is_no_such_object(), "{err:?}");
        assert!(err.to_string().contains(&ghost), "{err}");
    })
    .await;
}

#[tokio::test]
async fn paged_search_returns_every_entry() {
    const COUNT: usize = 120;
    in_test_ou("paged", |ad, mut dir, ou| async move {
        let started = Instant::now();
        for i in 0..COUNT {
            let cn = format!("Contact {i:03}");
            dir.add(
                &cn_dn(&cn, &ou),
                &[("objectClass", vec!["contact"]), ("sn", vec![cn.as_str()])],
            )
            .await
            .expect("add contact");
        }
        eprintln!("{COUNT} adds in {:?}", started.elapsed());

        let mut paged = Directory::connect(&ad.config().with_page_size(50))
            .await
            .expect("connect with page size 50");
        let found = paged
            .search_paged(&ou, "(objectClass=contact)", &["cn"])
            .await
            .expect("paged search");
        assert_eq!(found.len(), COUNT, "all pages are fetched");
        let names: BTreeSet<&str> = found.iter().filter_map(|e| e.first("cn")).collect();
        assert_eq!(names.len(), COUNT);
        assert!(names.contains("Contact 000") && names.contains("Contact 119"));

        // From the base DN: AD adds referrals, which are skipped.
        let from_base = paged
            .search_paged(
                &ad.base_dn,
                &format!(
                    "(&(objectClass=contact)(sn={}))",
                    escape_filter_value("Contact 1*")
                ),
                &["1.1"],
            )
            .await
            .expect("search from the base DN");
        assert!(
            from_base.is_empty(),
            "the * was escaped, so nothing matches"
        );

        let one_level = paged
            .search_paged_scoped(&ou, SearchScope::OneLevel, "(sn=Contact 1*)", &["sn"])
            .await
            .expect("one-level wildcard search");
        assert_eq!(one_level.len(), 20);
    })
    .await;
}

#[tokio::test]
async fn delete_entries_and_refuse_non_leaf() {
    in_test_ou("delete", |ad, mut dir, ou| async move {
        let dn = add_user(&mut dir, &ad, "Del Me", &ou, &sam("x")).await;
        let err = dir.delete(&ou).await.expect_err("OU with children");
        assert!(
            matches!(err, DirectoryError::NotAllowedOnNonLeaf { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&ou), "{err}");

        dir.delete(&dn).await.expect("delete user");
        assert!(dir.get(&dn, &["cn"]).await.expect("get").is_none());
        let err = dir.delete(&dn).await.expect_err("already gone");
        assert!(err.is_no_such_object(), "{err:?}");
        assert!(err.to_string().contains(&dn), "{err}");

        let err = dir.enable(&dn).await.expect_err("enable a deleted user");
        assert!(err.is_no_such_object(), "{err:?}");
    })
    .await;
}

#[test]
fn env_file_parsing_handles_shell_quoting() {
    let facts = parse_env("A='plain'\nB='it'\\''s'\nC=''\nnoise\n");
    assert_eq!(facts.get("A").map(String::as_str), Some("plain"));
    assert_eq!(facts.get("B").map(String::as_str), Some("it's"));
    assert_eq!(facts.get("C").map(String::as_str), Some(""));
    assert_eq!(facts.len(), 3);
}
