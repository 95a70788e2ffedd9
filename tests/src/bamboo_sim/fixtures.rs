//! Ready-made people: a fixed set of edge cases (ids in [`ids`]) and a seeded generator of
//! ordinary staff reporting into them.

use chrono::{NaiveDate, TimeDelta};

use super::person::{Person, Status};

/// Ids of the edge cases from [`edge_cases`].
pub mod ids {
    /// The CEO: no supervisor at all. Multi-part hyphenated family name.
    pub const CEO: u32 = 1;
    /// Reports to the CEO. Family name with particles (`de la Fontaine`).
    pub const VP: u32 = 2;
    /// Reports to [`VP`]. Apostrophe and accent (`Siobhán O'Brien`).
    pub const APOSTROPHE: u32 = 3;
    /// Reports to [`VP`]. Two given names, two family names, a preferred name.
    pub const DOUBLE_BARRELLED: u32 = 4;
    /// Reports to [`APOSTROPHE`] (third level of the tree). Non-ASCII letters with no ASCII
    /// transliteration by accent stripping (`Ø`).
    pub const NON_ASCII: u32 = 5;
    /// Reports to [`VP`]. Vietnamese name with stacked diacritics.
    pub const VIETNAMESE: u32 = 6;
    /// Inactive, terminated 30 days before "today".
    pub const TERMINATED: u32 = 7;
    /// Active, leaving 14 days after "today".
    pub const LEAVING: u32 = 8;
    /// Pre-hire: starts 10 days after "today" (absent from the default directory).
    pub const PRE_HIRE: u32 = 9;
    /// Their own supervisor.
    pub const SELF_SUPERVISED: u32 = 10;
    /// Supervisor id [`MISSING_SUPERVISOR_ID`], which names nobody.
    pub const DANGLING_SUPERVISOR: u32 = 11;
    /// No work email, no hire date (`0000-00-00`), no employee number.
    pub const SPARSE: u32 = 12;
    /// Japanese name in kanji.
    pub const CJK: u32 = 13;
    /// The supervisor id [`DANGLING_SUPERVISOR`] points at.
    pub const MISSING_SUPERVISOR_ID: u32 = 9999;
}

fn days(today: NaiveDate, n: i64) -> NaiveDate {
    today + TimeDelta::days(n)
}

/// The edge cases, relative to `today` (ids 1–13, see [`ids`]).
pub fn edge_cases(today: NaiveDate) -> Vec<Person> {
    let hired = days(today, -900);
    vec![
        Person::new(ids::CEO, "Margaret", "Okonkwo-Reyes")
            .number("1001")
            .email("margaret.okonkwo-reyes@example.com")
            .job("Chief Executive Officer", "Executive", "Corporate", "Lagos")
            .hired(days(today, -3000)),
        Person::new(ids::VP, "Jean-Luc", "de la Fontaine")
            .number("1002")
            .email("jean-luc.delafontaine@example.com")
            .job("VP Engineering", "Engineering", "Product", "Paris")
            .hired(days(today, -2000))
            .supervisor(ids::CEO),
        Person::new(ids::APOSTROPHE, "Siobhán", "O'Brien")
            .number("1003")
            .email("siobhan.obrien@example.com")
            .job("Engineering Manager", "Engineering", "Product", "Dublin")
            .hired(hired)
            .supervisor(ids::VP),
        Person::new(ids::DOUBLE_BARRELLED, "José María", "García Márquez")
            .number("1004")
            .preferred("Chema")
            .email("chema.garcia@example.com")
            .job("Software Engineer", "Engineering", "Product", "Madrid")
            .hired(hired)
            .supervisor(ids::VP),
        Person::new(ids::NON_ASCII, "Zoë", "Ødegård")
            .number("1005")
            .email("zoe.odegard@example.com")
            .job("Software Engineer", "Engineering", "Product", "Oslo")
            .hired(hired)
            .supervisor(ids::APOSTROPHE),
        Person::new(ids::VIETNAMESE, "Thị Minh", "Nguyễn")
            .number("1006")
            .email("minh.nguyen@example.com")
            .job("QA Engineer", "Engineering", "Product", "Hanoi")
            .hired(hired)
            .supervisor(ids::VP),
        Person::new(ids::TERMINATED, "Robert", "Smith")
            .number("1007")
            .email("robert.smith@example.com")
            .job("Sales Representative", "Sales", "Commercial", "London")
            .hired(days(today, -700))
            .terminated(days(today, -30))
            .supervisor(ids::CEO),
        Person::new(ids::LEAVING, "Aisha", "Al-Farsi")
            .number("1008")
            .email("aisha.alfarsi@example.com")
            .job("Account Executive", "Sales", "Commercial", "Dubai")
            .hired(days(today, -400))
            .leaving(days(today, 14))
            .supervisor(ids::CEO),
        Person::new(ids::PRE_HIRE, "Kenji", "Watanabe")
            .number("1009")
            .email("kenji.watanabe@example.com")
            .job("Software Engineer", "Engineering", "Product", "Tokyo")
            .hired(days(today, 10))
            .supervisor(ids::VP),
        Person::new(ids::SELF_SUPERVISED, "Pat", "Selfridge")
            .number("1010")
            .email("pat.selfridge@example.com")
            .job("Office Manager", "Operations", "Corporate", "London")
            .hired(hired)
            .supervisor(ids::SELF_SUPERVISED),
        Person::new(ids::DANGLING_SUPERVISOR, "Olúwaseun", "Adéyemí")
            .number("1011")
            .email("seun.adeyemi@example.com")
            .job("Data Analyst", "Finance", "Corporate", "Lagos")
            .hired(hired)
            .supervisor(ids::MISSING_SUPERVISOR_ID),
        Person::new(ids::SPARSE, "Mary-Kate", "D'Angelo")
            .job("Contractor", "Operations", "Corporate", "Remote")
            .employment_status("Contractor")
            .supervisor(ids::CEO),
        Person::new(ids::CJK, "美咲", "佐藤")
            .number("1013")
            .email("misaki.sato@example.com")
            .job("Designer", "Design", "Product", "Tokyo")
            .hired(hired)
            .supervisor(ids::VP),
    ]
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small; the modulo bias does not matter here.
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
}

const GIVEN: &[&str] = &[
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Elif",
    "Farid",
    "Grace",
    "Hiroshi",
    "Ingrid",
    "Jamal",
    "Katarzyna",
    "Liam",
    "María",
    "Noah",
    "Olga",
    "Priya",
    "Quentin",
    "Rosa",
    "Søren",
    "Tomasz",
    "Uma",
    "Víctor",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zainab",
];

const FAMILY: &[&str] = &[
    "Andersson",
    "Brown",
    "Castro",
    "Dubois",
    "Eriksen",
    "Fernández",
    "Gruber",
    "Horvath",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Müller",
    "Nakamura",
    "O'Neill",
    "Patel",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Van der Berg",
    "Walsh",
    "Yilmaz",
    "Zhang",
];

const JOBS: &[(&str, &str, &str)] = &[
    ("Software Engineer", "Engineering", "Product"),
    ("Product Manager", "Product", "Product"),
    ("Account Executive", "Sales", "Commercial"),
    ("Accountant", "Finance", "Corporate"),
    ("Recruiter", "People", "Corporate"),
    ("Support Specialist", "Support", "Commercial"),
];

const LOCATIONS: &[&str] = &["London", "Berlin", "New York", "Lisbon", "Remote"];

/// Lowercase ASCII letters of a name, for email addresses.
fn email_part(name: &str) -> String {
    deunicode::deunicode(name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `count` ordinary active employees with ids from `first_id` up, the same for the same `seed`.
/// Each reports to someone generated before them, or to the CEO ([`ids::CEO`]) or the VP
/// ([`ids::VP`]) of [`edge_cases`]; about one in ten is a manager others report to.
pub fn generate(seed: u64, count: usize, first_id: u32, today: NaiveDate) -> Vec<Person> {
    let mut rng = Rng(seed);
    let mut managers: Vec<u32> = vec![ids::CEO, ids::VP];
    let mut people = Vec::with_capacity(count);
    for i in 0..count {
        let id = first_id.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
        let given = rng.pick(GIVEN);
        let family = rng.pick(FAMILY);
        let (title, department, division) = JOBS[rng.below(JOBS.len())];
        let location = rng.pick(LOCATIONS);
        let supervisor = managers[rng.below(managers.len())];
        let hired = today - TimeDelta::days(30 + i64::try_from(rng.below(2500)).unwrap_or(0));
        let email = format!(
            "{}.{}.{id}@example.com",
            email_part(given),
            email_part(family)
        );
        people.push(
            Person::new(id, given, family)
                .number(&format!("{}", 2000 + id))
                .email(&email)
                .job(title, department, division, location)
                .hired(hired)
                .status(Status::Active)
                .supervisor(supervisor),
        );
        if rng.below(10) == 0 {
            managers.push(id);
        }
    }
    people
}
