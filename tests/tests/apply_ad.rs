//! The one write path against Samba AD, below the plan: batched group changes that fall back to
//! single members, a create whose value another writer took first, and the write scope.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use hrsync::directory::{DirectoryConfig, DirectoryPool};
use hrsync::store::Store;
use hrsync::sync::apply::{ApplyContext, apply};
use hrsync::sync::plan::{Fallback, Op, PersonPlan};
use hrsync::sync::progress::Progress;
use hrsync::sync::scope::WriteScope;
use hrsync_tests::fixtures::ad_env;
use hrsync_tests::world::{AD, connect, delete_tree};

struct Setup {
    ou: String,
    staff: String,
    group: String,
    ctx: ApplyContext,
    _dir: tempfile::TempDir,
}

async fn setup(name: &str) -> Setup {
    let ad = ad_env();
    let ou = format!("OU=hrsync-t-{name},{}", ad.base_dn);
    let staff = format!("OU=Staff,{ou}");
    let group = format!("CN=Team,{ou}");
    let mut d = connect(&ad).await;
    delete_tree(&mut d, &ou).await;
    d.ensure_ou(&staff).await.unwrap();
    d.add(
        &group,
        &[
            ("objectClass", vec!["top", "group"]),
            ("sAMAccountName", vec![&format!("{name}-team")]),
        ],
    )
    .await
    .unwrap();
    d.unbind().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("hrsync.db")).unwrap());
    let ctx = ApplyContext {
        pool: DirectoryPool::new(
            DirectoryConfig::new(ad.url.clone(), ad.bind_dn.clone(), ad.password.clone())
                .with_ca_file(ad.ca_file.clone()),
            3,
        ),
        anchor: "employeeNumber".into(),
        store,
        run: None,
        concurrency: 2,
        today: "2026-01-10".parse().unwrap(),
        scope: WriteScope::new(std::slice::from_ref(&staff)),
    };
    Setup {
        ou,
        staff,
        group,
        ctx,
        _dir: dir,
    }
}

fn create(id: &str, dn: &str, sam: &str, group: &str) -> PersonPlan {
    let attributes: BTreeMap<String, String> = [
        (
            "cn",
            dn.split(',').next().unwrap().trim_start_matches("CN="),
        ),
        ("sAMAccountName", sam),
        ("employeeNumber", id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    PersonPlan {
        person_id: id.into(),
        name: id.into(),
        dn: Some(dn.into()),
        ops: vec![
            Op::Create {
                dn: dn.into(),
                attributes,
                enable: true,
                password: true,
                fallbacks: Vec::new(),
            },
            Op::AddToGroup {
                group: group.into(),
                dn: dn.into(),
            },
        ],
        leaver: false,
        adopt: false,
        manager_pending: None,
        note: None,
    }
}

#[tokio::test]
async fn a_refused_group_batch_falls_back_to_single_members_and_reports_only_the_bad_one() {
    let _guard = AD.lock().await;
    let s = setup("batch").await;
    let mut people: Vec<PersonPlan> = (0..5)
        .map(|i| {
            create(
                &format!("b{i}"),
                &format!("CN=Batch {i},{}", s.staff),
                &format!("batchu{i}"),
                &s.group,
            )
        })
        .collect();
    // A member DN that does not exist (inside the scope): AD refuses the whole batch.
    people.push(PersonPlan {
        person_id: "ghost".into(),
        name: "ghost".into(),
        dn: None,
        ops: vec![Op::AddToGroup {
            group: s.group.clone(),
            dn: format!("CN=Nobody,{}", s.staff),
        }],
        leaver: false,
        adopt: false,
        manager_pending: None,
        note: None,
    });
    let applied = apply(people, &s.ctx, &Progress::hidden()).await.unwrap();
    let failed: Vec<&str> = applied
        .failed
        .iter()
        .map(|f| f.record_id.as_str())
        .collect();
    assert_eq!(failed, ["ghost"], "{:?}", applied.failed);
    assert!(
        applied.failed[0].reason.contains("CN=Nobody"),
        "{}",
        applied.failed[0].reason
    );

    let mut d = connect(&ad_env()).await;
    let g = d.get(&s.group, &["member"]).await.unwrap().unwrap();
    assert_eq!(g.values("member").len(), 5, "{:?}", g.values("member"));
    let user = d
        .get(
            &format!("CN=Batch 0,{}", s.staff),
            &["userAccountControl", "pwdLastSet"],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.first("userAccountControl"),
        Some("512"),
        "created enabled in one add"
    );
    assert_ne!(user.first("pwdLastSet"), Some("0"), "with a password");
    delete_tree(&mut d, &s.ou).await;
}

#[tokio::test]
async fn a_value_taken_at_add_time_moves_on_to_the_next_candidate() {
    let _guard = AD.lock().await;
    let s = setup("race").await;
    let realm = hrsync::sync::snapshot::realm_of(&s.ou);
    // Another writer took the planned sAMAccountName — as a UPN prefix, after the plan was made.
    let mut d = connect(&ad_env()).await;
    d.add(
        &format!("CN=Racer,{}", s.ou),
        &[
            (
                "objectClass",
                vec!["top", "person", "organizationalPerson", "user"],
            ),
            ("sAMAccountName", vec!["racer-x1"]),
            ("userPrincipalName", vec![&format!("race.one@{realm}")]),
        ],
    )
    .await
    .unwrap();
    let dn = format!("CN=Race One,{}", s.staff);
    let mut p = create("r1", &dn, "race.one", &s.group);
    if let Op::Create { fallbacks, .. } = &mut p.ops[0] {
        fallbacks.push(Fallback {
            dn: dn.clone(),
            attributes: [("sAMAccountName".to_string(), "race.one2".to_string())]
                .into_iter()
                .collect(),
        });
    }
    let applied = apply(vec![p], &s.ctx, &Progress::hidden()).await.unwrap();
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);
    let u = d
        .get(&dn, &["sAMAccountName", "memberOf"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.first("sAMAccountName"), Some("race.one2"));
    assert_eq!(u.values("memberOf").len(), 1);
    delete_tree(&mut d, &s.ou).await;
}

#[tokio::test]
async fn nothing_is_written_outside_the_managed_ous() {
    let _guard = AD.lock().await;
    let s = setup("scope").await;
    let outside = format!("CN=Outside,{}", s.ou);
    let p = create("o1", &outside, "scope-out1", &s.group);
    let applied = apply(vec![p], &s.ctx, &Progress::hidden()).await.unwrap();
    assert_eq!(applied.failed.len(), 1);
    assert!(
        applied.failed[0].reason.contains("outside the managed OUs"),
        "{}",
        applied.failed[0].reason
    );
    let mut d = connect(&ad_env()).await;
    assert!(d.get(&outside, &["1.1"]).await.unwrap().is_none());
    delete_tree(&mut d, &s.ou).await;
}

#[tokio::test]
async fn a_connection_dropped_by_the_dc_mid_run_is_re_established_and_the_run_completes() {
    let _guard = AD.lock().await;
    let mut s = setup("drop").await;
    let ad = ad_env();
    let target = ad
        .url
        .trim_start_matches("ldaps://")
        .trim_start_matches("ldap://")
        .to_string();
    let proxy = hrsync_tests::drop_proxy::DropProxy::start(target).await;
    let scheme = if ad.url.starts_with("ldaps") {
        "ldaps"
    } else {
        "ldap"
    };
    s.ctx.pool = DirectoryPool::new(
        DirectoryConfig::new(
            format!("{scheme}://127.0.0.1:{}", proxy.port),
            ad.bind_dn.clone(),
            ad.password.clone(),
        )
        .with_ca_file(ad.ca_file.clone()),
        3,
    );
    let people: Vec<PersonPlan> = (0..30)
        .map(|i| {
            create(
                &format!("d{i}"),
                &format!("CN=Drop {i},{}", s.staff),
                &format!("dropu{i}"),
                &s.group,
            )
        })
        .collect();
    let ctx = s.ctx.clone();
    let run = tokio::spawn(async move { apply(people, &ctx, &Progress::hidden()).await });
    // Cut every connection a few times while the run is writing.
    let mut cut = 0;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        cut += proxy.drop_all();
    }
    let applied = run.await.unwrap().unwrap();
    assert!(cut > 0, "the test must actually drop connections");
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);

    let mut d = connect(&ad).await;
    let users = d
        .search_paged(
            &s.staff,
            "(&(objectClass=user)(employeeNumber=d*))",
            &["employeeNumber", "memberOf"],
        )
        .await
        .unwrap();
    assert_eq!(users.len(), 30, "every account once, none twice");
    assert!(users.iter().all(|u| u.values("memberOf").len() == 1));
    delete_tree(&mut d, &s.ou).await;
}
