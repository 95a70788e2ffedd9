//! Heap held by the directory read at the start of a run (the snapshot of every user account,
//! its indexes and the taken names), per account, without a directory: the entries are made
//! here, shaped as a synced account reads back from AD, and fed to the snapshot one at a time as
//! a paged search hands them over. dhat's heap statistics give the heap held after the build and
//! its peak during it (bytes asked for, without the allocator's own overhead).
//!
//! Run: `cargo bench -p hrsync-tests --bench snapshot` (`HRSYNC_BENCH_SNAPSHOT=20000,100000`
//! for the account counts, the default).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use hrsync::directory::DirEntry;
use hrsync::sync::account::Account;
use hrsync::sync::snapshot::Snapshot;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const BASE: &str = "OU=hrsync-bench,DC=example,DC=test";
const DEPARTMENTS: &[&str] = &["Engineering", "Sales", "Finance", "People", "Support"];

/// Account `i` as AD returns it to the snapshot's search: what hrsync wrote (names, title,
/// department, country, groups, manager) and what AD adds (GUID, control, password date).
fn entry(i: usize) -> DirEntry {
    let first = format!("Firstname{i}");
    let last = format!("Lastname-{i}");
    let dept = DEPARTMENTS[i % DEPARTMENTS.len()];
    let dn = format!("CN={first} {last},OU={dept},OU=Staff,{BASE}");
    let sam = format!("m{}.{}", first.to_lowercase(), i);
    let mut groups = vec![format!("CN=All Staff,{BASE}")];
    if dept == "Engineering" {
        groups.push(format!("CN=Engineering,{BASE}"));
    }
    let one = |v: String| vec![v];
    let attrs: BTreeMap<String, Vec<String>> = [
        (
            "employeeNumber",
            one(format!("{:08x}-4a1b-4c2d-8e3f-{i:012x}", i * 7919)),
        ),
        ("cn", one(format!("{first} {last}"))),
        ("userAccountControl", one("512".into())),
        ("memberOf", groups),
        (
            "manager",
            one(format!(
                "CN=Firstname{m} Lastname-{m},OU={dept},OU=Staff,{BASE}",
                m = i / 10
            )),
        ),
        ("pwdLastSet", one("134089765432101234".into())),
        ("sAMAccountName", one(sam.clone())),
        ("userPrincipalName", one(format!("{sam}@example.test"))),
        (
            "mail",
            one(format!(
                "{}.{}@example.test",
                first.to_lowercase(),
                last.to_lowercase()
            )),
        ),
        ("givenName", one(first.clone())),
        ("sn", one(last.clone())),
        ("displayName", one(format!("{first} {last}"))),
        ("title", one("Senior Software Engineer".into())),
        ("department", one(dept.into())),
        ("c", one("DE".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let guid = (0..16u8).map(|b| b.wrapping_add(i as u8)).collect();
    DirEntry {
        dn,
        attrs,
        bin_attrs: BTreeMap::from([("objectGUID".to_string(), vec![guid])]),
    }
}

/// The taken-names read of the uniqueness base returns every user again, with only the names.
fn taken(i: usize) -> DirEntry {
    let mut e = entry(i);
    e.attrs.retain(|k, _| {
        matches!(
            k.as_str(),
            "sAMAccountName" | "userPrincipalName" | "mail" | "proxyAddresses"
        )
    });
    e.bin_attrs.clear();
    e
}

/// As `Engine::snapshot` reads the directory: users, then the taken names, an entry at a time.
fn build(n: usize) -> Snapshot {
    let mut s = Snapshot::empty("employeeNumber", &["mail"], &[], "example.test");
    for i in 0..n {
        s.push(Account::from_entry(&entry(i)));
    }
    for i in 0..n {
        s.add_taken(&taken(i));
    }
    s
}

fn main() {
    let counts: Vec<usize> = std::env::var("HRSYNC_BENCH_SNAPSHOT")
        .unwrap_or_else(|_| "20000,100000".into())
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    println!("| accounts | held after the read | per account | peak during the read | build |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for n in counts {
        // A profiler per case: its statistics start from zero.
        let profiler = dhat::Profiler::builder().testing().build();
        let t = Instant::now();
        let s = build(n);
        let took = t.elapsed();
        let stats = dhat::HeapStats::get();
        let (held, peak) = (stats.curr_bytes, stats.max_bytes);
        assert_eq!(s.anchored(), n, "every account is indexed by its anchor");
        println!(
            "| {n} | {:.1} MiB | {} B | {:.1} MiB | {:.2} s |",
            held as f64 / 1048576.0,
            held / n,
            peak as f64 / 1048576.0,
            took.as_secs_f64()
        );
        drop(s);
        drop(profiler);
    }
}
