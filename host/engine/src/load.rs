//! Phase 3, load: writes the staged core records to the target in dependency order,
//! translating every reference to its cloud id, and records each batch's mappings and
//! checkpoint. Rerunning after a crash at any moment loses nothing and duplicates nothing:
//! the records after the checkpoint are written again, except those the target reports it
//! already holds (the batches that were in flight: [`IN_FLIGHT`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use airlock_model::Namespace;
use airlock_model::jira::{
    BoardQuery, CardColor, CardColorValue, ChangeItem, DashboardShare, Filter, FilterShare, Kind,
    LevelMember, PermissionHolder, Recipient, Record, RoleActor, SchemePermission, Share,
    Target as RefTarget,
};
use airlock_site::{Site, source_key};
use airlock_staging::Staging;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::extract::numeric_id;
use crate::fixes::{self, Applied, RowFixes};
use crate::order::{Item, Ordered};
use crate::records::RecordReader;
use crate::state::{BatchCommit, Failure, MappingReader, State};

/// Batches a crash can leave on the target but not in the state: the one being committed
/// and the one written behind it. A run asks the target about this many first batches of
/// each kind ([`Site::find_written`]).
const IN_FLIGHT: usize = 2;

/// Records per target call (and per checkpoint) for most kinds, before the target's
/// [`Site::batch_scale`]: see [`batch_size`].
pub const BATCH: usize = 1000;

/// Records per target call for `kind`: kinds of many small rows (history, watchers, an
/// issue's field values) go four batches at a time, as every call and its commit cost the
/// same whatever they carry (a history of 100,000 issues is 2.3 million rows).
fn batch_size(kind: Kind) -> usize {
    match kind {
        Kind::ChangeGroup
        | Kind::ChangeItem
        | Kind::Watcher
        | Kind::Vote
        | Kind::Label
        | Kind::IssueVersion
        | Kind::CustomFieldValue
        | Kind::IssueSprint
        | Kind::IssueRank
        | Kind::Membership => 4 * BATCH,
        _ => BATCH,
    }
}

/// Mappings kept in memory per namespace, at most; the rest is looked up in the state.
/// Numeric pairs (issues, projects…) cost 16 bytes: 262,144 of them take ~9 MiB, so the
/// cache stops growing with the site; other ids (user accounts) are kept as text.
const NUMERIC_CACHE_LIMIT: usize = 1 << 18;
const TEXT_CACHE_LIMIT: usize = 200_000;

/// Decisions the target analysis made, applied while loading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadDecisions {
    /// Source records that map to what the target already has (users by email, issue
    /// types by name…): they are not written, only mapped. Kind → server id → cloud id.
    pub existing: BTreeMap<Kind, BTreeMap<String, String>>,
    /// New project keys (server project id → key), from the override file.
    pub project_keys: BTreeMap<String, String>,
    /// New project names (server project id → name).
    pub project_names: BTreeMap<String, String>,
    /// New custom field names (server field id → name).
    pub field_names: BTreeMap<String, String>,
    /// The override file's answers for single rows: new values, or skip.
    #[serde(default)]
    pub rows: RowFixes,
}

/// What a load did, per kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub written: BTreeMap<Kind, u64>,
    pub matched: BTreeMap<Kind, u64>,
    pub failed: BTreeMap<Kind, u64>,
    /// Records found on the target already (a resumed batch).
    pub recovered: BTreeMap<Kind, u64>,
    /// Orphans the integrity check listed, passed over by this run.
    #[serde(default)]
    pub skipped: BTreeMap<Kind, u64>,
    /// Rows the override file skips, passed over by this run.
    #[serde(default)]
    pub skipped_by_override: BTreeMap<Kind, u64>,
    /// Rows earlier runs failed to write, tried again by this one (once each).
    #[serde(default)]
    pub retried: BTreeMap<Kind, u64>,
    /// Values written empty because what they named has no cloud id: history values of
    /// things not migrated (workflow runs, sprints) or gone (a deleted version). The
    /// display text beside them is kept.
    #[serde(default)]
    pub cleared: BTreeMap<Kind, u64>,
    /// Rows written differently from the source in a way the operator must see row by
    /// row (an issue Jira Cloud gave another key): listed in the state's notices.
    #[serde(default)]
    pub changed: BTreeMap<Kind, u64>,
}

/// Progress of the load: records of `kind` done out of `total`.
#[derive(Clone, Copy, Debug)]
pub struct LoadProgress {
    pub kind: Kind,
    pub done: u64,
    pub total: u64,
}

fn step(kind: Kind) -> String {
    format!("load/{}", kind.name())
}

/// Looks server ids up as cloud ids: namespaces held in memory, with the state file as
/// the fallback for the big ones.
struct Lookup {
    maps: FxHashMap<Namespace, Cached>,
    /// Lower-case user name → user key (memberships name users).
    user_keys: FxHashMap<String, String>,
    /// Lower-case names of the custom fields whose values are option ids (a history
    /// item names its custom field by name).
    option_fields: FxHashSet<String>,
    /// Values cleared by the record being translated.
    cleared: u64,
    /// Records held back in this pass (see [`Untranslated::Later`]), by kind and source
    /// key: a record pointing to one is held back too.
    deferred: FxHashSet<(Kind, String)>,
}

/// One namespace's mappings at hand. Once full it keeps what it holds: a pass over more
/// ids than fit still finds those (clearing it would make such a pass miss every time).
#[derive(Default)]
struct Cached {
    numeric: FxHashMap<u64, u64>,
    text: FxHashMap<String, String>,
}

impl Cached {
    fn get(&self, server: &str) -> Option<String> {
        let mut id = server.to_owned();
        self.rewrite(&mut id).then_some(id)
    }

    /// Rewrites `id` to its cloud id in place, if held: no new string for each of the
    /// millions of references a load translates.
    fn rewrite(&self, id: &mut String) -> bool {
        if let Some(n) = numeric_id(id)
            && let Some(&cloud) = self.numeric.get(&n)
        {
            id.clear();
            write!(id, "{cloud}").expect("a String takes any write");
            return true;
        }
        match self.text.get(id.as_str()) {
            Some(cloud) => {
                id.clear();
                id.push_str(cloud);
                true
            }
            None => false,
        }
    }

    /// A later mapping of the same id replaces the earlier one, in whichever form.
    fn insert(&mut self, server: &str, cloud: &str) {
        let number = numeric_id(server);
        match (number, numeric_id(cloud)) {
            (Some(n), Some(cloud)) => {
                if !self.text.is_empty() {
                    self.text.remove(server);
                }
                if self.numeric.len() < NUMERIC_CACHE_LIMIT || self.numeric.contains_key(&n) {
                    self.numeric.insert(n, cloud);
                }
            }
            _ => {
                if let Some(n) = number {
                    self.numeric.remove(&n);
                }
                if self.text.len() < TEXT_CACHE_LIMIT || self.text.contains_key(server) {
                    self.text.insert(server.to_owned(), cloud.to_owned());
                }
            }
        }
    }
}

impl Lookup {
    fn get(
        &mut self,
        db: &MappingReader,
        ns: Namespace,
        server: &str,
    ) -> Result<Option<String>, EngineError> {
        let map = self.maps.entry(ns).or_default();
        if let Some(cloud) = map.get(server) {
            return Ok(Some(cloud));
        }
        let found = db.cloud_id(ns, server)?;
        if let Some(cloud) = &found {
            map.insert(server, cloud);
        }
        Ok(found)
    }

    /// [`Lookup::get`], rewriting `id` in place; false (and `id` untouched) if the
    /// namespace has no cloud id for it.
    fn rewrite(
        &mut self,
        db: &MappingReader,
        ns: Namespace,
        id: &mut String,
    ) -> Result<bool, EngineError> {
        let map = self.maps.entry(ns).or_default();
        if map.rewrite(id) {
            return Ok(true);
        }
        let Some(cloud) = db.cloud_id(ns, id)? else {
            return Ok(false);
        };
        map.insert(id, &cloud);
        *id = cloud;
        Ok(true)
    }

    fn remember(&mut self, ns: Namespace, server: &str, cloud: &str) {
        self.maps.entry(ns).or_default().insert(server, cloud);
    }
}

/// Whether records of other kinds reference this kind (`Record::refs`, a history item's
/// values, a query's ids), so its mappings are worth keeping at hand while loading, and
/// must be committed before the next kind is translated. Comments, worklogs and links are
/// many and referenced by none: caching them only cost memory, and the next kind starts
/// while their last batches are written.
fn is_referenced(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Membership
            | Kind::ProjectRoleActor
            | Kind::CustomFieldValue
            | Kind::Label
            | Kind::IssueVersion
            | Kind::Comment
            | Kind::Worklog
            | Kind::IssueLink
            | Kind::RemoteLink
            | Kind::EntityProperty
            | Kind::Watcher
            | Kind::Vote
            | Kind::FilterShare
            | Kind::DashboardShare
            | Kind::GadgetPreference
            | Kind::ChangeItem
            | Kind::ProjectScheme
            | Kind::ProjectKey
            | Kind::SchemePermission
            | Kind::SecurityLevelMember
            | Kind::Notification
            | Kind::ColumnStatus
            | Kind::Swimlane
            | Kind::QuickFilter
            | Kind::CardField
            | Kind::CardColor
            | Kind::IssueSprint
            | Kind::IssueRank
    )
}

/// Whether records of the kind may reference records of the same kind (option parents,
/// filters named in a query): such a kind is loaded a batch at a time, a record waiting
/// for the batch after the one holding what it names.
fn is_self_referencing(kind: Kind) -> bool {
    matches!(kind, Kind::CustomFieldOption | Kind::Filter)
}

/// Loads every staged kind into the target.
///
/// Three threads: this one reads the staged records and translates their references; the
/// second writes each batch to the target; the third commits its mappings and checkpoint
/// to the state. A kind starts only once every batch of the kinds before it is committed
/// (its references must resolve), and a kind that references itself (option parents) goes
/// a batch at a time.
pub fn load(
    staging: &dyn Staging,
    state: &mut State,
    target: &mut dyn Site,
    decisions: &LoadDecisions,
    staged: &BTreeMap<Kind, u64>,
    mut progress: impl FnMut(LoadProgress),
) -> Result<LoadSummary, EngineError> {
    let db = MappingReader::open(state.path(), state.protection())?;
    let mut lookup = Lookup {
        maps: FxHashMap::default(),
        user_keys: FxHashMap::default(),
        option_fields: FxHashSet::default(),
        cleared: 0,
        deferred: FxHashSet::default(),
    };
    for record in RecordReader::open_kind(staging, Kind::CustomField)? {
        if let Record::CustomField(f) = record?
            && crate::extract::is_option_type(&f.type_key)
        {
            lookup.option_fields.insert(f.name.to_lowercase());
        }
    }
    // Room for every id a referenced kind will map, up front: growing a big map holds
    // the old table and the new one at once.
    for kind in Kind::ALL.into_iter().filter(|k| is_referenced(*k)) {
        if let Some(ns) = kind.namespace() {
            let ids = staged.get(&kind).copied().unwrap_or(0) as usize;
            let cached = lookup.maps.entry(ns).or_default();
            cached.numeric.reserve(ids.min(NUMERIC_CACHE_LIMIT));
        }
    }
    for record in RecordReader::open_kind(staging, Kind::User)? {
        if let Record::User(u) = record? {
            lookup.user_keys.insert(u.user_name.to_lowercase(), u.key);
        }
    }
    // Rows whose parent is not in the backup: never sent to the target ([`Ordered`]).
    let orphans = crate::integrity::OrphanSet::read(staging)?;
    let mut checkpoints = BTreeMap::new();
    for kind in Kind::ALL {
        checkpoints.insert(kind, state.checkpoint(&step(kind))?);
    }
    let issues_by_number = issue_order(state, target, checkpoints[&Kind::Issue])?;
    // Rows earlier runs failed to write: their batches are done, so only this retries
    // them, after the pass below, once each (rows failing in this run wait for the next).
    let mut retry: BTreeMap<Kind, FxHashSet<String>> = BTreeMap::new();
    for f in state.failures()? {
        retry.entry(f.kind).or_default().insert(f.source_key);
    }

    let scale = target.batch_scale().max(1);
    // Lent to the writer and committer threads for the pass, then used again for the
    // retries.
    let (committer_state, writer_target) = (&mut *state, &mut *target);
    let (batches, to_writer) = std::sync::mpsc::sync_channel::<Prepared>(2);
    // A rendezvous: the writer hands a written batch over only once the committer is done
    // with the one before, so at most [`IN_FLIGHT`] batches are on the target and not in
    // the state.
    let (written_batches, to_committer) = std::sync::mpsc::sync_channel::<(Kind, Outcome)>(0);
    let (acks, from_writer) = std::sync::mpsc::channel::<Ack>();
    let (translated, written, committed) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<LoadSummary, EngineError> {
            let mut summary = LoadSummary::default();
            for p in to_writer {
                let kind = p.kind;
                let outcome = write_batch(writer_target, p, &mut summary)?;
                if written_batches.send((kind, outcome)).is_err() {
                    break;
                }
            }
            Ok(summary)
        });
        // The state's commit (mappings, checkpoint) on its own thread: the writer is the
        // load's bottleneck, and the next batch is written while this one is committed.
        let committer = scope.spawn(move || -> Result<(), EngineError> {
            for (kind, outcome) in to_committer {
                committer_state.commit(&BatchCommit {
                    checkpoint: Some((&outcome.step, outcome.done)),
                    mappings: &outcome.mappings,
                    failures: &outcome.failures,
                    cleared: &[],
                    skipped: &outcome.skipped,
                    notices: &outcome.notices,
                })?;
                if acks
                    .send(Ack {
                        kind,
                        done: outcome.done,
                        mappings: outcome.mappings,
                        records: outcome.records,
                    })
                    .is_err()
                {
                    break;
                }
            }
            Ok(())
        });

        let translated = (|| -> Result<LoadSummary, EngineError> {
            let mut summary = LoadSummary::default();
            let mut outstanding = 0usize;
            let wait = |outstanding: &mut usize,
                        lookup: &mut Lookup,
                        progress: &mut dyn FnMut(LoadProgress),
                        all: bool|
             -> Result<(), EngineError> {
                while *outstanding > 0 {
                    let ack = if all {
                        from_writer.recv().ok()
                    } else {
                        match from_writer.try_recv() {
                            Ok(ack) => Some(ack),
                            Err(std::sync::mpsc::TryRecvError::Empty) => return Ok(()),
                            Err(_) => None,
                        }
                    };
                    // The writer stopped: its error is the one to report.
                    let Some(ack) = ack else {
                        return Err(EngineError::WriterStopped);
                    };
                    *outstanding -= 1;
                    if is_referenced(ack.kind) {
                        for (ns, server, cloud) in &ack.mappings {
                            lookup.remember(*ns, server, cloud);
                        }
                    }
                    drop(ack.records);
                    let total = staged.get(&ack.kind).copied().unwrap_or(0);
                    progress(LoadProgress {
                        kind: ack.kind,
                        done: ack.done,
                        total,
                    });
                }
                Ok(())
            };
            // Whether a batch of a kind others reference was sent since the last time every
            // batch was committed.
            let mut referenced_in_flight = false;
            for kind in Kind::ALL {
                // Its references point to kinds before it: those must be committed. A kind
                // no record references (comments, history items, watchers…) need not be: the
                // next kind is read and translated while its last batches are written.
                if referenced_in_flight {
                    wait(&mut outstanding, &mut lookup, &mut progress, true)?;
                    referenced_in_flight = false;
                }
                let total = staged.get(&kind).copied().unwrap_or(0);
                let mut done = checkpoints.get(&kind).copied().unwrap_or(0);
                let mut reader = Ordered::open(staging, kind, &orphans, issues_by_number)?;
                reader.skip(done)?;
                progress(LoadProgress { kind, done, total });
                // The first batches of every run may have been written before a crash.
                let mut reconcile = IN_FLIGHT;
                // `done` counts the records consumed: written, or skipped as orphans. A
                // record read but left for the next batch is not consumed yet.
                let mut pending: Option<Record> = None;
                let mut exhausted = false;
                loop {
                    let size = batch_size(kind) * scale;
                    let mut batch = Vec::with_capacity(size);
                    // A kind that references itself (option parents): a child waits for
                    // the batch after its parent's, whose mapping it needs.
                    let mut batch_ids = rustc_hash::FxHashSet::default();
                    while batch.len() < size {
                        let record = match pending.take() {
                            Some(r) => r,
                            None if exhausted => break,
                            None => match reader.next_item()? {
                                Some(Item::Orphan) => {
                                    done += 1;
                                    *summary.skipped.entry(kind).or_default() += 1;
                                    continue;
                                }
                                Some(Item::Record(r)) => r,
                                None => {
                                    exhausted = true;
                                    break;
                                }
                            },
                        };
                        if is_self_referencing(kind) {
                            // Options name their parent, filters the filters their query
                            // names.
                            let parents = match &record {
                                Record::CustomFieldOption(o) => o.parent.iter().cloned().collect(),
                                Record::Filter(f) => crate::queries::named_filters(&f.jql),
                                _ => Vec::new(),
                            };
                            if parents.iter().any(|p| batch_ids.contains(p)) {
                                pending = Some(record);
                                break;
                            }
                            batch_ids.insert(record.id().to_owned());
                        }
                        done += 1;
                        batch.push(record);
                    }
                    if batch.is_empty() {
                        break;
                    }
                    let prepared = prepare_batch(
                        &db,
                        decisions,
                        &mut lookup,
                        kind,
                        batch,
                        reconcile > 0,
                        done,
                        &mut summary,
                    )?;
                    reconcile = reconcile.saturating_sub(1);
                    if batches.send(prepared).is_err() {
                        return Err(EngineError::WriterStopped);
                    }
                    outstanding += 1;
                    referenced_in_flight |= is_referenced(kind);
                    wait(
                        &mut outstanding,
                        &mut lookup,
                        &mut progress,
                        is_self_referencing(kind),
                    )?;
                }
            }
            wait(&mut outstanding, &mut lookup, &mut progress, true)?;
            Ok(summary)
        })();
        drop(batches);
        let stopped = || EngineError::Staged {
            name: "load".into(),
            problem: "the writer stopped unexpectedly".into(),
        };
        let written = writer.join().unwrap_or_else(|_| Err(stopped()));
        let committed = committer.join().unwrap_or_else(|_| Err(stopped()));
        (translated, written, committed)
    });
    // The writer's or the committer's error explains a stop the reader only saw as a
    // closed channel (either stops the other by closing the channel between them).
    committed?;
    let written = written?;
    let mut summary = translated?;
    for (from, into) in [
        (written.written, &mut summary.written),
        (written.matched, &mut summary.matched),
        (written.failed, &mut summary.failed),
        (written.recovered, &mut summary.recovered),
        (written.changed, &mut summary.changed),
        (
            written.skipped_by_override,
            &mut summary.skipped_by_override,
        ),
    ] {
        for (kind, n) in from {
            *into.entry(kind).or_default() += n;
        }
    }
    for (kind, key) in std::mem::take(&mut lookup.deferred) {
        retry.entry(kind).or_default().insert(key);
    }
    retry_failed(
        staging,
        state,
        target,
        decisions,
        &db,
        &mut lookup,
        retry,
        &mut summary,
    )?;
    Ok(summary)
}

/// Whether this migration hands issues over in number order per project ([`Ordered`]):
/// for a target that numbers issues itself. Kept in the state by the first load, so a
/// load begun in the file's order (by an Airlock before this order) resumes in that
/// order: its checkpoint counts records in it.
fn issue_order(state: &State, target: &dyn Site, done: u64) -> Result<bool, EngineError> {
    const KEY: &str = "issue-order";
    if let Some(order) = state.meta(KEY)? {
        return Ok(order == "number");
    }
    if done > 0 {
        return Ok(false);
    }
    let by_number = target.numbers_issues();
    state.set_meta(KEY, if by_number { "number" } else { "file" })?;
    Ok(by_number)
}

/// Tries again the rows earlier runs failed to write, kind by kind in load order (a
/// comment waits for its issue's retry): each read again from staging, given the current
/// decisions and override answers, asked of the target first (a retry cut short by a
/// crash may have written it), then written. A row written, found or skipped has its
/// failure cleared; one refused again has it updated. No checkpoint moves.
#[allow(clippy::too_many_arguments)]
fn retry_failed(
    staging: &dyn Staging,
    state: &mut State,
    target: &mut dyn Site,
    decisions: &LoadDecisions,
    db: &MappingReader,
    lookup: &mut Lookup,
    mut retry: BTreeMap<Kind, FxHashSet<String>>,
    summary: &mut LoadSummary,
) -> Result<(), EngineError> {
    for kind in Kind::ALL {
        let Some(mut keys) = retry.remove(&kind) else {
            continue;
        };
        // Options and filters may name one retried in the same pass: one at a time.
        let size = if is_self_referencing(kind) {
            1
        } else {
            batch_size(kind) * target.batch_scale().max(1)
        };
        let mut reader = RecordReader::open_kind(staging, kind)?;
        let mut batch = Vec::new();
        while !keys.is_empty() {
            let record = reader.next_record()?;
            let last = record.is_none();
            if let Some(record) = record
                && keys.remove(&source_key(&record))
            {
                batch.push(record);
            }
            if batch.len() >= size || ((last || keys.is_empty()) && !batch.is_empty()) {
                let cleared: Vec<(Kind, String)> =
                    batch.iter().map(|r| (kind, source_key(r))).collect();
                *summary.retried.entry(kind).or_default() += cleared.len() as u64;
                let prepared = prepare_batch(
                    db,
                    decisions,
                    lookup,
                    kind,
                    std::mem::take(&mut batch),
                    true,
                    0,
                    summary,
                )?;
                let outcome = write_batch(target, prepared, summary)?;
                state.commit(&BatchCommit {
                    checkpoint: None,
                    mappings: &outcome.mappings,
                    failures: &outcome.failures,
                    cleared: &cleared,
                    skipped: &outcome.skipped,
                    notices: &outcome.notices,
                })?;
                if is_referenced(kind) {
                    for (ns, server, cloud) in &outcome.mappings {
                        lookup.remember(*ns, server, cloud);
                    }
                }
            }
            if last {
                // Rows staged no more (a new check of the same backup drops none, but a
                // row whose kind lost it cannot be retried): they stay listed.
                break;
            }
        }
    }
    Ok(())
}

/// A translated batch on its way to the writer.
struct Prepared {
    kind: Kind,
    to_write: Vec<Record>,
    keys: Vec<String>,
    reconcile: bool,
    /// Mappings and failures already known (matched to existing objects, untranslatable).
    outcome: Outcome,
}

/// A committed batch: its mappings, for the reader's cache (of a kind others reference),
/// and what the reader made for it, to be freed there.
struct Ack {
    kind: Kind,
    done: u64,
    mappings: Vec<(Namespace, String, String)>,
    /// The batch's records. The reader allocated them; freed on its thread, they take
    /// mimalloc's fast path instead of the cross-thread one, and off the writer, which
    /// is the load's bottleneck.
    records: Vec<Record>,
}

#[derive(Default)]
struct Outcome {
    step: String,
    done: u64,
    mappings: Vec<(Namespace, String, String)>,
    failures: Vec<Failure>,
    /// Rows the override file skips.
    skipped: Vec<(Kind, String)>,
    /// Rows the target wrote differently from the source ([`airlock_site::Notice`]).
    notices: Vec<Failure>,
    /// The records sent to the target, handed back to the reader ([`Ack::records`]).
    records: Vec<Record>,
}

#[allow(clippy::too_many_arguments)]
fn prepare_batch(
    db: &MappingReader,
    decisions: &LoadDecisions,
    lookup: &mut Lookup,
    kind: Kind,
    batch: Vec<Record>,
    reconcile: bool,
    done: u64,
    summary: &mut LoadSummary,
) -> Result<Prepared, EngineError> {
    // Whatever the batch names was committed before it was read: seen from here on.
    db.refresh()?;
    let ns = kind.namespace();
    let mut out = Outcome {
        step: step(kind),
        done,
        ..Outcome::default()
    };
    let existing = decisions.existing.get(&kind);
    let answers = decisions.rows.get(&kind);
    let mut to_write = Vec::with_capacity(batch.len());
    let mut keys = Vec::with_capacity(batch.len());
    for mut record in batch {
        let key = source_key(&record);
        if let (Some(cloud), Some(ns)) = (existing.and_then(|e| e.get(&key)), ns) {
            out.mappings.push((ns, key, cloud.clone()));
            *summary.matched.entry(kind).or_default() += 1;
            continue;
        }
        // The operator's answer for this row, if any: new values, or skip. Given before the
        // references are rewritten: a filter's new query names the source's ids.
        let answered = match answers.and_then(|a| a.get(&key)) {
            Some(fix) => fixes::apply(fix, &mut record).map_err(|e| {
                format!(
                    "the override file's answer cannot be applied ({e}); {}",
                    fixes::hint(kind, &key, None)
                )
            }),
            None => Ok(Applied::Write),
        };
        let translated = match answered {
            Ok(Applied::Write) => translate(db, lookup, decisions, &mut record)?,
            _ => Ok(()),
        };
        if lookup.cleared > 0 {
            *summary.cleared.entry(kind).or_default() += std::mem::take(&mut lookup.cleared);
        }
        match (translated, answered) {
            (_, Ok(Applied::Skip)) => {
                *summary.skipped_by_override.entry(kind).or_default() += 1;
                out.skipped.push((kind, key));
            }
            (Ok(()), Ok(Applied::Write)) => {
                keys.push(key);
                to_write.push(record);
            }
            // Recorded as a failure (so a crash before it is written leaves it to the
            // next run's retries), and retried after this run's pass.
            (Err(Untranslated::Later(message)), _) => {
                lookup.deferred.insert((kind, key.clone()));
                out.failures.push(Failure {
                    kind,
                    source_key: key,
                    code: "deferred".into(),
                    message,
                });
            }
            (Err(untranslated), _) => {
                *summary.failed.entry(kind).or_default() += 1;
                let message = match untranslated {
                    Untranslated::Missing(message) => format!(
                        "{message}; once that row is written (see its own failure) a rerun retries this one, or skip it in the override file (\"rows\": {{\"{}\": {{\"{key}\": \"skip\"}}}})",
                        kind.name()
                    ),
                    // Says itself what the override file must answer.
                    Untranslated::Query(message) | Untranslated::Later(message) => message,
                };
                out.failures.push(Failure {
                    kind,
                    source_key: key,
                    code: "missing-reference".into(),
                    message,
                });
            }
            (Ok(()), Err(message)) => {
                *summary.failed.entry(kind).or_default() += 1;
                out.failures.push(Failure {
                    kind,
                    source_key: key,
                    code: "invalid-override".into(),
                    message,
                });
            }
        }
    }
    Ok(Prepared {
        kind,
        to_write,
        keys,
        reconcile,
        outcome: out,
    })
}

/// Writes a translated batch (after asking the target which of it it holds already, for
/// the first batches of a run).
fn write_batch(
    target: &mut dyn Site,
    prepared: Prepared,
    summary: &mut LoadSummary,
) -> Result<Outcome, EngineError> {
    let Prepared {
        kind,
        mut to_write,
        mut keys,
        reconcile,
        outcome: mut out,
        ..
    } = prepared;
    let ns = kind.namespace();
    if reconcile && !to_write.is_empty() {
        let found = target
            .find_written(kind, &keys)
            .map_err(EngineError::Target)?;
        let mut kept_records = Vec::with_capacity(to_write.len());
        let mut kept_keys = Vec::with_capacity(keys.len());
        for ((record, key), found) in to_write.into_iter().zip(keys).zip(found) {
            match found {
                Some(cloud) => {
                    *summary.recovered.entry(kind).or_default() += 1;
                    if let Some(ns) = ns {
                        out.mappings.push((ns, key, cloud));
                    }
                }
                None => {
                    kept_records.push(record);
                    kept_keys.push(key);
                }
            }
        }
        to_write = kept_records;
        keys = kept_keys;
    }
    if to_write.is_empty() {
        return Ok(out);
    }
    let results = target.write(kind, &to_write).map_err(EngineError::Target)?;
    for n in target.take_notices() {
        *summary.changed.entry(n.kind).or_default() += 1;
        out.notices.push(Failure {
            kind: n.kind,
            source_key: n.source_key,
            code: n.code.into(),
            message: n.message,
        });
    }
    let mut written = 0;
    for ((key, result), record) in keys.into_iter().zip(results).zip(&to_write) {
        match result {
            Ok(cloud) => {
                written += 1;
                if let Some(ns) = ns {
                    out.mappings.push((ns, key, cloud));
                }
            }
            Err(e) => {
                *summary.failed.entry(kind).or_default() += 1;
                // The field a shared rule names, if one refused it: what to set.
                let field = airlock_site::rules::check(record).err().map(|v| v.field);
                let message = format!("{}; {}", e.message, fixes::hint(kind, &key, field));
                out.failures.push(Failure {
                    kind,
                    source_key: key,
                    code: e.code.into(),
                    message,
                });
            }
        }
    }
    if written > 0 {
        *summary.written.entry(kind).or_default() += written;
    }
    out.records = to_write;
    Ok(out)
}

/// Rewrites a record's references to cloud ids and applies the overrides. A user who is
/// not on the target is dropped from the field (the row keeps no author); any other
/// missing reference fails the record.
fn translate(
    state: &MappingReader,
    lookup: &mut Lookup,
    decisions: &LoadDecisions,
    record: &mut Record,
) -> Result<Result<(), Untranslated>, EngineError> {
    apply_renames(decisions, record);
    let mut missing: Option<String> = None;
    let mut error: Option<EngineError> = None;
    let mut missing_record: Option<(Kind, String)> = None;
    record.refs_mut(|field, target, value| {
        if missing.is_some() || error.is_some() {
            return;
        }
        let ns = match target {
            RefTarget::Kind(kind) => match kind.namespace() {
                Some(ns) => ns,
                None => return,
            },
            RefTarget::UserName => match lookup.user_keys.get(&value.to_lowercase()) {
                Some(key) => {
                    *value = key.clone();
                    Namespace::USER
                }
                None => {
                    value.clear();
                    return;
                }
            },
        };
        match lookup.rewrite(state, ns, value) {
            Ok(true) => {}
            Ok(false) if ns == Namespace::USER => value.clear(),
            Ok(false) => {
                missing = Some(format!(
                    "{field} points to a record that is not on the target"
                ));
                if let RefTarget::Kind(kind) = target {
                    missing_record = Some((kind, value.clone()));
                }
            }
            Err(e) => error = Some(e),
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    if let Some(m) = missing {
        // What it points to is held back in this pass: so is the record.
        if let Some(pointed) = missing_record
            && lookup.deferred.contains(&pointed)
        {
            return Ok(Err(Untranslated::Later(format!(
                "{m} yet, held back in this pass: written after it"
            ))));
        }
        return Ok(Err(Untranslated::Missing(m)));
    }
    clear_empty_users(record);
    let user_gone = match record {
        Record::Membership(m) => m.user_name.is_empty(),
        Record::Watcher(w) | Record::Vote(w) => w.user.is_empty(),
        Record::ProjectRoleActor(a) => matches!(&a.actor, RoleActor::User(u) if u.is_empty()),
        Record::FilterShare(FilterShare { share, .. })
        | Record::DashboardShare(DashboardShare { share, .. }) => {
            matches!(share, Share::User(u) if u.is_empty())
        }
        Record::SchemePermission(SchemePermission { holder, .. })
        | Record::SecurityLevelMember(LevelMember { holder, .. }) => {
            matches!(holder, PermissionHolder::User(u) if u.is_empty())
        }
        Record::Notification(n) => matches!(&n.recipient, Recipient::User(u) if u.is_empty()),
        _ => false,
    };
    if user_gone {
        return Ok(Err(Untranslated::Missing(
            "the user it belongs to is not on the target".into(),
        )));
    }
    match record {
        Record::Filter(Filter { id, jql, .. }) => {
            return rewrite_query(state, lookup, Kind::Filter, id, jql);
        }
        Record::Swimlane(BoardQuery { id, jql, .. }) => {
            return rewrite_query(state, lookup, Kind::Swimlane, id, jql);
        }
        Record::QuickFilter(BoardQuery { id, jql, .. }) => {
            return rewrite_query(state, lookup, Kind::QuickFilter, id, jql);
        }
        Record::CardColor(CardColor {
            id,
            value: CardColorValue::Query(jql),
            ..
        }) => {
            return rewrite_query(state, lookup, Kind::CardColor, id, jql);
        }
        _ => {}
    }
    if let Record::ChangeItem(item) = record {
        rewrite_history(state, lookup, item)?;
    }
    Ok(Ok(()))
}

/// Rewrites a history item's values to cloud ids; a value naming something without one
/// is cleared (its string stays) and counted.
fn rewrite_history(
    state: &MappingReader,
    lookup: &mut Lookup,
    item: &mut ChangeItem,
) -> Result<(), EngineError> {
    let kind = match crate::history::values(item, &lookup.option_fields) {
        crate::history::Values::Kept => return Ok(()),
        crate::history::Values::Ids(kind) => Some(kind),
        crate::history::Values::NotMigrated => None,
    };
    for value in [&mut item.old_value, &mut item.new_value] {
        let Some(text) = value.as_deref() else {
            continue;
        };
        let mut error = None;
        let rewritten = match kind.and_then(Kind::namespace) {
            Some(ns) => crate::history::rewrite_value(text, &mut |id| {
                lookup.get(state, ns, id).unwrap_or_else(|e| {
                    error = Some(e);
                    None
                })
            }),
            None => None,
        };
        if let Some(e) = error {
            return Err(e);
        }
        if rewritten.is_none() {
            lookup.cleared += 1;
        }
        *value = rewritten;
    }
    Ok(())
}

/// Why a record's references could not be rewritten.
enum Untranslated {
    /// A reference to a record not on the target (yet): a rerun may resolve it.
    Missing(String),
    /// A filter's query names what has no cloud id: the override file must answer it.
    Query(String),
    /// A query names records of a kind loaded after this one (a filter naming a sprint:
    /// sprints need boards, boards need filters): written after the pass, in this run.
    Later(String),
}

/// Rewrites a query (a filter's, a swimlane's or a quick filter's) to the target's ids;
/// a query naming anything without a cloud id is refused (a server id left in it would
/// find the wrong thing, or nothing).
fn rewrite_query(
    state: &MappingReader,
    lookup: &mut Lookup,
    kind: Kind,
    id: &str,
    jql: &mut String,
) -> Result<Result<(), Untranslated>, EngineError> {
    let mut error = None;
    let rewritten = airlock_jql::rewrite(jql, &mut |ns, id| {
        if error.is_some() || crate::queries::kind_of(ns).is_none() {
            return None;
        }
        lookup.get(state, ns, id).unwrap_or_else(|e| {
            error = Some(e);
            None
        })
    });
    if let Some(e) = error {
        return Err(e);
    }
    let rewritten = match rewritten {
        Ok(r) => r,
        Err(e) => {
            return Ok(Err(Untranslated::Query(format!(
                "its query cannot be read ({e}); {}",
                crate::queries::fix_hint(kind, id)
            ))));
        }
    };
    let loads_later = |ns| crate::queries::kind_of(ns).is_some_and(|named| named > kind);
    if let Some(first) = rewritten.unresolved.first()
        && rewritten
            .unresolved
            .iter()
            .all(|u| loads_later(u.namespace))
    {
        return Ok(Err(Untranslated::Later(format!(
            "its query names {} {}, written after this pass (its kind loads after {kind}s)",
            first.field, first.id
        ))));
    }
    if let Some(first) = rewritten.unresolved.first() {
        return Ok(Err(Untranslated::Query(format!(
            "its query names {} {} ({} in all), which has no id on the target; {}",
            first.field,
            first.id,
            rewritten.unresolved.len(),
            crate::queries::fix_hint(kind, id)
        ))));
    }
    *jql = rewritten.query;
    Ok(Ok(()))
}

/// The override file's new project keys and names and field names.
pub(crate) fn apply_renames(decisions: &LoadDecisions, record: &mut Record) {
    match record {
        Record::Project(p) => {
            if let Some(key) = decisions.project_keys.get(&p.id) {
                p.key = key.clone();
            }
            if let Some(name) = decisions.project_names.get(&p.id) {
                p.name = name.clone();
            }
        }
        Record::CustomField(f) => {
            if let Some(name) = decisions.field_names.get(&f.id) {
                f.name = name.clone();
            }
        }
        _ => {}
    }
}

/// A user reference cleared by [`translate`] becomes "no one".
fn clear_empty_users(record: &mut Record) {
    let clear = |v: &mut Option<String>| {
        if v.as_deref() == Some("") {
            *v = None;
        }
    };
    match record {
        Record::Issue(i) => {
            clear(&mut i.reporter);
            clear(&mut i.assignee);
        }
        Record::Comment(c) => clear(&mut c.author),
        Record::Worklog(w) => clear(&mut w.author),
        Record::Attachment(a) => clear(&mut a.author),
        Record::ChangeGroup(g) => clear(&mut g.author),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_mappings_keep_the_exact_text_and_the_latest_answer() {
        let mut c = Cached::default();
        c.insert("10000", "20000");
        c.insert("010", "30000");
        c.insert("JIRAUSER10000", "5b10ac8d82e05b22cc7d4ef5");
        c.insert("10001", "0042");
        assert_eq!(c.get("10000").as_deref(), Some("20000"));
        assert_eq!(c.get("010").as_deref(), Some("30000"));
        assert_eq!(c.get("10").as_deref(), None);
        assert_eq!(c.get("10001").as_deref(), Some("0042"));
        assert_eq!(
            c.get("JIRAUSER10000").as_deref(),
            Some("5b10ac8d82e05b22cc7d4ef5")
        );
        c.insert("10000", "acc-1");
        assert_eq!(c.get("10000").as_deref(), Some("acc-1"));
        c.insert("10000", "20001");
        assert_eq!(c.get("10000").as_deref(), Some("20001"));
    }

    /// `is_referenced` agrees with `Record::refs` and history items' values: no record of
    /// a generated backup references a kind it calls unreferenced (its last batches would
    /// not be waited for).
    #[test]
    fn kinds_called_unreferenced_are_referenced_by_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.zip");
        airlock_fixtures::write_backup(&path, &airlock_fixtures::Spec::default()).unwrap();
        let staging =
            airlock_staging::SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        crate::check(&path, &staging, &[], &[], |_| {}).unwrap();
        let mut refs = 0;
        for kind in Kind::ALL {
            for record in RecordReader::open_kind(&staging, kind).unwrap() {
                let record = record.unwrap();
                let mut targets: Vec<(&str, RefTarget)> = (record.refs().into_iter())
                    .map(|(field, target, _)| (field, target))
                    .collect();
                if let Record::ChangeItem(item) = &record
                    && let crate::history::Values::Ids(target) =
                        crate::history::values(item, &FxHashSet::default())
                {
                    targets.push(("value", RefTarget::Kind(target)));
                }
                for (field, target) in targets {
                    if let RefTarget::Kind(target) = target {
                        assert!(
                            is_referenced(target),
                            "{} {field} references {}",
                            kind.name(),
                            target.name()
                        );
                        refs += 1;
                    }
                }
            }
        }
        assert!(refs > 1000, "only {refs} references");
    }

    /// A crash can leave a kind's last two batches on the target and not in the state
    /// (the one being committed and the one written behind it, [`IN_FLIGHT`]): a rerun
    /// from the state's checkpoint finds both on the target and writes neither again.
    #[test]
    fn a_rerun_finds_both_batches_a_crash_left_on_the_target_only() {
        use airlock_site::LocalSite;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.zip");
        // Worklogs go 4,000 a call into the local site: 9,000 of them are over two batches.
        let spec = airlock_fixtures::Spec {
            issues: 1_000,
            worklogs_per_issue: 9,
            ..airlock_fixtures::Spec::default()
        };
        airlock_fixtures::write_backup(&path, &spec).unwrap();
        let staging =
            airlock_staging::SealedStaging::ephemeral(dir.path().join("staging")).unwrap();
        let checked = crate::check(&path, &staging, &[], &[], |_| {}).unwrap();
        let staged = checked.report.counts;
        let mut site = LocalSite::open(&dir.path().join("site.db")).unwrap();
        let protection = crate::ephemeral_protection().unwrap();
        let mut state = State::open(&dir.path().join("state.db"), protection).unwrap();
        let snapshot = site.snapshot().unwrap();
        let plan = crate::analyze(
            &staging,
            &staged,
            &snapshot,
            &site.describe(),
            &crate::Overrides::default(),
        )
        .unwrap();
        let decisions = plan.decisions;
        let first = load(&staging, &mut state, &mut site, &decisions, &staged, |_| {}).unwrap();
        assert!(first.failed.is_empty(), "{:#?}", state.failures().unwrap());
        let counts = site.counts().unwrap();

        let kind = Kind::Worklog;
        let size = (batch_size(kind) * site.batch_scale()) as u64;
        let done = state.checkpoint(&step(kind)).unwrap();
        assert!(done > 2 * size, "{done} {kind} rows: not two batches");
        // Two batches short of the end: a full one and one a row short of full.
        let rewound = done - (2 * size - 1);
        state
            .commit(&BatchCommit {
                checkpoint: Some((&step(kind), rewound)),
                mappings: &[],
                failures: &[],
                cleared: &[],
                skipped: &[],
                notices: &[],
            })
            .unwrap();

        let again = load(&staging, &mut state, &mut site, &decisions, &staged, |_| {}).unwrap();
        assert_eq!(
            again.recovered.get(&kind),
            Some(&(2 * size - 1)),
            "{again:?}"
        );
        assert!(again.written.is_empty(), "{again:?}");
        assert_eq!(site.duplicate_source_keys(kind).unwrap(), 0);
        assert_eq!(site.counts().unwrap(), counts);
        assert_eq!(state.checkpoint(&step(kind)).unwrap(), done);
    }
}
