//! The simulated company's state and [`SimHandle`], the test-side handle to inspect and change it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use serde_json::{Map, Value, json};

use super::SimConfig;
use super::auth::AuthState;
use super::faults::{Fault, FaultQueue};
use super::names::{COUNTRIES, DEPARTMENTS};
use super::rate::RateState;
use super::stats::SimStats;
use super::webhooks;
use super::workforce::{
    Basic, CompanyManager, Generator, LIST_FIELDS, PersonName, PersonSpec, Workforce,
    lifecycle_stage, str_field, user_status,
};

/// Format of `created_at` / `updated_at` (Remote sends no offset).
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Filters of `GET /v1/employments`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ListFilter {
    /// Allowed statuses (`status=a,b`; `incomplete` stands for every not-yet-started status).
    pub statuses: Option<Vec<String>>,
    /// Login email, case-insensitive.
    pub email: Option<String>,
    /// Substring of `full_name`, case-insensitive.
    pub name: Option<String>,
    /// Allowed `employment_model` values.
    pub employment_model: Option<Vec<String>>,
    /// Allowed `type` values (`employment_type=`).
    pub employment_type: Option<Vec<String>>,
    /// Exact `short_id`.
    pub short_id: Option<String>,
    /// Exact `partner_external_id`.
    pub partner_external_id: Option<String>,
}

impl ListFilter {
    fn matches(&self, e: &Map<String, Value>) -> bool {
        let status = str_field(e, "status");
        if status == "deleted" {
            return false;
        }
        let any = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == value))
        };
        any(&self.statuses, status)
            && any(&self.employment_model, str_field(e, "employment_model"))
            && any(&self.employment_type, str_field(e, "type"))
            && self
                .email
                .as_ref()
                .is_none_or(|m| str_field(e, "login_email").eq_ignore_ascii_case(m))
            && self
                .name
                .as_ref()
                .is_none_or(|n| str_field(e, "full_name").to_lowercase().contains(n))
            && self
                .short_id
                .as_ref()
                .is_none_or(|s| str_field(e, "short_id") == s)
            && self
                .partner_external_id
                .as_ref()
                .is_none_or(|p| str_field(e, "partner_external_id") == p)
    }
}

/// The indices matching the last filter used, valid while nothing changes.
struct ListCache {
    generation: u64,
    filter: ListFilter,
    indices: Arc<Vec<usize>>,
}

/// Everything the simulator knows, behind one mutex.
pub(crate) struct SimState {
    pub config: SimConfig,
    pub company_id: String,
    employments: Vec<Map<String, Value>>,
    index: HashMap<String, usize>,
    offboardings: Vec<Map<String, Value>>,
    managers: Vec<CompanyManager>,
    generator: Generator,
    generation: u64,
    list_cache: Option<ListCache>,
    /// How `GET /v1/employments` misbehaves, if it does.
    pub list_quirk: Option<super::faults::ListQuirk>,
    pub auth: AuthState,
    pub faults: FaultQueue,
    pub rate: RateState,
    pub stats: SimStats,
    /// Custom fields and time off (`super::custom`).
    pub(crate) custom: super::custom::CustomData,
}

/// A field error of `PATCH /v1/employments/{id}`: field name and message.
pub(crate) type FieldErrors = Map<String, Value>;

impl SimState {
    fn new(config: SimConfig, workforce: Workforce) -> SimState {
        let index = workforce
            .employments
            .iter()
            .enumerate()
            .map(|(i, e)| (str_field(e, "id").to_owned(), i))
            .collect();
        SimState {
            auth: AuthState::new(config.initial_refresh_token.clone(), config.token_ttl),
            rate: RateState::new(config.rate_limit),
            faults: FaultQueue::default(),
            stats: SimStats::default(),
            company_id: workforce.company_id,
            employments: workforce.employments,
            index,
            offboardings: workforce.offboardings,
            managers: workforce.managers,
            generator: workforce.generator,
            generation: 0,
            list_cache: None,
            list_quirk: None,
            custom: super::custom::CustomData::default(),
            config,
        }
    }

    /// The user id of the company owner (the CEO).
    pub fn owner_user_id(&self) -> String {
        self.managers
            .iter()
            .find(|m| m.role == "owner")
            .map(|m| m.user_id.clone())
            .unwrap_or_default()
    }

    /// Index of an employment, deleted ones included.
    fn find(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Index of an employment the API may show (not deleted).
    pub fn find_visible(&self, id: &str) -> Option<usize> {
        self.find(id)
            .filter(|&i| str_field(&self.employments[i], "status") != "deleted")
    }

    /// Detail JSON; manager fields follow `manager_employment_id` when it names an employment.
    pub fn render_detail(&self, i: usize) -> Value {
        let mut e = self.employments[i].clone();
        let manager = e
            .get("manager_employment_id")
            .and_then(Value::as_str)
            .and_then(|id| self.find(id));
        if let Some(m) = manager {
            let m = &self.employments[m];
            e.insert("manager".into(), json!(str_field(m, "full_name")));
            e.insert("manager_email".into(), json!(str_field(m, "login_email")));
            e.insert("manager_id".into(), json!(str_field(m, "user_id")));
        }
        Value::Object(e)
    }

    /// List item JSON: [`LIST_FIELDS`] only.
    pub fn render_list_item(&self, i: usize) -> Value {
        let e = &self.employments[i];
        Value::Object(
            LIST_FIELDS
                .iter()
                .map(|&f| (f.to_owned(), e.get(f).cloned().unwrap_or(Value::Null)))
                .collect(),
        )
    }

    /// Indices of the employments matching `filter`, in list order (cached until a change).
    pub fn visible(&mut self, filter: &ListFilter) -> Arc<Vec<usize>> {
        if let Some(cache) = &self.list_cache
            && cache.generation == self.generation
            && &cache.filter == filter
        {
            return cache.indices.clone();
        }
        let indices: Arc<Vec<usize>> = Arc::new(
            self.employments
                .iter()
                .enumerate()
                .filter(|(_, e)| filter.matches(e))
                .map(|(i, _)| i)
                .collect(),
        );
        self.list_cache = Some(ListCache {
            generation: self.generation,
            filter: filter.clone(),
            indices: indices.clone(),
        });
        indices
    }

    /// Company managers as `GET /v1/company-managers` shows them.
    pub fn render_managers(&self) -> Vec<Value> {
        self.managers
            .iter()
            .map(|m| {
                let employment = m.employment_id.as_deref().and_then(|id| self.find(id));
                let (name, email) = match employment {
                    Some(i) => (
                        str_field(&self.employments[i], "full_name"),
                        str_field(&self.employments[i], "login_email"),
                    ),
                    None => (m.name.as_str(), m.email.as_str()),
                };
                json!({
                    "company_id": self.company_id,
                    "role": m.role,
                    "user_email": email,
                    "user_id": m.user_id,
                    "user_name": name,
                })
            })
            .collect()
    }

    /// Offboarding records (all, confidential ones included).
    pub fn offboardings(&self) -> &[Map<String, Value>] {
        &self.offboardings
    }

    /// Marks employment `i` changed: bumps `updated_at` (strictly increasing) and the list cache.
    fn touch(&mut self, i: usize) {
        self.generation += 1;
        let e = &mut self.employments[i];
        let now = Utc::now().naive_utc();
        let now = now.with_nanosecond(0).unwrap_or(now);
        let old = e
            .get("updated_at")
            .and_then(Value::as_str)
            .and_then(|s| NaiveDateTime::parse_from_str(s, TIMESTAMP_FORMAT).ok());
        let new = match old {
            Some(old) if old >= now => old + TimeDelta::seconds(1),
            _ => now,
        };
        e.insert(
            "updated_at".into(),
            json!(new.format(TIMESTAMP_FORMAT).to_string()),
        );
    }

    /// Fills fields that follow from others the patch changed without setting them.
    fn derive(&mut self, i: usize, patch: &Map<String, Value>) {
        let e = &mut self.employments[i];
        if let Some(status) = patch.get("status").and_then(Value::as_str) {
            let status = status.to_owned();
            if !patch.contains_key("employment_lifecycle_stage") {
                e.insert(
                    "employment_lifecycle_stage".into(),
                    json!(lifecycle_stage(&status)),
                );
            }
            if !patch.contains_key("user_status") {
                e.insert("user_status".into(), json!(user_status(&status)));
            }
        }
        if let Some(full_name) = patch.get("full_name").cloned()
            && !patch.contains_key("basic_information")
            && let Some(Value::Object(b)) = e.get_mut("basic_information")
        {
            b.insert("name".into(), full_name);
            b.remove("given_name");
            b.remove("surname");
        }
        // Clearing the manager clears what is derived from it (unless the patch sets those).
        if patch
            .get("manager_employment_id")
            .is_some_and(Value::is_null)
        {
            for key in ["manager", "manager_email", "manager_id"] {
                if !patch.contains_key(key) {
                    self.employments[i].insert(key.into(), Value::Null);
                }
            }
        }
        if let Some(dept) = patch.get("department").and_then(Value::as_str)
            && !patch.contains_key("department_id")
        {
            let id = self.generator.department_id(dept);
            self.employments[i].insert("department_id".into(), json!(id));
        }
    }

    /// Test-side merge of `patch` into employment `i` (see [`SimHandle::update_employment`]).
    fn merge(&mut self, i: usize, patch: &Map<String, Value>) {
        let e = &mut self.employments[i];
        for (k, v) in patch {
            if k == "id" {
                continue;
            }
            merge_value(e, k, v);
        }
        self.derive(i, patch);
        self.touch(i);
    }

    /// Applies `PATCH /v1/employments/{id}` fields to employment `i`, or explains why not.
    pub fn api_patch(&mut self, i: usize, fields: &Map<String, Value>) -> Result<(), FieldErrors> {
        let status = str_field(&self.employments[i], "status").to_owned();
        let own_id = str_field(&self.employments[i], "id").to_owned();
        let mut errors = FieldErrors::new();
        let mut error = |field: &str, message: String| {
            errors.insert(field.to_owned(), json!([message]));
        };
        let mut manager: Option<CompanyManager> = None;
        for (field, value) in fields {
            match field.as_str() {
                "work_email" => {
                    if !matches!(status.as_str(), "active" | "invited") {
                        error(
                            field,
                            format!("cannot be changed while the employment is {status}"),
                        );
                    } else if !value.as_str().is_some_and(is_email) {
                        error(field, "must be a valid email address".into());
                    }
                }
                "external_id" | "partner_external_id" => {
                    if !(value.is_null() || value.is_string()) {
                        error(field, "must be a string or null".into());
                    }
                }
                "manager_id" => {
                    if status != "active" {
                        error(
                            field,
                            format!("cannot be changed while the employment is {status}"),
                        );
                        continue;
                    }
                    let found = value
                        .as_str()
                        .and_then(|id| self.managers.iter().find(|m| m.user_id == id));
                    match found {
                        None => error(field, "must be the user_id of a company manager".into()),
                        Some(m) if m.employment_id.as_deref() == Some(own_id.as_str()) => {
                            error(field, "an employee cannot be their own manager".into())
                        }
                        Some(m) => manager = Some(m.clone()),
                    }
                }
                "address_details" | "emergency_contact_details" => {
                    if status != "active" {
                        error(
                            field,
                            format!("cannot be changed while the employment is {status}"),
                        );
                    } else if !value.is_object() {
                        error(field, "must be an object".into());
                    }
                }
                _ => error(field, "is not a field that can be updated".into()),
            }
        }
        if fields.is_empty() {
            error("employment", "no fields to update".into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let e = &mut self.employments[i];
        for (field, value) in fields {
            if field == "manager_id" {
                continue;
            }
            e.insert(field.clone(), value.clone());
        }
        if let Some(m) = manager {
            e.insert("manager_id".into(), json!(m.user_id));
            e.insert("manager_employment_id".into(), json!(m.employment_id));
            e.insert("manager".into(), json!(m.name));
            e.insert("manager_email".into(), json!(m.email));
        }
        self.touch(i);
        Ok(())
    }

    /// See [`SimHandle::add_employment`].
    fn add_employment(&mut self, given: Map<String, Value>) -> String {
        let g = &mut self.generator;
        let id = given
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| g.uuid());
        let alpha2 = given
            .get("country")
            .and_then(|c| c.get("alpha_2_code"))
            .and_then(Value::as_str);
        let country = match COUNTRIES.iter().find(|c| Some(c.alpha2) == alpha2) {
            Some(c) => c,
            None => g.country(),
        };
        let (name, basic) = match given.get("full_name").and_then(Value::as_str) {
            Some(full) => (
                PersonName {
                    full: full.to_owned(),
                    given: None,
                    surname: None,
                },
                Basic::NameOnly,
            ),
            None => (g.name(country), Basic::Full),
        };
        let dept_index = g.department();
        let department = given
            .get("department")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| DEPARTMENTS[dept_index].name.to_owned());
        let job_title = g.title(dept_index);
        let status = given
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("active")
            .to_owned();
        let contractor = given.get("type").and_then(Value::as_str) == Some("contractor");
        let spec = PersonSpec {
            name,
            basic,
            country,
            department,
            job_title,
            status,
            contractor,
            manager: None,
        };

        // A manager from the company managers who have an employment, unless one is given.
        let candidates: Vec<usize> = self
            .managers
            .iter()
            .filter_map(|m| m.employment_id.as_deref().and_then(|id| self.index.get(id)))
            .copied()
            .collect();
        let manager = if given.contains_key("manager_employment_id") || candidates.is_empty() {
            None
        } else {
            let pick = self.generator.range(0..=(candidates.len() as u64 - 1)) as usize;
            candidates.get(pick).map(|&m| {
                let m = &self.employments[m];
                (
                    str_field(m, "id").to_owned(),
                    str_field(m, "full_name").to_owned(),
                    str_field(m, "login_email").to_owned(),
                    str_field(m, "user_id").to_owned(),
                )
            })
        };
        let mut e = self.generator.employment(
            id.clone(),
            &spec,
            manager
                .as_ref()
                .map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str())),
        );
        for (k, v) in &given {
            merge_value(&mut e, k, v);
        }
        let i = match self.find(&id) {
            Some(i) => {
                self.employments[i] = e;
                i
            }
            None => {
                self.employments.push(e);
                self.index.insert(id.clone(), self.employments.len() - 1);
                self.employments.len() - 1
            }
        };
        self.derive(i, &given);
        self.generation += 1;
        id
    }

    /// See [`SimHandle::remove_employment`].
    fn remove_employment(&mut self, id: &str) -> Option<Value> {
        let i = self.find(id)?;
        let detail = self.render_detail(i);
        self.employments.remove(i);
        self.index = self
            .employments
            .iter()
            .enumerate()
            .map(|(i, e)| (str_field(e, "id").to_owned(), i))
            .collect();
        self.offboardings
            .retain(|o| str_field(o, "employment_id") != id);
        self.generation += 1;
        self.list_cache = None;
        Some(detail)
    }

    /// See [`SimHandle::set_offboarding`].
    fn set_offboarding(&mut self, i: usize, termination_date: NaiveDate, confidential: bool) {
        let today = Utc::now().date_naive();
        let (record_status, employment_status) = if termination_date < today {
            ("done", "archived")
        } else {
            ("submitted", "offboarding")
        };
        let id = str_field(&self.employments[i], "id").to_owned();
        let existing = self
            .offboardings
            .iter_mut()
            .find(|o| str_field(o, "employment_id") == id && str_field(o, "status") != "canceled");
        match existing {
            Some(o) => {
                o.insert("status".into(), json!(record_status));
                o.insert(
                    "termination_date".into(),
                    json!(termination_date.to_string()),
                );
                o.insert(
                    "proposed_termination_date".into(),
                    json!(termination_date.to_string()),
                );
                o.insert("confidential".into(), json!(confidential));
            }
            None => {
                let owner = self.owner_user_id();
                let record = self.generator.offboarding(
                    &id,
                    record_status,
                    termination_date,
                    confidential,
                    &owner,
                );
                self.offboardings.push(record);
            }
        }
        let patch = json!({
            "status": employment_status,
            "termination_date": termination_date.to_string(),
        });
        if let Value::Object(patch) = patch {
            self.merge(i, &patch);
        }
    }
}

/// Sets `key` to `value` in `target`, merging objects recursively (JSON merge, but `null` is
/// stored as `null` rather than removing the key: Remote sends nullable fields as `null`).
fn merge_value(target: &mut Map<String, Value>, key: &str, value: &Value) {
    match (target.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(patch)) => {
            for (k, v) in patch {
                merge_value(existing, k, v);
            }
        }
        _ => {
            target.insert(key.to_owned(), value.clone());
        }
    }
}

/// A plausible email address: one `@`, something on each side, no spaces.
fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A cheap, cloneable handle to a running simulator's state, for tests to inspect and change the
/// simulated company while the engine under test talks to it over HTTP.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Mutex<SimState>>,
}

impl SimHandle {
    pub(crate) fn new(config: SimConfig, workforce: Workforce) -> SimHandle {
        SimHandle {
            inner: Arc::new(Mutex::new(SimState::new(config, workforce))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A test that panicked while holding the lock leaves consistent enough data to go on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the state locked.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        f(&mut self.lock())
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> SimConfig {
        self.lock().config.clone()
    }

    /// The simulated company's id.
    pub fn company_id(&self) -> String {
        self.lock().company_id.clone()
    }

    /// Detail JSON of every employment, in list order, deleted ones included.
    pub fn employments(&self) -> Vec<serde_json::Value> {
        let s = self.lock();
        (0..s.employments.len())
            .map(|i| s.render_detail(i))
            .collect()
    }

    /// Detail JSON of one employment (deleted ones included), as `GET /v1/employments/{id}`
    /// would show it.
    pub fn employment(&self, id: &str) -> Option<serde_json::Value> {
        let s = self.lock();
        s.find(id).map(|i| s.render_detail(i))
    }

    /// Merges `patch` (an object) into an employment, as an edit made in Remote's UI would:
    /// objects merge recursively, anything else replaces, `null` is stored as `null`. Fields
    /// that follow from others are kept consistent unless the patch sets them too: `status` →
    /// `employment_lifecycle_stage` and `user_status`; `department` → `department_id`;
    /// `full_name` → `basic_information.name` (and drops `given_name` / `surname`). Setting
    /// `manager_employment_id` makes `manager`, `manager_email` and `manager_id` follow. Bumps
    /// `updated_at`.
    ///
    /// # Panics
    /// If there is no employment with this id, or `patch` is not an object (test mistakes).
    pub fn update_employment(&self, id: &str, patch: serde_json::Value) {
        let Value::Object(patch) = patch else {
            panic!("update_employment({id}): the patch must be a JSON object");
        };
        let mut s = self.lock();
        let Some(i) = s.find(id) else {
            drop(s);
            panic!("update_employment: no employment with id {id}");
        };
        s.merge(i, &patch);
    }

    /// Adds an employment (or replaces the one with the same `id`) and returns its id. Fields not
    /// given are generated: an `active` person in a random country and department reporting to a
    /// company manager, dates relative to today. `full_name`, `status`, `type`, `department` and
    /// `country.alpha_2_code` given are taken into account when generating the rest (emails from
    /// the name, start date in the future for pre-hire statuses…).
    pub fn add_employment(&self, employment: serde_json::Value) -> String {
        let given = match employment {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.lock().add_employment(given)
    }

    /// Removes an employment entirely, as if it had never existed (unlike `status: "deleted"`,
    /// which Remote keeps): absent from the list, 404 on detail, gone from
    /// [`SimHandle::employments`]. Its offboardings go too; reports keep their (now dangling)
    /// `manager_employment_id`. Returns the removed employment's detail JSON, or `None` if there
    /// was no employment with this id.
    pub fn remove_employment(&self, id: &str) -> Option<serde_json::Value> {
        self.lock().remove_employment(id)
    }

    /// Records a termination for an employment: creates (or updates) its offboarding record and
    /// sets `termination_date`. A date in the future or today makes the employment `offboarding`
    /// with a `submitted` offboarding; a past date makes it `archived` with a `done` one.
    /// Confidential offboardings only show with `include_confidential=true`.
    ///
    /// # Panics
    /// If there is no employment with this id.
    pub fn set_offboarding(
        &self,
        employment_id: &str,
        termination_date: chrono::NaiveDate,
        confidential: bool,
    ) {
        let mut s = self.lock();
        let Some(i) = s.find(employment_id) else {
            drop(s);
            panic!("set_offboarding: no employment with id {employment_id}");
        };
        s.set_offboarding(i, termination_date, confidential);
    }

    /// Every offboarding record, confidential ones included.
    pub fn offboardings(&self) -> Vec<serde_json::Value> {
        self.lock()
            .offboardings()
            .iter()
            .map(|o| Value::Object(o.clone()))
            .collect()
    }

    /// Company managers as `GET /v1/company-managers` shows them.
    pub fn company_managers(&self) -> Vec<serde_json::Value> {
        self.lock().render_managers()
    }

    /// Makes an employment's user a company manager (so `PATCH … manager_id` accepts it);
    /// returns its `user_id`.
    ///
    /// # Panics
    /// If there is no employment with this id.
    pub fn add_company_manager(&self, employment_id: &str, role: &str) -> String {
        let mut s = self.lock();
        let Some(i) = s.find(employment_id) else {
            drop(s);
            panic!("add_company_manager: no employment with id {employment_id}");
        };
        let e = &s.employments[i];
        let manager = CompanyManager {
            user_id: str_field(e, "user_id").to_owned(),
            employment_id: Some(employment_id.to_owned()),
            name: str_field(e, "full_name").to_owned(),
            email: str_field(e, "login_email").to_owned(),
            role: role.to_owned(),
        };
        let user_id = manager.user_id.clone();
        if !s.managers.iter().any(|m| m.user_id == user_id) {
            s.managers.push(manager);
        }
        user_id
    }

    /// The next `times` API requests (not token requests) get `fault`. Faults queue up in order.
    pub fn inject(&self, fault: Fault, times: u32) {
        self.lock().faults.push_api(fault, times);
    }

    /// The next `times` requests for page `page` (1-based) of `GET /v1/employments` get `fault`;
    /// other requests are served normally (or get faults queued with [`SimHandle::inject`]).
    /// E.g. `inject_list_page(2, Fault::ServerError(500), 50)` makes listing fail past page 1
    /// whatever the client retries. [`SimHandle::clear_faults`] forgets them.
    pub fn inject_list_page(&self, page: usize, fault: Fault, times: u32) {
        self.lock().faults.push_list_page(page, fault, times);
    }

    /// Makes `GET /v1/employments` misbehave from now on (`None`: behave again).
    pub fn set_list_quirk(&self, quirk: Option<super::faults::ListQuirk>) {
        self.lock().list_quirk = quirk;
    }

    /// The next `times` token requests get `fault`.
    pub fn inject_token(&self, fault: Fault, times: u32) {
        self.lock().faults.push_token(fault, times);
    }

    /// Forgets faults not yet served.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Faults not yet served: (API, token).
    pub fn pending_faults(&self) -> (usize, usize) {
        self.lock().faults.pending()
    }

    /// Invalidates every issued access token: API calls with them get 401 until the client gets
    /// a new one. The static API token keeps working.
    pub fn expire_tokens(&self) {
        self.lock().auth.revoke_all();
    }

    /// The refresh token currently valid (it changes on every refresh).
    pub fn current_refresh_token(&self) -> String {
        self.lock().auth.refresh_token().to_owned()
    }

    /// What the simulator has seen so far.
    pub fn stats(&self) -> SimStats {
        let s = self.lock();
        let mut stats = s.stats.clone();
        stats.max_requests_in_window = s.rate.max_in_window;
        stats.peak_requests_per_minute = s.rate.peak_per_minute;
        stats
    }

    /// Zeroes the counters (not the rate-limit window in progress), e.g. between benchmark
    /// phases.
    pub fn reset_stats(&self) {
        let mut s = self.lock();
        s.stats = SimStats::default();
        s.rate.max_in_window = 0;
        s.rate.peak_per_minute = 0;
    }

    /// Delivers a signed webhook `{"event_type","company_id","employment_id"}` to `url` and
    /// returns the receiver's HTTP status.
    pub async fn send_webhook(
        &self,
        url: &str,
        event_type: &str,
        employment_id: &str,
    ) -> anyhow::Result<u16> {
        let (key, company_id) = {
            let s = self.lock();
            (s.config.webhook_signing_key.clone(), s.company_id.clone())
        };
        let body = webhooks::payload(event_type, &company_id, employment_id);
        let timestamp = Utc::now().timestamp_millis();
        webhooks::deliver(&key, url, body, timestamp).await
    }

    /// Lowercase hex HMAC-SHA256, keyed with the webhook signing key, over
    /// `body ++ b":" ++ timestamp_ms`.
    pub fn sign(&self, body: &[u8], timestamp_ms: i64) -> String {
        let key = self.lock().config.webhook_signing_key.clone();
        webhooks::sign(&key, body, timestamp_ms)
    }
}
