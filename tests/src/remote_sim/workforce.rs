//! Deterministic workforce generator: employments, the manager tree, company managers and
//! offboardings, shaped like Remote's JSON.
//!
//! Everything is a function of `(seed, people, today)`: the same three inputs give byte-identical
//! JSON. `today` anchors the dates (past start dates for active people, future ones for pre-hires),
//! so a workforce generated on another day differs only in its dates.
//!
//! What a workforce contains (for `people` large enough):
//! - a CEO (department "Executive", no manager), department heads reporting to the CEO, team leads
//!   reporting to their head, and everybody else reporting to a lead or head of their department;
//! - one person of each [`names::SPECIAL_PEOPLE`] (diacritics, mononym, many-word name, family name
//!   first, a name with `,+="\<>;#*()` and a leading space, and two people named
//!   [`DUPLICATE_NAME`]);
//! - every employment status: about 75% `active`, and pre-hires (`pre_hire`, `invited`, `created`,
//!   … with a future `provisional_start_date`), `offboarding` (with a submitted offboarding),
//!   `archived` (with a done offboarding) and `deleted` (hidden from the list);
//! - `type` `employee` or `contractor`; `employment_model` `eor`, `peo`, `global_payroll` for
//!   employees and `contractor` for contractors (as Remote returns it);
//! - `basic_information` with `name`, `given_name` and `surname` for most people, with only `name`
//!   for some, and `null` for a few, so a consumer must be able to split `full_name` itself;
//! - `work_email` `null` for most pre-hires and some active people.

use std::collections::{BTreeMap, HashSet};

use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::names::{
    COUNTRIES, CountryData, DEPARTMENTS, EXECUTIVE, PERSONAL_DOMAINS, SPECIAL_PEOPLE, WORK_DOMAIN,
};
pub use super::names::{DUPLICATE_NAME, HOSTILE_NAME};

/// Fields of an employment that `GET /v1/employments` returns. Everything else is detail-only.
pub const LIST_FIELDS: &[&str] = &[
    "id",
    "short_id",
    "full_name",
    "job_title",
    "personal_email",
    "login_email",
    "work_email",
    "department",
    "department_id",
    "country",
    "status",
    "employment_lifecycle_stage",
    "type",
    "employment_model",
    "external_id",
    "partner_external_id",
    "work_address_details",
];

/// Every employment status Remote documents (see REMOTE-API.md).
pub const STATUSES: &[&str] = &[
    "active",
    "created",
    "pre_hire",
    "created_awaiting_reserve",
    "created_reserve_paid",
    "initiated",
    "invited",
    "pending",
    "review",
    "job_title_review",
    "pending_post_self_enrollment_actions",
    "offboarding",
    "archived",
    "deleted",
];

/// Share of each non-active status among ordinary people; the rest are `active`.
const STATUS_SHARES: &[(&str, f64)] = &[
    ("pre_hire", 0.04),
    ("invited", 0.03),
    ("created", 0.02),
    ("initiated", 0.01),
    ("pending", 0.01),
    ("review", 0.005),
    ("job_title_review", 0.005),
    ("created_awaiting_reserve", 0.005),
    ("created_reserve_paid", 0.005),
    ("pending_post_self_enrollment_actions", 0.005),
    ("offboarding", 0.04),
    ("archived", 0.06),
    ("deleted", 0.01),
];

/// Statuses whose start date lies in the future (people not yet started).
const FUTURE_STATUSES: &[&str] = &[
    "created",
    "pre_hire",
    "created_awaiting_reserve",
    "created_reserve_paid",
    "initiated",
    "invited",
    "pending",
    "review",
    "job_title_review",
    "pending_post_self_enrollment_actions",
];

/// Whether people with this status have not started yet.
pub(crate) fn is_future_status(status: &str) -> bool {
    FUTURE_STATUSES.contains(&status)
}

/// `employment_lifecycle_stage` that goes with an employment status.
pub(crate) fn lifecycle_stage(status: &str) -> &'static str {
    match status {
        "active" | "offboarding" => "onboarded",
        "archived" | "deleted" => "offboarded",
        "invited" => "employee_self_enrollment",
        "pending_post_self_enrollment_actions" => "right_to_work_check",
        "pre_hire" => "remote_enrollment",
        "review" | "job_title_review" => "contract_signing",
        _ => "employment_creation",
    }
}

/// `user_status` that goes with an employment status.
pub(crate) fn user_status(status: &str) -> &'static str {
    match status {
        "active" | "offboarding" => "active",
        "archived" => "inactive",
        "deleted" => "deleted",
        "invited" | "pre_hire" | "pending_post_self_enrollment_actions" => "initiated",
        _ => "created",
    }
}

/// Formats a timestamp the way Remote does: `YYYY-MM-DDTHH:MM:SS`, UTC, no offset.
pub(crate) fn timestamp(date: NaiveDate, seconds_of_day: u32) -> String {
    let (h, m, s) = (
        seconds_of_day / 3600 % 24,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
    );
    format!("{date}T{h:02}:{m:02}:{s:02}")
}

/// A user who may be set as someone's manager (`GET /v1/company-managers`).
#[derive(Debug, Clone)]
pub(crate) struct CompanyManager {
    /// `user_id`, the value `PATCH /v1/employments/{id}` accepts as `manager_id`.
    pub user_id: String,
    /// The manager's own employment, if they have one (the HR admin has none).
    pub employment_id: Option<String>,
    /// Name, used when there is no employment to take it from.
    pub name: String,
    /// Email, used when there is no employment to take it from.
    pub email: String,
    /// `owner`, `admin` or `manager`.
    pub role: String,
}

/// A generated company: everything the simulator serves.
pub struct Workforce {
    pub(crate) company_id: String,
    pub(crate) employments: Vec<Map<String, Value>>,
    pub(crate) offboardings: Vec<Map<String, Value>>,
    pub(crate) managers: Vec<CompanyManager>,
    pub(crate) generator: Generator,
}

impl Workforce {
    /// Generates `people` employments for `seed`, with dates relative to `today`.
    pub fn generate(seed: u64, people: usize, today: NaiveDate) -> Workforce {
        generate(seed, people, today)
    }

    /// The company's id (`company_id` of every employment).
    pub fn company_id(&self) -> &str {
        &self.company_id
    }

    /// Stored employments as JSON (detail shape), in list order, deleted ones included.
    pub fn employments(&self) -> Vec<Value> {
        self.employments
            .iter()
            .map(|e| Value::Object(e.clone()))
            .collect()
    }

    /// Offboarding records as JSON.
    pub fn offboardings(&self) -> Vec<Value> {
        self.offboardings
            .iter()
            .map(|o| Value::Object(o.clone()))
            .collect()
    }
}

/// How much `basic_information` a person has.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Basic {
    /// `name`, `given_name`, `surname` (surname absent for mononyms).
    Full,
    /// Only `name`.
    NameOnly,
    /// `basic_information: null`.
    Absent,
}

/// A person's name parts.
#[derive(Clone)]
pub(crate) struct PersonName {
    pub full: String,
    pub given: Option<String>,
    pub surname: Option<String>,
}

/// Everything decided about a person before its JSON is built.
pub(crate) struct PersonSpec {
    pub name: PersonName,
    pub basic: Basic,
    pub country: &'static CountryData,
    pub department: String,
    pub job_title: String,
    pub status: String,
    pub contractor: bool,
    pub manager: Option<usize>,
}

/// The seeded source of ids, names, emails and dates; kept by the simulator to fill in
/// employments added later (`SimHandle::add_employment`), so those are deterministic too.
pub(crate) struct Generator {
    rng: StdRng,
    pub today: NaiveDate,
    pub company_id: String,
    used_locals: HashSet<String>,
    department_ids: BTreeMap<String, String>,
}

impl Generator {
    fn new(seed: u64, today: NaiveDate) -> Generator {
        let mut g = Generator {
            rng: StdRng::seed_from_u64(seed),
            today,
            company_id: String::new(),
            used_locals: HashSet::new(),
            department_ids: BTreeMap::new(),
        };
        g.company_id = g.uuid();
        g
    }

    /// A random (v4) uuid drawn from the seeded generator.
    pub fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A six-character short id like Remote's (`S079JG`).
    pub fn short_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
        (0..6)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect()
    }

    /// A random number in `range`.
    pub fn range(&mut self, range: std::ops::RangeInclusive<u64>) -> u64 {
        self.rng.random_range(range)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// The id of a department, created on first use.
    pub fn department_id(&mut self, name: &str) -> String {
        if let Some(id) = self.department_ids.get(name) {
            return id.clone();
        }
        let id = self.uuid();
        self.department_ids.insert(name.to_owned(), id.clone());
        id
    }

    /// A country picked by weight.
    pub fn country(&mut self) -> &'static CountryData {
        let total: u32 = COUNTRIES.iter().map(|c| c.weight).sum();
        let mut pick = self.rng.random_range(0..total);
        for c in COUNTRIES {
            if pick < c.weight {
                return c;
            }
            pick -= c.weight;
        }
        &COUNTRIES[0]
    }

    /// The index into [`DEPARTMENTS`] of a department picked by weight.
    pub fn department(&mut self) -> usize {
        let total: u32 = DEPARTMENTS.iter().map(|d| d.weight).sum();
        let mut pick = self.rng.random_range(0..total);
        for (i, d) in DEPARTMENTS.iter().enumerate() {
            if pick < d.weight {
                return i;
            }
            pick -= d.weight;
        }
        0
    }

    /// An individual contributor's job title in department `dept`.
    pub fn title(&mut self, dept: usize) -> String {
        DEPARTMENTS[dept]
            .titles
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("Specialist")
            .to_owned()
    }

    /// A name from `country`'s pools.
    pub fn name(&mut self, country: &CountryData) -> PersonName {
        let given = country
            .given
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("Alex")
            .to_owned();
        match country.family.choose(&mut self.rng) {
            None => PersonName {
                full: given.clone(),
                given: Some(given),
                surname: None,
            },
            Some(family) => PersonName {
                full: if country.family_first {
                    format!("{family} {given}")
                } else {
                    format!("{given} {family}")
                },
                given: Some(given),
                surname: Some((*family).to_owned()),
            },
        }
    }

    /// A unique email local part derived from a name (ASCII, lowercase, `given.surname`).
    pub fn email_local(&mut self, name: &PersonName) -> String {
        let base = match (&name.given, &name.surname) {
            (Some(g), Some(s)) => {
                let g_words = ascii_words(g);
                let s_words = ascii_words(s);
                // "Văn An" → "an": the last given word is the one people are called by when the
                // family name comes first; otherwise the first given word.
                let first = if name.full.starts_with(s.as_str()) {
                    g_words.last().cloned()
                } else {
                    g_words.first().cloned()
                };
                match first {
                    Some(f) if !s_words.is_empty() => format!("{f}.{}", s_words.concat()),
                    Some(f) => f,
                    None => s_words.concat(),
                }
            }
            (Some(g), None) => ascii_words(g).concat(),
            _ => {
                let words = ascii_words(&name.full);
                match words.split_first() {
                    Some((first, rest)) => match rest.iter().max_by_key(|w| w.len()) {
                        Some(longest) => format!("{first}.{longest}"),
                        None => first.clone(),
                    },
                    None => String::new(),
                }
            }
        };
        let base = if base.is_empty() {
            "user".to_owned()
        } else {
            base
        };
        let mut local = base.clone();
        let mut n = 2;
        while !self.used_locals.insert(local.clone()) {
            local = format!("{base}{n}");
            n += 1;
        }
        local
    }

    /// Builds a stored employment (detail shape) for `spec`. `managers` maps person indices to
    /// `(employment_id, full_name, login_email, user_id)` of already-built people.
    pub fn employment(
        &mut self,
        id: String,
        spec: &PersonSpec,
        manager: Option<(&str, &str, &str, &str)>,
    ) -> Map<String, Value> {
        let today = self.today;
        let status = spec.status.as_str();
        let short_id = self.short_id();
        let user_id = self.uuid();
        let contract_id = self.uuid();
        let department_id = self.department_id(&spec.department);

        // Dates.
        let start = if is_future_status(status) {
            today + Days::new(self.range(3..=90))
        } else if status == "archived" {
            today - Days::new(self.range(400..=3650))
        } else {
            today - Days::new(self.range(30..=3650))
        };
        let seniority = self
            .chance(0.2)
            .then(|| start - Days::new(self.range(30..=1500)));
        let probation =
            (!spec.contractor).then(|| start + Days::new(if self.chance(0.5) { 90 } else { 180 }));
        let yesterday = today - Days::new(1);
        let created = (start - Days::new(self.range(7..=60))).min(yesterday);
        let span = (yesterday - created).num_days().max(0) as u64;
        let updated = created + Days::new(self.range(0..=span));
        let created_at = timestamp(created, self.range(0..=86_399) as u32);
        let updated_at = if updated == created {
            created_at.clone()
        } else {
            timestamp(updated, self.range(0..=86_399) as u32)
        };

        // Emails.
        let local = self.email_local(&spec.name);
        let domain = PERSONAL_DOMAINS
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("example.com");
        let personal_email = format!("{local}@{domain}");
        let has_work_email = if is_future_status(status) {
            self.chance(0.2)
        } else {
            self.chance(0.88)
        };
        let work_email = has_work_email.then(|| format!("{local}@{WORK_DOMAIN}"));
        let login_email = match &work_email {
            Some(w) if !is_future_status(status) && self.chance(0.7) => w.clone(),
            _ => personal_email.clone(),
        };

        let employment_model = if spec.contractor {
            "contractor"
        } else {
            match self.range(0..=99) {
                0..=69 => "eor",
                70..=84 => "peo",
                _ => "global_payroll",
            }
        };
        let external_id = self
            .chance(0.05)
            .then(|| format!("HRIS-{:05}", self.range(1..=99_999)));
        let work_address = if spec.contractor || self.chance(0.3) {
            json!({})
        } else {
            json!({
                "address": format!("{} Main Street", self.range(1..=250)),
                "city": spec.country.city.0,
                "postal_code": spec.country.city.1,
                "country": spec.country.alpha3,
            })
        };
        let basic_information = match spec.basic {
            Basic::Absent => Value::Null,
            Basic::NameOnly | Basic::Full => {
                let mut b = json!({
                    "name": spec.name.full,
                    "email": personal_email,
                    "job_title": spec.job_title,
                    "provisional_start_date": start.to_string(),
                    "has_seniority_date": if seniority.is_some() { "yes" } else { "no" },
                });
                if spec.basic == Basic::Full {
                    if let Some(g) = &spec.name.given {
                        b["given_name"] = json!(g);
                    }
                    if let Some(s) = &spec.name.surname {
                        b["surname"] = json!(s);
                    }
                }
                b
            }
        };
        let (manager_employment_id, manager_name, manager_email, manager_user_id) = match manager {
            Some((e, n, m, u)) => (json!(e), json!(n), json!(m), json!(u)),
            None => (Value::Null, Value::Null, Value::Null, Value::Null),
        };

        let value = json!({
            "id": id,
            "short_id": short_id,
            "full_name": spec.name.full,
            "job_title": spec.job_title,
            "personal_email": personal_email,
            "login_email": login_email,
            "work_email": work_email,
            "department": spec.department,
            "department_id": department_id,
            "country": {
                "alpha_2_code": spec.country.alpha2,
                "code": spec.country.alpha3,
                "name": spec.country.name,
            },
            "status": status,
            "employment_lifecycle_stage": lifecycle_stage(status),
            "type": if spec.contractor { "contractor" } else { "employee" },
            "employment_model": employment_model,
            "external_id": external_id,
            "partner_external_id": Value::Null,
            "work_address_details": work_address,
            "manager": manager_name,
            "manager_email": manager_email,
            "manager_employment_id": manager_employment_id,
            "manager_id": manager_user_id,
            "provisional_start_date": start.to_string(),
            "seniority_date": seniority.map(|d| d.to_string()),
            "probation_period_end_date": probation.map(|d| d.to_string()),
            "termination_date": Value::Null,
            "company_id": self.company_id,
            "user_id": user_id,
            "user_status": user_status(status),
            "active_contract_id": contract_id,
            "created_at": created_at,
            "updated_at": updated_at,
            "basic_information": basic_information,
            "personal_details": Value::Null,
            "address_details": Value::Null,
            "bank_account_details": [],
            "files": [],
            "pricing_plan_details": { "frequency": "monthly" },
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// Builds an offboarding record (`GET /v1/offboardings` item).
    pub fn offboarding(
        &mut self,
        employment_id: &str,
        status: &str,
        termination_date: NaiveDate,
        confidential: bool,
        requested_by: &str,
    ) -> Map<String, Value> {
        const REASONS: &[&str] = &[
            "resignation",
            "workforce_reduction",
            "performance",
            "mutual_agreement",
            "end_of_fixed_term_contract",
        ];
        let id = self.uuid();
        let reason = REASONS.choose(&mut self.rng).copied().unwrap_or("other");
        let submitted = (termination_date - Days::new(self.range(14..=60))).min(self.today);
        let seconds = self.range(0..=86_399) as u32;
        let value = json!({
            "id": id,
            "employment_id": employment_id,
            "type": "termination",
            "status": status,
            "termination_date": termination_date.to_string(),
            "proposed_termination_date": termination_date.to_string(),
            "confidential": confidential,
            "submitted_at": format!("{}Z", timestamp(submitted, seconds)),
            "termination_reason": reason,
            "additional_comments": "",
            "requested_by": requested_by,
            "will_challenge_termination": false,
            "risk_assessment_reasons": [],
            "employee_awareness": { "date": submitted.to_string(), "note": Value::Null },
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// Splits a name into lowercase ASCII words (`"Renée \"Ren\" Dubois-Marchand"` → `renee`, `ren`,
/// `duboismarchand`), transliterating non-Latin scripts.
pub(crate) fn ascii_words(name: &str) -> Vec<String> {
    name.split_whitespace()
        .map(|w| {
            deunicode::deunicode(w)
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Number of people with each non-active status among `pool` ordinary people.
fn status_counts(pool: usize) -> Vec<(&'static str, usize)> {
    let mut left = pool;
    let mut out = Vec::new();
    for &(status, share) in STATUS_SHARES {
        let mut n = (pool as f64 * share).round() as usize;
        // Every status shows up in a workforce of some size; the common ones even in small ones.
        if pool >= 40 || (pool >= 6 && matches!(status, "pre_hire" | "offboarding" | "archived")) {
            n = n.max(1);
        }
        let n = n.min(left.saturating_sub(1));
        left -= n;
        out.push((status, n));
    }
    out
}

/// Generates a workforce; see the module documentation.
pub fn generate(seed: u64, people: usize, today: NaiveDate) -> Workforce {
    let mut g = Generator::new(seed, today);
    let company_id = g.company_id.clone();

    // Roles: 0 = CEO, then department heads, then team leads, then special people, then others.
    let managers = if people <= 1 {
        0
    } else {
        (people / 15).clamp(1, people - 1)
    };
    let heads = managers.min(DEPARTMENTS.len());
    let leads = managers - heads;
    let others = people.saturating_sub(1 + managers);
    let specials = if others >= SPECIAL_PEOPLE.len() {
        SPECIAL_PEOPLE.len()
    } else {
        0
    };
    let ordinary = others - specials;

    let mut statuses: Vec<&str> = Vec::with_capacity(ordinary);
    for (status, n) in status_counts(ordinary) {
        statuses.extend(std::iter::repeat_n(status, n));
    }
    statuses.resize(ordinary, "active");
    statuses.shuffle(&mut g.rng);

    let mut specs: Vec<PersonSpec> = Vec::with_capacity(people);
    let mut head_of: Vec<Option<usize>> = vec![None; DEPARTMENTS.len()];
    let mut leads_of: Vec<Vec<usize>> = vec![Vec::new(); DEPARTMENTS.len()];

    for i in 0..people {
        let country = g.country();
        let name = g.name(country);
        let basic = match g.range(0..=99) {
            0..=84 => Basic::Full,
            85..=92 => Basic::NameOnly,
            _ => Basic::Absent,
        };
        let spec = if i == 0 {
            PersonSpec {
                name,
                basic,
                country,
                department: EXECUTIVE.to_owned(),
                job_title: "Chief Executive Officer".to_owned(),
                status: "active".to_owned(),
                contractor: false,
                manager: None,
            }
        } else if i <= heads {
            let dept = (i - 1) % DEPARTMENTS.len();
            head_of[dept] = Some(i);
            PersonSpec {
                name,
                basic,
                country,
                department: DEPARTMENTS[dept].name.to_owned(),
                job_title: DEPARTMENTS[dept].head_title.to_owned(),
                status: "active".to_owned(),
                contractor: false,
                manager: Some(0),
            }
        } else if i <= heads + leads {
            let dept = g.department();
            leads_of[dept].push(i);
            PersonSpec {
                name,
                basic,
                country,
                department: DEPARTMENTS[dept].name.to_owned(),
                job_title: DEPARTMENTS[dept].lead_title.to_owned(),
                status: "active".to_owned(),
                contractor: false,
                manager: Some(head_of[dept].unwrap_or(0)),
            }
        } else {
            let dept = g.department();
            let manager = leads_of[dept]
                .choose(&mut g.rng)
                .copied()
                .or(head_of[dept])
                .unwrap_or(0);
            let job_title = g.title(dept);
            let contractor = g.chance(0.2);
            let special = i - heads - leads - 1;
            if special < specials {
                let s = &SPECIAL_PEOPLE[special];
                let country = COUNTRIES
                    .iter()
                    .find(|c| c.alpha2 == s.country)
                    .unwrap_or(country);
                PersonSpec {
                    name: PersonName {
                        full: s.full_name.to_owned(),
                        given: s.given.map(str::to_owned),
                        surname: s.surname.map(str::to_owned),
                    },
                    basic: match (s.basic_information, s.given) {
                        (false, _) => Basic::Absent,
                        (true, None) => Basic::NameOnly,
                        (true, Some(_)) => Basic::Full,
                    },
                    country,
                    department: DEPARTMENTS[dept].name.to_owned(),
                    job_title,
                    status: "active".to_owned(),
                    contractor,
                    manager: Some(manager),
                }
            } else {
                PersonSpec {
                    name,
                    basic,
                    country,
                    department: DEPARTMENTS[dept].name.to_owned(),
                    job_title,
                    status: statuses
                        .get(special - specials)
                        .copied()
                        .unwrap_or("active")
                        .to_owned(),
                    contractor,
                    manager: Some(manager),
                }
            }
        };
        specs.push(spec);
    }

    // Build JSON in index order; managers always come before their reports.
    let mut employments: Vec<Map<String, Value>> = Vec::with_capacity(people);
    for spec in &specs {
        let id = g.uuid();
        let manager = spec.manager.and_then(|m| employments.get(m)).map(|m| {
            (
                str_field(m, "id"),
                str_field(m, "full_name"),
                str_field(m, "login_email"),
                str_field(m, "user_id"),
            )
        });
        let e = g.employment(id, spec, manager);
        employments.push(e);
    }

    // Company managers: the CEO (owner), heads (admin), leads (manager), and an HR admin who has
    // no employment of their own.
    let mut company_managers: Vec<CompanyManager> = employments
        .iter()
        .take(1 + managers)
        .enumerate()
        .map(|(i, e)| CompanyManager {
            user_id: str_field(e, "user_id").to_owned(),
            employment_id: Some(str_field(e, "id").to_owned()),
            name: str_field(e, "full_name").to_owned(),
            email: str_field(e, "login_email").to_owned(),
            role: match i {
                0 => "owner",
                i if i <= heads => "admin",
                _ => "manager",
            }
            .to_owned(),
        })
        .collect();
    let admin_local = g.email_local(&PersonName {
        full: "Åse Kjær-Haugen".to_owned(),
        given: Some("Åse".to_owned()),
        surname: Some("Kjær-Haugen".to_owned()),
    });
    company_managers.push(CompanyManager {
        user_id: g.uuid(),
        employment_id: None,
        name: "Åse Kjær-Haugen".to_owned(),
        email: format!("{admin_local}@{WORK_DOMAIN}"),
        role: "admin".to_owned(),
    });
    let requested_by = company_managers
        .first()
        .map(|m| m.user_id.clone())
        .unwrap_or_default();

    // Offboardings for people leaving or gone, and a few canceled ones for people who stay.
    let today = g.today;
    let mut offboardings = Vec::new();
    for e in &mut employments {
        let status = str_field(e, "status").to_owned();
        let id = str_field(e, "id").to_owned();
        let record = match status.as_str() {
            "offboarding" => {
                let date = today + Days::new(g.range(1..=45));
                let st = if g.chance(0.5) {
                    "submitted"
                } else {
                    "in_review"
                };
                Some((st, date))
            }
            "archived" => Some(("done", today - Days::new(g.range(1..=365)))),
            "active" if g.chance(0.01) => Some(("canceled", today + Days::new(g.range(1..=60)))),
            _ => None,
        };
        if let Some((st, date)) = record {
            let confidential = g.chance(0.2);
            if st != "canceled" {
                e.insert("termination_date".to_owned(), json!(date.to_string()));
            }
            offboardings.push(g.offboarding(&id, st, date, confidential, &requested_by));
        }
    }

    // Remote's list order is not the org chart: shuffle so reports often come before managers.
    employments.shuffle(&mut g.rng);

    Workforce {
        company_id,
        employments,
        offboardings,
        managers: company_managers,
        generator: g,
    }
}

/// A string field of a stored employment, or "".
pub(crate) fn str_field<'a>(e: &'a Map<String, Value>, key: &str) -> &'a str {
    e.get(key).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ascii_words_transliterates_and_strips() {
        assert_eq!(
            ascii_words(" Renée \"Ren\" Dubois-Marchand"),
            ["renee", "ren", "duboismarchand"]
        );
        assert_eq!(ascii_words("Łukasz Żółć"), ["lukasz", "zolc"]);
    }

    #[test]
    fn status_counts_never_exceed_pool() {
        for pool in 0..100 {
            let total: usize = status_counts(pool).iter().map(|(_, n)| n).sum();
            assert!(total < pool.max(1), "pool {pool}: {total}");
        }
    }
}
