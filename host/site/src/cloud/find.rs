//! Finding written records again: issues by JQL on `airlock.source`, everything else
//! through the write-ahead journal and natural keys (see the table in `cloud.rs`).

use std::collections::{BTreeMap, HashMap};

use airlock_model::jira::{Kind, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http::Req;
use super::write::{Answer, text};
use super::{Api, RestPath, SOURCE_PROPERTY, SegmentError};
use crate::{TargetError, source_key};

/// Jira Cloud's limit on an app property's JSON value is 32,768 characters; parts stay
/// below it with room for the wrapper.
const PART_CHARS: usize = 30_000;
/// What an entry grows by when its cloud id is recorded (`,"id":"…"`, ids up to 40 chars).
const ID_ROOM: usize = 48;
/// Source keys per JQL query.
const JQL_KEYS: usize = 50;

/// One entry of the journal: a record's source key, its natural key, and its cloud id
/// once written (empty for kinds without ids of their own).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    k: String,
    #[serde(default)]
    l: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Part {
    entries: Vec<Entry>,
}

/// What the client knows of one kind's journal: parts are numbered from 0 without gaps.
#[derive(Default)]
pub(crate) struct KindJournal {
    next: Option<u64>,
    parts: BTreeMap<u64, Vec<Entry>>,
}

/// The parts a batch was journaled in: part number and the records' indexes.
pub(crate) type Parts = Vec<(u64, Vec<usize>)>;

/// Kinds whose write is idempotent: a journal entry without an id is simply written
/// again.
fn idempotent(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Membership
            | Kind::CustomFieldValue
            | Kind::Label
            | Kind::IssueVersion
            | Kind::Watcher
            | Kind::Vote
            | Kind::ChangeGroup
            | Kind::ChangeItem
            | Kind::ProjectScheme
            | Kind::ProjectKey
            | Kind::Notification
            | Kind::EntityProperty
            | Kind::BoardColumn
            | Kind::ColumnStatus
            | Kind::Swimlane
            | Kind::QuickFilter
            | Kind::CardField
            | Kind::CardColor
            | Kind::IssueSprint
            | Kind::IssueRank
            | Kind::ScreenField
            | Kind::FieldConfigurationItem
    )
}

/// A record's natural key, as its lookup needs it.
pub(crate) fn locator(record: &Record) -> Value {
    match record {
        Record::User(u) => json!({ "email": u.email.to_lowercase() }),
        Record::Group(g) => json!({ "name": g.name }),
        Record::IssueType(c) | Record::Status(c) | Record::Priority(c) | Record::Resolution(c) => {
            json!({ "name": c.name })
        }
        Record::IssueLinkType(t) => json!({ "name": t.name }),
        Record::ProjectRole(r) => json!({ "name": r.name }),
        Record::Project(p) => json!({ "key": p.key }),
        Record::Component(c) => json!({ "project": c.project, "name": c.name }),
        Record::Version(v) => json!({ "project": v.project, "name": v.name }),
        Record::CustomField(f) => json!({ "name": f.name, "type": f.type_key }),
        Record::CustomFieldOption(o) => {
            json!({ "field": o.field, "context": o.context, "value": o.value, "parent": o.parent })
        }
        Record::FieldContext(c) => super::contexts::context_locator(c),
        Record::Comment(c) => json!({ "issue": c.issue }),
        Record::Worklog(w) => json!({ "issue": w.issue }),
        Record::IssueLink(l) => {
            json!({ "type": l.link_type, "source": l.source, "destination": l.destination })
        }
        Record::Attachment(a) => json!({ "issue": a.issue, "name": a.file_name, "size": a.size }),
        Record::RemoteLink(l) => super::remote_links::remote_link_locator(l),
        Record::Filter(f) => super::sharing::filter_locator(f),
        Record::FilterShare(f) => super::sharing::share_locator(f),
        Record::Dashboard(d) => super::dashboards::dashboard_locator(d),
        Record::DashboardShare(d) => super::dashboards::dashboard_share_locator(d),
        Record::Gadget(g) => super::dashboards::gadget_locator(g),
        Record::GadgetPreference(p) => super::dashboards::preference_locator(p),
        Record::SecurityScheme(s) => json!({ "name": s.name }),
        Record::SecurityLevel(l) => super::security::level_locator(l),
        Record::Board(b) => super::software::board_locator(b),
        Record::Sprint(s) => super::software::sprint_locator(s),
        Record::BoardColumn(c) => json!({ "board": c.board }),
        Record::ProjectRoleActor(a) => super::roles::actor_locator(a),
        Record::ProjectCategory(c) => json!({ "name": c.name }),
        // No name until the write chose one (journaled then): nothing to find before.
        Record::PermissionScheme(_)
        | Record::NotificationScheme(_)
        | Record::Screen(_)
        | Record::ScreenScheme(_)
        | Record::IssueTypeScreenScheme(_)
        | Record::FieldConfiguration(_)
        | Record::FieldConfigurationScheme(_)
        | Record::Workflow(_)
        | Record::WorkflowScheme(_) => json!({}),
        Record::IssueTypeScheme(s) => super::issue_type_schemes::issue_type_scheme_locator(s),
        Record::ScreenTab(t) => super::screens::tab_locator(t),
        Record::SchemePermission(g) => super::schemes::grant_locator(g),
        Record::SecurityLevelMember(m) => super::security::member_locator(m),
        Record::Issue(_)
        | Record::Membership(_)
        | Record::CustomFieldValue(_)
        | Record::Label(_)
        | Record::IssueVersion(_)
        | Record::Watcher(_)
        | Record::Vote(_)
        | Record::ChangeGroup(_)
        | Record::ChangeItem(_)
        | Record::ProjectScheme(_)
        | Record::ProjectKey(_)
        | Record::Notification(_)
        | Record::EntityProperty(_)
        | Record::ColumnStatus(_)
        | Record::Swimlane(_)
        | Record::QuickFilter(_)
        | Record::CardField(_)
        | Record::CardColor(_)
        | Record::IssueSprint(_)
        | Record::IssueRank(_)
        | Record::ScreenField(_)
        | Record::FieldConfigurationItem(_) => Value::Null,
    }
}

pub(super) fn s<'v>(loc: &'v Value, field: &str) -> &'v str {
    loc.get(field).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn same(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn journal_key(kind: Kind, n: u64) -> String {
    format!("airlock.journal.{}.{n}", kind.name())
}

impl Api {
    pub(crate) async fn find_written(
        &self,
        kind: Kind,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, TargetError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if kind == Kind::Issue {
            // A crash may have left placeholders below issues this finds: they go first.
            self.leftover_placeholders().await?;
            return self.search_issues(keys).await;
        }
        self.load_journal(kind).await?;
        // Newest entry per key; an id anywhere wins. An entry whose natural key is still
        // to be chosen (`{}`: a renamed create stopped before choosing a name) says less
        // than an older one with the name an earlier attempt chose.
        let mut best: HashMap<String, (Option<String>, u64, usize)> = HashMap::new();
        {
            let state = self.state();
            if let Some(j) = state.journals.get(&kind) {
                let unchosen = |n: u64, i: usize| {
                    j.parts[&n][i]
                        .l
                        .as_object()
                        .is_some_and(serde_json::Map::is_empty)
                };
                for (&n, entries) in &j.parts {
                    for (i, e) in entries.iter().enumerate() {
                        let slot = best.entry(e.k.clone()).or_insert((None, n, i));
                        if e.id.is_some() {
                            slot.0 = e.id.clone();
                        }
                        if !unchosen(n, i) || unchosen(slot.1, slot.2) {
                            slot.1 = n;
                            slot.2 = i;
                        }
                    }
                }
            }
        }
        let mut answers: Vec<Option<String>> = Vec::with_capacity(keys.len());
        let mut to_look: Vec<(usize, u64, usize, Value)> = Vec::new();
        for (at, key) in keys.iter().enumerate() {
            match best.get(key) {
                Some((Some(id), _, _)) => answers.push(Some(id.clone())),
                Some((None, n, i)) if !idempotent(kind) => {
                    let loc = self.state().journals[&kind].parts[n][*i].l.clone();
                    to_look.push((at, *n, *i, loc));
                    answers.push(None);
                }
                _ => answers.push(None),
            }
        }
        if kind == Kind::FilterShare {
            // The batch may have stopped while the migration's account held a filter to
            // share it: each filter of the batch goes back to its owner first, before the
            // ids found are recorded (which takes the batch out of the next reconcile).
            let mut filters: Vec<String> = to_look
                .iter()
                .map(|(_, _, _, loc)| s(loc, "filter").to_owned())
                .filter(|f| !f.is_empty())
                .collect();
            filters.sort_unstable();
            filters.dedup();
            self.settle_owners(&filters).await?;
        }
        // Written before a crash, or not: the natural key says. One at a time, each find
        // claimed at once, so that two records with one natural key (two files of one name
        // on an issue) never take the same cloud record.
        let mut dirty: Vec<u64> = Vec::new();
        for (at, n, i, loc) in &to_look {
            if let Some(id) = self.lookup(kind, loc, &keys[*at]).await? {
                answers[*at] = Some(id.clone());
                let mut state = self.state();
                if let Some(j) = state.journals.get_mut(&kind)
                    && let Some(entries) = j.parts.get_mut(n)
                {
                    entries[*i].id = Some(id);
                    dirty.push(*n);
                }
            }
        }
        dirty.sort_unstable();
        dirty.dedup();
        for n in dirty {
            self.put_part(kind, n).await?;
        }
        Ok(answers)
    }

    /// The journaled natural key of the `kind` record written as cloud record `id`.
    pub(crate) async fn journaled_locator(
        &self,
        kind: Kind,
        id: &str,
    ) -> Result<Option<Value>, TargetError> {
        self.load_journal(kind).await?;
        let state = self.state();
        Ok(state.journals.get(&kind).and_then(|j| {
            j.parts
                .values()
                .flatten()
                .find(|e| e.id.as_deref() == Some(id))
                .map(|e| e.l.clone())
        }))
    }

    /// Journals the natural key a write chose (a name the source did not have) for `key`'s
    /// latest entry, before the write creates the record under it.
    pub(crate) async fn journal_locate(
        &self,
        kind: Kind,
        key: &str,
        loc: Value,
    ) -> Result<(), TargetError> {
        let part = {
            let mut state = self.state();
            let Some(j) = state.journals.get_mut(&kind) else {
                return Ok(());
            };
            let mut found = None;
            for (&n, entries) in j.parts.iter_mut().rev() {
                if let Some(e) = entries.iter_mut().rev().find(|e| e.k == key) {
                    e.l = loc;
                    found = Some(n);
                    break;
                }
            }
            found
        };
        match part {
            Some(n) => self.put_part(kind, n).await,
            None => Ok(()),
        }
    }

    /// Journals a batch before writing it: its entries in parts of the kind's journal.
    pub(crate) async fn journal_intent(
        &self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Parts, TargetError> {
        let mut next = self.next_part(kind).await?;
        let mut parts: Parts = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let mut members: Vec<usize> = Vec::new();
        let mut size = 0;
        let mut flush = |entries: &mut Vec<Entry>, members: &mut Vec<usize>, parts: &mut Parts| {
            if entries.is_empty() {
                return;
            }
            let mut state = self.state();
            let j = state.journals.entry(kind).or_default();
            j.parts.insert(next, std::mem::take(entries));
            parts.push((next, std::mem::take(members)));
            next += 1;
            j.next = Some(next);
        };
        for (i, r) in records.iter().enumerate() {
            let mut e = Entry {
                k: source_key(r),
                l: locator(r),
                id: None,
            };
            // Room for the `"id":"…"` the entry gains once written (a part must still fit).
            let mut len = serde_json::to_string(&e).map(|t| t.len()).unwrap_or(0) + 1 + ID_ROOM;
            if len > PART_CHARS {
                // Too big to journal its natural key: the entry still records the attempt.
                e.l = Value::Null;
                len = e.k.len() + 16;
            }
            if size + len > PART_CHARS {
                flush(&mut entries, &mut members, &mut parts);
                size = 0;
            }
            size += len;
            entries.push(e);
            members.push(i);
        }
        flush(&mut entries, &mut members, &mut parts);
        // In order, so that the parts stay without gaps whatever fails.
        for (n, _) in &parts {
            self.put_part(kind, *n).await?;
        }
        Ok(parts)
    }

    /// Notes at once (in memory) that `key` was written as `id`: lookups of the same
    /// batch must not take that record for another one.
    pub(crate) fn claim(&self, kind: Kind, key: &str, id: &str) {
        let mut state = self.state();
        if let Some(j) = state.journals.get_mut(&kind) {
            for entries in j.parts.values_mut().rev() {
                if let Some(e) = entries.iter_mut().find(|e| e.k == key) {
                    e.id = Some(id.to_owned());
                    return;
                }
            }
        }
    }

    /// The cloud id the journal (as loaded) records for `key`, if any.
    pub(crate) fn journaled_id(&self, kind: Kind, key: &str) -> Option<String> {
        let state = self.state();
        state.journals.get(&kind).and_then(|j| {
            j.parts
                .values()
                .rev()
                .flatten()
                .filter(|e| e.k == key)
                .find_map(|e| e.id.clone())
        })
    }

    /// Whether `id` is the cloud record of another source key than `key`.
    pub(crate) fn claimed_by_other(&self, kind: Kind, key: &str, id: &str) -> bool {
        let state = self.state();
        state.journals.get(&kind).is_some_and(|j| {
            j.parts
                .values()
                .flatten()
                .any(|e| e.k != key && e.id.as_deref() == Some(id))
        })
    }

    /// Records the ids of a batch's written records in its journal parts.
    pub(crate) async fn journal_done(
        &self,
        kind: Kind,
        parts: Parts,
        answers: &[Answer],
    ) -> Result<(), TargetError> {
        for (n, members) in parts {
            let mut changed = false;
            {
                let mut state = self.state();
                let Some(entries) = state
                    .journals
                    .get_mut(&kind)
                    .and_then(|j| j.parts.get_mut(&n))
                else {
                    continue;
                };
                for (e, &i) in entries.iter_mut().zip(&members) {
                    if let Some(Ok(id)) = answers.get(i) {
                        e.id = Some(id.clone());
                        changed = true;
                    }
                }
            }
            if changed {
                self.put_part(kind, n).await?;
            }
        }
        Ok(())
    }

    async fn put_part(&self, kind: Kind, n: u64) -> Result<(), TargetError> {
        let _in_order = self.journal_writes.lock().await;
        let body = {
            let state = self.state();
            let entries = state
                .journals
                .get(&kind)
                .and_then(|j| j.parts.get(&n))
                .cloned()
                .unwrap_or_default();
            serde_json::to_value(Part { entries }).expect("journal serialises")
        };
        let req = Req::put(
            "PUT /rest/atlassian-connect/1/addons/{app}/properties/{key}",
            self.journal_path(kind, n)?,
            body,
        );
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            return Err(TargetError::Http {
                call: req.name.to_owned(),
                status: reply.status,
                message: format!("the journal was refused: {}", reply.summary()),
            });
        }
        Ok(())
    }

    /// `/rest/atlassian-connect/1/addons/{app}/properties/{key}`.
    pub(crate) fn app_property_path(&self, app: &str, key: &str) -> Result<String, SegmentError> {
        Ok(RestPath::at("/rest/atlassian-connect/1/addons")
            .seg(app)?
            .fixed("properties")
            .seg(key)?
            .build())
    }

    /// A journal part's app property (the ledger app's key was checked at start).
    fn journal_path(&self, kind: Kind, n: u64) -> Result<String, TargetError> {
        self.app_property_path(&self.ledger_app, &journal_key(kind, n))
            .map_err(|e| TargetError::Invalid(format!("the ledger app key {e}")))
    }

    /// A journal part, or `None` if it does not exist.
    async fn get_part(&self, kind: Kind, n: u64) -> Result<Option<Vec<Entry>>, TargetError> {
        let req = Req::get(
            "GET /rest/atlassian-connect/1/addons/{app}/properties/{key}",
            self.journal_path(kind, n)?,
        );
        let reply = self.http.call(&req).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        if !reply.ok() {
            return Err(reply.error(req.name));
        }
        let part: Part = reply
            .body
            .get("value")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Ok(Some(part.entries))
    }

    /// The number of the kind's next journal part: found once by galloping over the
    /// parts that exist, then counted locally (one client writes at a time).
    async fn next_part(&self, kind: Kind) -> Result<u64, TargetError> {
        if let Some(n) = self.state().journals.get(&kind).and_then(|j| j.next) {
            return Ok(n);
        }
        let mut parts: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
        let mut exists = async |n: u64| -> Result<bool, TargetError> {
            Ok(match self.get_part(kind, n).await? {
                Some(entries) => {
                    parts.insert(n, entries);
                    true
                }
                None => false,
            })
        };
        let next = if !exists(0).await? {
            0
        } else {
            let (mut lo, mut hi) = (0u64, 1u64);
            while exists(hi).await? {
                lo = hi;
                hi *= 2;
            }
            // lo exists, hi does not.
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if exists(mid).await? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            hi
        };
        let mut state = self.state();
        let j = state.journals.entry(kind).or_default();
        for (n, entries) in parts {
            j.parts.entry(n).or_insert(entries);
        }
        j.next = Some(next);
        Ok(next)
    }

    /// Loads every part of the kind's journal the client does not hold yet.
    pub(crate) async fn load_journal(&self, kind: Kind) -> Result<(), TargetError> {
        let next = self.next_part(kind).await?;
        let missing: Vec<u64> = {
            let state = self.state();
            let held = state.journals.get(&kind);
            (0..next)
                .filter(|n| held.is_none_or(|j| !j.parts.contains_key(n)))
                .collect()
        };
        let loaded = self
            .each(&missing, async |n: &u64| self.get_part(kind, *n).await)
            .await?;
        let mut state = self.state();
        let j = state.journals.entry(kind).or_default();
        for (n, entries) in missing.into_iter().zip(loaded) {
            j.parts.insert(n, entries.unwrap_or_default());
        }
        Ok(())
    }

    /// Distinct source keys of the kind's journal that have an id: what Airlock wrote.
    pub(crate) async fn journal_count(&self, kind: Kind) -> Result<u64, TargetError> {
        self.load_journal(kind).await?;
        let state = self.state();
        let Some(j) = state.journals.get(&kind) else {
            return Ok(0);
        };
        let mut done: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for entries in j.parts.values() {
            for e in entries {
                if e.id.is_some() {
                    done.insert(&e.k);
                }
            }
        }
        Ok(done.len() as u64)
    }

    /// Issues by their `airlock.source` property; the oldest wins if there are several.
    pub(crate) async fn search_issues(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, TargetError> {
        let mut found: HashMap<String, String> = HashMap::new();
        for chunk in keys.chunks(JQL_KEYS) {
            let list = chunk
                .iter()
                .map(|k| jql_string(k))
                .collect::<Vec<_>>()
                .join(", ");
            let jql = format!("issue.property[{SOURCE_PROPERTY}].key in ({list}) ORDER BY id ASC");
            self.search_each(&jql, &[SOURCE_PROPERTY], |issue| {
                let key = issue
                    .pointer(&format!("/properties/{SOURCE_PROPERTY}/key"))
                    .and_then(Value::as_str);
                if let (Some(key), Some(id)) = (key, issue.get("id").and_then(text)) {
                    found.entry(key.to_owned()).or_insert(id);
                }
            })
            .await?;
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    /// Every issue a JQL query finds (`POST /rest/api/3/search/jql`), page by page, with
    /// the issue properties asked for (Jira answers up to 5).
    pub(crate) async fn search_each(
        &self,
        jql: &str,
        properties: &[&str],
        mut f: impl FnMut(&Value),
    ) -> Result<(), TargetError> {
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "jql": jql,
                "fields": ["id"],
                "properties": properties,
                "maxResults": 100,
            });
            if let Some(t) = &token {
                body["nextPageToken"] = json!(t);
            }
            let req = Req::post(
                "POST /rest/api/3/search/jql",
                "/rest/api/3/search/jql".into(),
                body,
            )
            .idempotent();
            let reply = self.http.call(&req).await?;
            if !reply.ok() {
                return Err(reply.error(req.name));
            }
            for issue in reply
                .body
                .get("issues")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                f(issue);
            }
            token = reply
                .body
                .get("nextPageToken")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let last = reply
                .body
                .get("isLast")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if last || token.is_none() {
                return Ok(());
            }
        }
    }

    /// Every item of a paginated list (`values` + `isLast`, or a bare array page).
    pub(crate) async fn paged(
        &self,
        name: &'static str,
        path: &str,
    ) -> Result<Vec<Value>, TargetError> {
        const PAGE: usize = 100;
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        loop {
            let req = Req::get(
                name,
                format!("{path}{sep}startAt={}&maxResults={PAGE}", out.len()),
            );
            let reply = self.http.call(&req).await?;
            if !reply.ok() {
                return Err(reply.error(name));
            }
            let (items, last) = match &reply.body {
                Value::Array(items) => (items.clone(), items.len() < PAGE),
                body => {
                    let items = body
                        .get("values")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let last = body
                        .get("isLast")
                        .and_then(Value::as_bool)
                        .unwrap_or(items.len() < PAGE);
                    (items, last)
                }
            };
            let empty = items.is_empty();
            out.extend(items);
            if last || empty {
                return Ok(out);
            }
        }
    }

    pub(crate) async fn get_json(
        &self,
        name: &'static str,
        path: String,
    ) -> Result<Option<Value>, TargetError> {
        let reply = self.http.call(&Req::get(name, path)).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        if !reply.ok() {
            return Err(reply.error(name));
        }
        Ok(Some(reply.body))
    }

    /// The cloud id of a record with this natural key, if the site has one.
    pub(crate) async fn lookup(
        &self,
        kind: Kind,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        match kind {
            Kind::User => self.lookup_user(s(loc, "email")).await,
            Kind::Group => {
                let name = s(loc, "name");
                let groups = self
                    .paged(
                        "GET /rest/api/3/group/bulk",
                        &RestPath::at("/rest/api/3/group/bulk")
                            .query("groupName", name)
                            .build(),
                    )
                    .await?;
                Ok(by_name(&groups, name, "name"))
            }
            Kind::IssueType => {
                let types = self
                    .get_json("GET /rest/api/3/issuetype", "/rest/api/3/issuetype".into())
                    .await?
                    .unwrap_or(Value::Null);
                Ok(by_name(as_list(&types), s(loc, "name"), "id"))
            }
            Kind::Status | Kind::Priority => {
                let (call, path, param) = if kind == Kind::Status {
                    (
                        "GET /rest/api/3/statuses/search",
                        "/rest/api/3/statuses/search",
                        "searchString",
                    )
                } else {
                    (
                        "GET /rest/api/3/priority/search",
                        "/rest/api/3/priority/search",
                        "priorityName",
                    )
                };
                let name = s(loc, "name");
                let list = self
                    .paged(call, &RestPath::at(path).query(param, name).build())
                    .await?;
                Ok(by_name(&list, name, "id"))
            }
            Kind::Resolution => {
                let list = self
                    .paged(
                        "GET /rest/api/3/resolution/search",
                        "/rest/api/3/resolution/search",
                    )
                    .await?;
                Ok(by_name(&list, s(loc, "name"), "id"))
            }
            Kind::ProjectRole => {
                let roles = self
                    .get_json("GET /rest/api/3/role", "/rest/api/3/role".into())
                    .await?
                    .unwrap_or(Value::Null);
                Ok(by_name(as_list(&roles), s(loc, "name"), "id"))
            }
            Kind::IssueLinkType => {
                let body = self
                    .get_json(
                        "GET /rest/api/3/issueLinkType",
                        "/rest/api/3/issueLinkType".into(),
                    )
                    .await?
                    .unwrap_or(Value::Null);
                let list = body.get("issueLinkTypes").map_or(&[][..], as_list);
                Ok(by_name(list, s(loc, "name"), "id"))
            }
            Kind::Project => self.lookup_project(s(loc, "key")).await,
            Kind::Component | Kind::Version => self.lookup_in_project(kind, loc).await,
            Kind::CustomField => self.lookup_custom_field(loc, source).await,
            Kind::CustomFieldOption => self.lookup_option(loc).await,
            Kind::FieldContext => self.lookup_context(loc, source).await,
            Kind::Comment | Kind::Worklog => self.lookup_marked_child(kind, loc, source).await,
            Kind::IssueLink => self.lookup_link(loc).await,
            Kind::RemoteLink => self.lookup_remote_link(loc, source).await,
            Kind::Attachment => self.lookup_attachment(loc, source).await,
            Kind::Filter => self.lookup_filter(loc, source).await,
            Kind::ScreenTab => self.lookup_screen_tab(loc, source).await,
            Kind::FilterShare => self.lookup_share(loc, source).await,
            Kind::Dashboard => self.lookup_dashboard(loc, source).await,
            Kind::DashboardShare => self.lookup_dashboard_share(loc, source).await,
            Kind::Gadget => self.lookup_gadget(loc, source).await,
            Kind::GadgetPreference => self.lookup_preference(loc).await,
            Kind::SecurityScheme => self.lookup_security_scheme(loc, source).await,
            Kind::SecurityLevel => self.lookup_security_level(loc, source).await,
            Kind::Board => self.lookup_board(loc, source).await,
            Kind::Sprint => self.lookup_sprint(loc, source).await,
            Kind::ProjectRoleActor => self.lookup_role_actor(loc).await,
            Kind::ProjectCategory => self.lookup_category(loc, source).await,
            Kind::PermissionScheme
            | Kind::NotificationScheme
            | Kind::Screen
            | Kind::ScreenScheme
            | Kind::IssueTypeScreenScheme
            | Kind::FieldConfiguration
            | Kind::Workflow
            | Kind::WorkflowScheme => self.lookup_scheme(kind, loc, source).await,
            Kind::IssueTypeScheme => self.lookup_issue_type_scheme(loc, source).await,
            Kind::FieldConfigurationScheme => {
                self.lookup_field_configuration_scheme(loc, source).await
            }
            Kind::SchemePermission => self.lookup_grant(loc, source).await,
            Kind::SecurityLevelMember => self.lookup_level_member(loc, source).await,
            Kind::Issue => Ok(self
                .search_issues(&[source.to_owned()])
                .await?
                .pop()
                .flatten()),
            // Idempotent: written again rather than looked up.
            Kind::Membership
            | Kind::CustomFieldValue
            | Kind::Label
            | Kind::IssueVersion
            | Kind::Watcher
            | Kind::Vote
            | Kind::ChangeGroup
            | Kind::ChangeItem
            | Kind::ProjectScheme
            | Kind::ProjectKey
            | Kind::Notification
            | Kind::EntityProperty
            | Kind::BoardColumn
            | Kind::ColumnStatus
            | Kind::Swimlane
            | Kind::QuickFilter
            | Kind::CardField
            | Kind::CardColor
            | Kind::IssueSprint
            | Kind::IssueRank
            | Kind::ScreenField
            | Kind::FieldConfigurationItem => Ok(None),
        }
    }

    /// A user by email (Cloud's search matches more than the address: compare it).
    async fn lookup_user(&self, email: &str) -> Result<Option<String>, TargetError> {
        if email.is_empty() {
            return Ok(None);
        }
        let users = self
            .get_json(
                "GET /rest/api/3/user/search",
                RestPath::at("/rest/api/3/user/search")
                    .query("query", email)
                    .query("maxResults", "50")
                    .build(),
            )
            .await?
            .unwrap_or(Value::Null);
        Ok(as_list(&users)
            .iter()
            .find(|u| {
                u.get("emailAddress")
                    .and_then(Value::as_str)
                    .is_some_and(|e| same(e, email))
            })
            .and_then(|u| u.get("accountId").and_then(text)))
    }

    async fn lookup_project(&self, key: &str) -> Result<Option<String>, TargetError> {
        // Not a path segment (empty, a dot…): no project has that key.
        let Ok(path) = RestPath::at("/rest/api/3/project").seg(key) else {
            return Ok(None);
        };
        Ok(self
            .get_json("GET /rest/api/3/project/{key}", path.build())
            .await?
            .filter(|p| p.get("key").and_then(Value::as_str) == Some(key))
            .and_then(|p| p.get("id").and_then(text)))
    }

    /// A component or version by name in its project.
    async fn lookup_in_project(
        &self,
        kind: Kind,
        loc: &Value,
    ) -> Result<Option<String>, TargetError> {
        let (name, list) = if kind == Kind::Component {
            ("GET /rest/api/3/project/{id}/components", "components")
        } else {
            ("GET /rest/api/3/project/{id}/versions", "versions")
        };
        let Ok(path) = RestPath::at("/rest/api/3/project").seg(s(loc, "project")) else {
            return Ok(None);
        };
        let list = self
            .get_json(name, path.fixed(list).build())
            .await?
            .unwrap_or(Value::Null);
        Ok(by_name(as_list(&list), s(loc, "name"), "id"))
    }

    async fn lookup_custom_field(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        // Cloud allows two fields of one name: the first not taken by another record.
        let (name, type_key) = (s(loc, "name"), s(loc, "type"));
        let fields = self
            .paged(
                "GET /rest/api/3/field/search",
                &RestPath::at("/rest/api/3/field/search")
                    .query("type", "custom")
                    .query("query", name)
                    .build(),
            )
            .await?;
        Ok(fields
            .iter()
            .filter(|f| {
                f.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| same(n, name))
                    && f.pointer("/schema/custom").and_then(Value::as_str) == Some(type_key)
            })
            .filter_map(|f| f.get("id").and_then(text))
            .find(|id| !self.claimed_by_other(Kind::CustomField, source, id)))
    }

    /// An option by value (and parent option, for a cascading select's child) in its
    /// field's context.
    async fn lookup_option(&self, loc: &Value) -> Result<Option<String>, TargetError> {
        let field = s(loc, "field");
        let context = match loc.get("context").and_then(Value::as_str) {
            Some(c) => Some(c.to_owned()),
            None => self.global_context(field).await?,
        };
        let Some(context) = context else {
            return Ok(None);
        };
        let parent = loc
            .get("parent")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty());
        let Ok(path) = RestPath::at("/rest/api/3/field")
            .seg(field)
            .and_then(|p| p.fixed("context").seg(&context))
        else {
            return Ok(None);
        };
        let options = self
            .paged(
                "GET /rest/api/3/field/{id}/context/{id}/option",
                &path.fixed("option").build(),
            )
            .await?;
        Ok(options
            .iter()
            .find(|o| {
                o.get("value").and_then(Value::as_str) == Some(s(loc, "value"))
                    && o.get("optionId").and_then(text).as_deref() == parent
            })
            .and_then(|o| o.get("id").and_then(text)))
    }

    /// A comment or worklog of an issue that carries this record's source key in its
    /// `airlock.source` property, page by page.
    async fn lookup_marked_child(
        &self,
        kind: Kind,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let (name, path, list) = if kind == Kind::Comment {
            ("GET /rest/api/3/issue/{id}/comment", "comment", "comments")
        } else {
            ("GET /rest/api/3/issue/{id}/worklog", "worklog", "worklogs")
        };
        let Ok(base) = RestPath::at("/rest/api/3/issue").seg(s(loc, "issue")) else {
            return Ok(None);
        };
        let base = base.fixed(path);
        let mut start = 0;
        loop {
            let page_path = base
                .clone()
                .query("startAt", &start.to_string())
                .query("maxResults", "100")
                .query("expand", "properties")
                .build();
            let Some(page) = self.get_json(name, page_path).await? else {
                return Ok(None);
            };
            let items = page.get(list).map_or(&[][..], as_list);
            let marked = items.iter().find(|item| {
                item.get("properties")
                    .map_or(&[][..], as_list)
                    .iter()
                    .any(|p| {
                        p.get("key").and_then(Value::as_str) == Some(SOURCE_PROPERTY)
                            && p.pointer("/value/key").and_then(Value::as_str) == Some(source)
                    })
            });
            if let Some(item) = marked {
                return Ok(item.get("id").and_then(text));
            }
            let total = page.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            start += items.len();
            if items.is_empty() || start >= total {
                return Ok(None);
            }
        }
    }

    /// An outward link of the source issue, by type and destination.
    async fn lookup_link(&self, loc: &Value) -> Result<Option<String>, TargetError> {
        let Ok(path) = RestPath::at("/rest/api/3/issue").seg(s(loc, "source")) else {
            return Ok(None);
        };
        let issue = self
            .get_json(
                "GET /rest/api/3/issue/{id}",
                path.query("fields", "issuelinks").build(),
            )
            .await?
            .unwrap_or(Value::Null);
        Ok(issue
            .pointer("/fields/issuelinks")
            .map_or(&[][..], as_list)
            .iter()
            .find(|l| {
                l.pointer("/type/id").and_then(text).as_deref() == Some(s(loc, "type"))
                    && l.pointer("/outwardIssue/id").and_then(text).as_deref()
                        == Some(s(loc, "destination"))
            })
            .and_then(|l| l.get("id").and_then(text)))
    }

    async fn lookup_attachment(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let Ok(path) = RestPath::at("/rest/api/3/issue").seg(s(loc, "issue")) else {
            return Ok(None);
        };
        let issue = self
            .get_json(
                "GET /rest/api/3/issue/{id}",
                path.query("fields", "attachment").build(),
            )
            .await?
            .unwrap_or(Value::Null);
        let listed = issue.pointer("/fields/attachment").map_or(&[][..], as_list);
        let size = loc.get("size").and_then(Value::as_u64);
        Ok(pick_attachment(listed, s(loc, "name"), size, |id| {
            self.claimed_by_other(Kind::Attachment, source, id)
        }))
    }
}

/// Of an issue's attachments, the one a record of file `name` and `size` wrote: files of
/// one name on one issue are common (a pasted image.png, again and again), so the first
/// of the record's size not `taken` by another record, and only failing that (a row whose
/// size was wrong) the first of its name — two of one name are never swapped.
fn pick_attachment(
    listed: &[Value],
    name: &str,
    size: Option<u64>,
    taken: impl Fn(&str) -> bool,
) -> Option<String> {
    let named: Vec<&Value> = listed
        .iter()
        .filter(|a| a.get("filename").and_then(Value::as_str) == Some(name))
        .collect();
    let sized = |a: &Value| size.is_some() && a.get("size").and_then(Value::as_u64) == size;
    named
        .iter()
        .filter(|a| sized(a))
        .chain(named.iter().filter(|a| !sized(a)))
        .filter_map(|a| a.get("id").and_then(text))
        .find(|id| !taken(id))
}

/// The `id_field` of the item named `name` (case as Jira compares names).
pub(super) fn by_name(items: &[Value], name: &str, id_field: &str) -> Option<String> {
    items
        .iter()
        .find(|i| {
            i.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| same(n, name))
        })
        .and_then(|i| i.get(id_field).and_then(text))
}

/// A JSON array's items; nothing for anything else.
pub(super) fn as_list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// A JQL string literal.
fn jql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two files named image.png on one issue: each record gets the one of its size,
    /// whichever is asked first; a size nobody has falls back to the first not taken.
    #[test]
    fn attachments_of_one_name_are_told_apart_by_their_size() {
        let listed = [
            json!({ "id": "1", "filename": "image.png", "size": 300 }),
            json!({ "id": "2", "filename": "image.png", "size": 70 }),
            json!({ "id": "3", "filename": "other.png", "size": 70 }),
        ];
        let free = |_: &str| false;
        let pick =
            |size, taken: &dyn Fn(&str) -> bool| pick_attachment(&listed, "image.png", size, taken);
        assert_eq!(pick(Some(70), &free).as_deref(), Some("2"));
        assert_eq!(pick(Some(300), &free).as_deref(), Some("1"));
        assert_eq!(pick(Some(70), &|id| id == "2").as_deref(), Some("1"));
        assert_eq!(pick(Some(999), &free).as_deref(), Some("1"));
        assert_eq!(pick(None, &|id| id == "1").as_deref(), Some("2"));
        assert_eq!(pick(Some(70), &|_| true), None);
    }
}
