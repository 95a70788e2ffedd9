//! The order details are fetched and accounts created in during enrichment: managers before
//! their reports, so that a new account's `manager` goes into its add (one write) instead of a
//! modify after.
//!
//! Details are fetched in batches from a ranked queue. When a detail shows that a new person's
//! manager has no account yet but will be fetched (or created) later in this run, the person is
//! held and the manager's detail is moved to the front of the queue; the person is planned in
//! the batch after their manager's was applied. Chains wait one batch per level; cycles and
//! people still held when the queue ends are planned then (their manager link follows as a
//! modify, as before).
//!
//! Holding costs time, so it is done only when details are cheap: behind an HR rate limit a new
//! person's account is created as soon as their detail arrives, and the manager link follows
//! as a modify once the manager's account exists.

use std::collections::{HashMap, HashSet};

use crate::mapping::Person;

/// The details still to fetch this run, and the people held for their manager.
#[derive(Debug)]
pub struct Queue {
    order: Vec<String>,
    next: usize,
    /// `order[..must]` are needed this run; the rest are refreshes while budget remains.
    must: usize,
    pending: HashSet<String>,
    /// Held people by id, with the manager they wait for, in the order they were held.
    held: Vec<(Person, String)>,
    held_ids: HashMap<String, usize>,
    /// Whether new people wait for their manager at all.
    hold: bool,
}

impl Queue {
    /// A queue of `wanted` ids, the first `must` of them needed this run; with `hold`, new
    /// people wait for a manager fetched later.
    pub fn new(wanted: Vec<String>, must: usize, hold: bool) -> Self {
        Queue {
            pending: wanted.iter().cloned().collect(),
            must: must.min(wanted.len()),
            order: wanted,
            next: 0,
            held: Vec::new(),
            held_ids: HashMap::new(),
            hold,
        }
    }

    /// Ids taken so far.
    pub fn taken(&self) -> usize {
        self.next
    }

    /// Ids in the queue, taken or not.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no id is left to take.
    pub fn is_empty(&self) -> bool {
        self.next >= self.order.len()
    }

    /// How many of the ids are needed this run (the rest are refreshes).
    pub fn must(&self) -> usize {
        self.must
    }

    /// Takes the next `n` ids.
    pub fn take(&mut self, n: usize) -> Vec<String> {
        let end = (self.next + n).min(self.order.len());
        let ids = self.order[self.next..end].to_vec();
        for id in &ids {
            self.pending.remove(id);
        }
        self.next = end;
        ids
    }

    /// Moves `id`, if it is still to be fetched, to the front; a refresh becomes needed.
    fn promote(&mut self, id: &str) {
        if !self.pending.contains(id) {
            return;
        }
        let Some(at) = self.order[self.next..].iter().position(|x| x == id) else {
            return;
        };
        let at = self.next + at;
        let moved = self.order.remove(at);
        self.order.insert(self.next, moved);
        if at >= self.must {
            self.must += 1;
        }
    }

    /// Splits a batch of fresh details into the people to plan now — with those held earlier
    /// whose manager is no longer waited for — and holds the others. `has_account` says whether
    /// a person already has an account.
    pub fn sort_batch(
        &mut self,
        batch: Vec<Person>,
        has_account: &dyn Fn(&str) -> bool,
    ) -> Vec<Person> {
        let in_batch: HashSet<String> = batch.iter().map(|p| p.id.clone()).collect();
        // Held people whose manager was planned (so created, if it could be) in an earlier
        // batch: not still to fetch, not in this batch, not held until now.
        let mut ready = Vec::new();
        let held_before: HashSet<String> = self.held_ids.keys().cloned().collect();
        self.held_ids.clear();
        for (p, manager) in std::mem::take(&mut self.held) {
            let waiting = self.pending.contains(&manager)
                || in_batch.contains(&manager)
                || held_before.contains(&manager);
            if waiting {
                self.hold(p, manager);
            } else {
                ready.push(p);
            }
        }
        for p in batch {
            match self.waits_for(&p, &in_batch, has_account) {
                Some(manager) => {
                    self.promote(&manager);
                    self.hold(p, manager);
                }
                None => ready.push(p),
            }
        }
        ready
    }

    /// The manager `p` should wait for: a new person whose manager has no account but will be
    /// fetched or planned later in this run.
    fn waits_for(
        &self,
        p: &Person,
        in_batch: &HashSet<String>,
        has_account: &dyn Fn(&str) -> bool,
    ) -> Option<String> {
        if !self.hold {
            return None;
        }
        let manager = p.facts.manager_id.as_deref()?.trim();
        if manager.is_empty() || manager == p.id || has_account(&p.id) || has_account(manager) {
            return None;
        }
        let later = self.pending.contains(manager)
            || in_batch.contains(manager)
            || self.held_ids.contains_key(manager);
        // Waiting on someone who waits on this person would never end.
        let cycle = self.held_ids.contains_key(manager) && self.chain_reaches(manager, &p.id);
        (later && !cycle).then(|| manager.to_string())
    }

    /// Whether following held people's managers from `from` reaches `target`.
    fn chain_reaches(&self, from: &str, target: &str) -> bool {
        let mut at = from.to_string();
        for _ in 0..=self.held.len() {
            let Some(&i) = self.held_ids.get(&at) else {
                return false;
            };
            let next = &self.held[i].1;
            if next == target {
                return true;
            }
            at = next.clone();
        }
        true
    }

    fn hold(&mut self, p: Person, manager: String) {
        self.held_ids.insert(p.id.clone(), self.held.len());
        self.held.push((p, manager));
    }

    /// Whether anyone is held.
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// Everyone still held (the queue ended or stopped): planned now, managers or not.
    pub fn release_all(&mut self) -> Vec<Person> {
        self.held_ids.clear();
        std::mem::take(&mut self.held)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mapping::Lifecycle;

    fn person(id: &str, manager: Option<&str>) -> Person {
        Person {
            id: id.to_string(),
            status: Lifecycle::Active,
            source_status: "active".into(),
            facts: crate::mapping::Facts {
                manager_id: manager.map(str::to_string),
                ..Default::default()
            },
            fields: Default::default(),
            raw: None,
            complete: true,
        }
    }

    fn ids(people: &[Person]) -> Vec<&str> {
        people.iter().map(|p| p.id.as_str()).collect()
    }

    /// Runs the queue to the end in batches of `n`, people with an account in `existing`;
    /// returns the batches planned and whether each planned person's manager was planned in
    /// an earlier batch (or had an account).
    fn drive(
        wanted: &[&str],
        managers: &[(&str, &str)],
        existing: &[&str],
        n: usize,
    ) -> Vec<Vec<String>> {
        let managers: HashMap<&str, &str> = managers.iter().copied().collect();
        let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
        let mut q = Queue::new(wanted.clone(), wanted.len(), true);
        let mut created: HashSet<String> = existing.iter().map(|s| s.to_string()).collect();
        let mut batches = Vec::new();
        while !q.is_empty() {
            let batch: Vec<Person> = q
                .take(n)
                .iter()
                .map(|id| person(id, managers.get(id.as_str()).copied()))
                .collect();
            let known = created.clone();
            let has = move |id: &str| known.contains(id);
            let ready = q.sort_batch(batch, &has);
            created.extend(ready.iter().map(|p| p.id.clone()));
            batches.push(ids(&ready).iter().map(|s| s.to_string()).collect());
        }
        while q.has_held() {
            let mut ready = q.sort_batch(Vec::new(), &|_: &str| false);
            if ready.is_empty() {
                ready = q.release_all();
            }
            created.extend(ready.iter().map(|p| p.id.clone()));
            batches.push(ids(&ready).iter().map(|s| s.to_string()).collect());
        }
        batches
    }

    fn batch_of(batches: &[Vec<String>], id: &str) -> usize {
        batches
            .iter()
            .position(|b| b.iter().any(|x| x == id))
            .unwrap()
    }

    #[test]
    fn a_report_fetched_first_waits_for_its_manager_who_is_fetched_next() {
        // The CEO is last in the queue; everyone reports up a chain to them.
        let wanted = ["r1", "r2", "x1", "x2", "m", "x3", "x4", "ceo"];
        let managers = [("r1", "m"), ("r2", "m"), ("m", "ceo")];
        let b = drive(&wanted, &managers, &[], 2);
        assert!(batch_of(&b, "ceo") < batch_of(&b, "m"), "{b:?}");
        assert!(batch_of(&b, "m") < batch_of(&b, "r1"), "{b:?}");
        assert!(batch_of(&b, "m") < batch_of(&b, "r2"), "{b:?}");
        // Everyone is planned exactly once.
        let all: Vec<&String> = b.iter().flatten().collect();
        assert_eq!(all.len(), wanted.len(), "{b:?}");
        // The chain costs about two batches per level (the manager's fetch, then their
        // plan), not the whole queue.
        assert!(batch_of(&b, "r1") <= 4, "{b:?}");
    }

    #[test]
    fn managers_with_accounts_self_managers_and_unknown_managers_hold_nobody() {
        let wanted = ["a", "b", "c", "d"];
        let managers = [("a", "old"), ("b", "b"), ("c", "nobody"), ("d", "a")];
        let b = drive(&wanted, &managers, &["old"], 4);
        assert_eq!(b[0], vec!["a", "b", "c"]);
        // d's manager a is in the same batch: d waits one batch.
        assert_eq!(b[1], vec!["d"]);
    }

    #[test]
    fn a_person_with_an_account_is_never_held() {
        let b = drive(&["r", "m"], &[("r", "m")], &["r"], 1);
        assert_eq!(b[0], vec!["r"]);
    }

    #[test]
    fn a_manager_cycle_is_planned_without_waiting_forever() {
        let wanted = ["a", "b", "c"];
        let managers = [("a", "b"), ("b", "a"), ("c", "c")];
        let b = drive(&wanted, &managers, &[], 1);
        let all: Vec<&String> = b.iter().flatten().collect();
        assert_eq!(all.len(), 3, "{b:?}");
    }

    #[test]
    fn without_holding_everyone_is_planned_with_their_detail() {
        let wanted: Vec<String> = ["r", "m"].iter().map(|s| s.to_string()).collect();
        let mut q = Queue::new(wanted.clone(), 2, false);
        let batch = q.take(1).iter().map(|id| person(id, Some("m"))).collect();
        assert_eq!(ids(&q.sort_batch(batch, &|_: &str| false)), ["r"]);
        assert!(!q.has_held());
    }

    #[test]
    fn promoting_a_refresh_makes_it_needed() {
        let wanted: Vec<String> = ["r", "x", "m"].iter().map(|s| s.to_string()).collect();
        let mut q = Queue::new(wanted.clone(), 2, true);
        let batch = q.take(1).iter().map(|id| person(id, Some("m"))).collect();
        let ready = q.sort_batch(batch, &|_: &str| false);
        assert!(ready.is_empty());
        assert_eq!(q.must(), 3);
        assert_eq!(q.take(1), vec!["m".to_string()]);
    }
}
