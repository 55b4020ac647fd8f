//! Issue history (change groups and their items), carried in issue properties: Jira Cloud
//! has no call that writes an issue's changelog. The shape, and how a history too long for
//! one property value goes on in the next, are in the module doc of `cloud.rs`.
//!
//! The same carrier ([`Carried`], a [`Shape`] of lists) holds what Airlock carries of a
//! board in its properties (`software.rs`): its columns with their statuses, its swimlanes,
//! its quick filters.
//!
//! Parts only grow: an entry or a child goes where there is room (its parent's last
//! entry, else the last part, else a new part) and never moves, so a write stopped half-way
//! leaves every entry that was there before. New parts are written before the first one,
//! which counts them: until it does, no reader looks at them.

use std::collections::{HashMap, HashSet};

use airlock_model::jira::{ChangeGroup, ChangeItem, Kind, Record};
use serde_json::{Value, json};

use super::http::{Reply, Req};
use super::sharing::{MAX_PROPERTY_CHARS, chars, group_by, scatter, wrong_kind};
use super::write::{Answer, bad_segment, refusal, text};
use super::{Api, HISTORY_PROPERTY, RestPath, check_segment, item};
use crate::{ItemError, TargetError};

/// The properties a list may take: `airlock.history`, then `airlock.history.2` up to
/// `airlock.history.20` (655,360 characters: thousands of changes). What would pass them
/// is refused `too-large`, never dropped.
pub(crate) const MAX_PARTS: usize = 20;

/// What a carried list looks like: its properties, the list each part holds, and what its
/// entries' children are, if they have any.
pub(crate) struct Shape {
    /// The first part's key; further parts are `<key>.2`, `<key>.3` …
    pub key: &'static str,
    /// The list each part's value holds (`changes`).
    pub list: &'static str,
    /// The list of each entry's children (`items`), for entries that have them.
    pub children: Option<&'static str>,
    /// What holds the properties, and what the list is of it, in messages ("issue",
    /// "history").
    pub owner: &'static str,
    pub noun: &'static str,
    /// Why a child's parent is not there (its parent record was not written).
    pub orphan: &'static str,
}

/// An issue's history: changes with their items.
pub(crate) const HISTORY: Shape = Shape {
    key: HISTORY_PROPERTY,
    list: "changes",
    children: Some("items"),
    owner: "issue",
    noun: "history",
    orphan: "the item's change is not in the issue's airlock.history properties (its change \
             group was not written)",
};

/// Where a carried list lives: the entity its properties are on.
#[derive(Clone, Copy)]
pub(crate) enum Holder<'a> {
    Issue(&'a str),
    Board(&'a str),
}

impl Holder<'_> {
    /// The path of its property `key`, and the call's name for a `GET` and a `PUT`.
    pub(crate) fn property(
        &self,
        key: &str,
    ) -> Result<(String, &'static str, &'static str), TargetError> {
        let (base, id, what, get, put) = match self {
            Holder::Issue(id) => (
                "/rest/api/3/issue",
                id,
                "an issue id",
                "GET /rest/api/3/issue/{id}/properties/{key}",
                "PUT /rest/api/3/issue/{id}/properties/{key}",
            ),
            Holder::Board(id) => (
                "/rest/agile/1.0/board",
                id,
                "a board id",
                "GET /rest/agile/1.0/board/{id}/properties/{key}",
                "PUT /rest/agile/1.0/board/{id}/properties/{key}",
            ),
        };
        let path = RestPath::at(base)
            .seg(id)
            .and_then(|p| p.fixed("properties").seg(key))
            .map_err(|e| TargetError::Invalid(format!("{what} {e}")))?
            .build();
        Ok((path, get, put))
    }
}

impl Shape {
    /// The property key of part `n` (counted from 0).
    pub(crate) fn part_key(&self, n: usize) -> String {
        if n == 0 {
            self.key.to_owned()
        } else {
            format!("{}.{}", self.key, n + 1)
        }
    }

    /// A part's value as sent: the first one says how many parts there are.
    fn part_value(&self, n: usize, parts: usize, entries: &[Value]) -> Value {
        let mut value = serde_json::Map::new();
        if n == 0 {
            value.insert("parts".into(), json!(parts));
        }
        value.insert(self.list.into(), json!(entries));
        Value::Object(value)
    }

    /// A part's length without its entries; the first's with as many parts as there can be.
    fn wrapper(&self, n: usize) -> usize {
        chars(&self.part_value(n, MAX_PARTS, &[]))
    }

    /// A part's length as sent (at most one character more for the first: its count's
    /// digits).
    fn size(&self, n: usize, entries: &[Value]) -> usize {
        self.wrapper(n) + entries.iter().map(chars).sum::<usize>() + entries.len().saturating_sub(1)
    }

    /// A part's entries, if it is in Airlock's shape, and (read from the first) how many
    /// parts there are.
    pub(crate) fn read_part(&self, value: &Value) -> Option<(usize, Vec<Value>)> {
        let entries = value.get(self.list)?.as_array()?;
        let ours = entries.iter().all(|c| {
            c.get("id").and_then(text).is_some()
                && self
                    .children
                    .is_none_or(|children| c.get(children).is_some_and(Value::is_array))
        });
        if !ours {
            return None;
        }
        let parts = match value.get("parts") {
            None => 1,
            Some(n) => usize::try_from(n.as_u64()?)
                .ok()
                .filter(|n| (1..=MAX_PARTS).contains(n))?,
        };
        Some((parts, entries.clone()))
    }

    fn not_ours(&self) -> ItemError {
        item(
            "rejected",
            format!(
                "the {}'s {} properties are not in Airlock's shape; they were left as they are",
                self.owner, self.key
            ),
        )
    }
}

/// The cloud id a change is answered with: its issue's cloud id and its server id, so
/// that its items find the issue.
fn change_id(issue: &str, change: &str) -> String {
    format!("{issue}:{change}")
}

/// The issue and the change's server id in a change's cloud id.
pub(crate) fn split_change_id(id: &str) -> Option<(&str, &str)> {
    id.split_once(':')
        .filter(|(issue, change)| !issue.is_empty() && !change.is_empty())
}

fn change_entry(g: &ChangeGroup) -> Value {
    json!({ "id": g.id, "author": g.author, "created": g.created, "items": [] })
}

/// An item with the field names of Jira's own changelog JSON.
fn item_entry(i: &ChangeItem) -> Value {
    json!({
        "id": i.id,
        "field": i.field,
        "custom": i.custom,
        "from": i.old_value,
        "fromString": i.old_string,
        "to": i.new_value,
        "toString": i.new_string,
    })
}

/// What a list holds: distinct entries, and children by their entry.
#[derive(Clone, Default)]
pub(crate) struct Tally {
    entries: HashSet<String>,
    children: HashSet<(String, String)>,
}

impl Tally {
    pub(crate) fn add(&mut self, shape: &Shape, entries: &[Value]) {
        for c in entries {
            let Some(id) = c.get("id").and_then(text) else {
                continue;
            };
            if let Some(children) = shape.children {
                for i in c.get(children).map_or(&[][..], super::find::as_list) {
                    if let Some(child) = i.get("id").and_then(text) {
                        self.children.insert((id.clone(), child));
                    }
                }
            }
            self.entries.insert(id);
        }
    }

    /// Entries and children.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.entries.len() as u64, self.children.len() as u64)
    }
}

/// A list as read, and what a batch adds to it.
pub(crate) struct Carried {
    shape: &'static Shape,
    /// Each part's entries (0 is the one at `shape.key`).
    parts: Vec<Vec<Value>>,
    /// Each part's length as it will be sent.
    sizes: Vec<usize>,
    /// The parts the first one counted when read: those past them are seen once it is
    /// written again.
    stored: usize,
    dirty: Vec<bool>,
    /// Entry id → its entries (part, index), first to last: an entry whose children did
    /// not fit goes on in a later part under the same id.
    at: HashMap<String, Vec<(usize, usize)>>,
    /// Entry id → its children's ids.
    children: HashMap<String, HashSet<String>>,
}

impl Carried {
    pub(crate) fn new(shape: &'static Shape, parts: Vec<Vec<Value>>, stored: usize) -> Carried {
        let mut at: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut children: HashMap<String, HashSet<String>> = HashMap::new();
        for (p, entries) in parts.iter().enumerate() {
            for (i, c) in entries.iter().enumerate() {
                let Some(id) = c.get("id").and_then(text) else {
                    continue;
                };
                at.entry(id.clone()).or_default().push((p, i));
                let known = children.entry(id).or_default();
                if let Some(list) = shape.children {
                    for it in c.get(list).map_or(&[][..], super::find::as_list) {
                        known.extend(it.get("id").and_then(text));
                    }
                }
            }
        }
        Carried {
            sizes: parts
                .iter()
                .enumerate()
                .map(|(n, c)| shape.size(n, c))
                .collect(),
            dirty: vec![false; parts.len()],
            shape,
            parts,
            stored,
            at,
            children,
        }
    }

    /// Puts an entry in the last part if it fits, else in a new one.
    fn place(&mut self, entry: Value, what: &str) -> Result<(usize, usize), ItemError> {
        let shape = self.shape;
        let grows = chars(&entry);
        let last = self.parts.len() - 1;
        let comma = usize::from(!self.parts[last].is_empty());
        let p = if self.sizes[last] + grows + comma <= MAX_PROPERTY_CHARS {
            last
        } else if shape.wrapper(1) + grows > MAX_PROPERTY_CHARS {
            return Err(item(
                "too-large",
                format!(
                    "the {what} alone passes Jira Cloud's limit of {MAX_PROPERTY_CHARS} \
                     characters per property value, so the {}'s {} properties cannot carry it",
                    shape.owner, shape.key
                ),
            ));
        } else if self.parts.len() >= MAX_PARTS {
            return Err(item(
                "too-large",
                format!(
                    "the {}'s {} would pass what Airlock carries of it in Jira Cloud: \
                     {MAX_PARTS} properties ({key}, {key}.2 … {key}.{MAX_PARTS}) of at most \
                     {MAX_PROPERTY_CHARS} characters each",
                    shape.owner,
                    shape.noun,
                    key = shape.key
                ),
            ));
        } else {
            let n = self.parts.len();
            self.parts.push(Vec::new());
            self.sizes.push(shape.wrapper(n));
            self.dirty.push(false);
            // The first part counts the parts.
            self.dirty[0] = true;
            n
        };
        self.sizes[p] += grows + usize::from(!self.parts[p].is_empty());
        self.parts[p].push(entry);
        self.dirty[p] = true;
        Ok((p, self.parts[p].len() - 1))
    }

    /// Adds an entry unless one of its id is there: the part it went to, if any. `what`
    /// names it in messages.
    pub(crate) fn add_entry(
        &mut self,
        id: &str,
        entry: Value,
        what: &str,
    ) -> Result<Option<usize>, ItemError> {
        if self.at.contains_key(id) {
            return Ok(None);
        }
        let (p, i) = self.place(entry, what)?;
        self.at.insert(id.to_owned(), vec![(p, i)]);
        self.children.insert(id.to_owned(), HashSet::new());
        Ok(Some(p))
    }

    /// Adds a child to its entry unless it is there: the part it went to, if any.
    pub(crate) fn add_child(
        &mut self,
        parent: &str,
        id: &str,
        entry: Value,
        what: &str,
    ) -> Result<Option<usize>, ItemError> {
        let list = self.shape.children.expect("a shape with children");
        let Some(&(p, i)) = self.at.get(parent).and_then(|places| places.last()) else {
            return Err(item("invalid-reference", self.shape.orphan));
        };
        if self
            .children
            .get(parent)
            .is_some_and(|ids| ids.contains(id))
        {
            return Ok(None);
        }
        let siblings = self.parts[p][i][list]
            .as_array_mut()
            .expect("checked when read or made");
        let grows = chars(&entry) + usize::from(!siblings.is_empty());
        let part = if self.sizes[p] + grows <= MAX_PROPERTY_CHARS {
            siblings.push(entry);
            self.sizes[p] += grows;
            self.dirty[p] = true;
            p
        } else {
            // The entry goes on in a later part: the same id and fields, the rest of its
            // children.
            let mut more = self.parts[p][i].clone();
            more[list] = json!([entry]);
            let (q, j) = self.place(more, what)?;
            self.at.get_mut(parent).expect("found above").push((q, j));
            q
        };
        self.children
            .entry(parent.to_owned())
            .or_default()
            .insert(id.to_owned());
        Ok(Some(part))
    }

    /// Adds a change unless it is there: the part it went to, if any.
    fn add_change(&mut self, g: &ChangeGroup) -> Result<Option<usize>, ItemError> {
        self.add_entry(&g.id, change_entry(g), "change")
    }

    /// Adds an item to its change unless it is there: the part it went to, if any.
    fn add_item(&mut self, change: &str, it: &ChangeItem) -> Result<Option<usize>, ItemError> {
        self.add_child(change, &it.id, item_entry(it), "change item")
    }
}

/// Each record's answer from where it was placed: its id, and the part it went to (if
/// any), which must have been stored.
pub(crate) fn answers(
    placed: Vec<Result<(String, Option<usize>), ItemError>>,
    stored: &[Result<(), ItemError>],
) -> Vec<Answer> {
    placed
        .into_iter()
        .map(|r| {
            let (id, part) = r?;
            match part {
                Some(p) => stored[p].clone().map(|()| id),
                None => Ok(id),
            }
        })
        .collect()
}

impl Api {
    /// Change groups or change items, in their issues' history properties: one read,
    /// merge and write per issue, issues in parallel.
    pub(crate) async fn write_history(
        &self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups = group_by(records, &mut out, |r| {
            let issue = match (kind, r) {
                (Kind::ChangeGroup, Record::ChangeGroup(g)) => {
                    if g.id.is_empty() {
                        return Err(item("invalid-value", "a change needs an id"));
                    }
                    if g.issue.contains(':') {
                        return Err(item("invalid-reference", "the issue id holds a `:`"));
                    }
                    g.issue.as_str()
                }
                (Kind::ChangeItem, Record::ChangeItem(i)) => {
                    if i.id.is_empty() {
                        return Err(item("invalid-value", "a change item needs an id"));
                    }
                    match split_change_id(&i.group) {
                        Some((issue, _)) => issue,
                        None => {
                            return Err(item(
                                "invalid-reference",
                                "the item's change group is not one Airlock wrote to Jira \
                                 Cloud (`<issue>:<change>`)",
                            ));
                        }
                    }
                }
                (_, other) => return Err(wrong_kind(other, kind)),
            };
            check_segment(issue)
                .map(|()| issue.to_owned())
                .map_err(|e| bad_segment("the issue id", e))
        });
        let results = self
            .each(&groups, async |(issue, members): &(String, Vec<usize>)| {
                self.merge_history(issue, records, members).await
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// Adds the records to the issue's history (by server id: a rerun adds nothing).
    async fn merge_history(
        &self,
        issue: &str,
        records: &[Record],
        members: &[usize],
    ) -> Result<Vec<Answer>, TargetError> {
        let holder = Holder::Issue(issue);
        let mut carried = match self.read_carried(holder, &HISTORY).await? {
            Ok(c) => c,
            Err(e) => return Ok(vec![Err(e); members.len()]),
        };
        // Each record's answer, and the part it went to (stored or not, it says).
        let mut placed: Vec<Result<(String, Option<usize>), ItemError>> =
            Vec::with_capacity(members.len());
        for &i in members {
            placed.push(match &records[i] {
                Record::ChangeGroup(g) => {
                    carried.add_change(g).map(|p| (change_id(issue, &g.id), p))
                }
                Record::ChangeItem(it) => {
                    let (_, change) = split_change_id(&it.group).expect("grouped by it");
                    carried.add_item(change, it).map(|p| (String::new(), p))
                }
                _ => unreachable!("grouped by kind"),
            });
        }
        let stored = self.store_carried(holder, &carried).await?;
        Ok(answers(placed, &stored))
    }

    /// `GET` of part `n` of a carried list.
    pub(crate) async fn get_carried_part(
        &self,
        holder: Holder<'_>,
        shape: &Shape,
        n: usize,
    ) -> Result<Reply, TargetError> {
        let (path, get, _) = holder.property(&shape.part_key(n))?;
        self.http.call(&Req::get(get, path)).await
    }

    /// Every part of a carried list; a holder without one has one empty part.
    pub(crate) async fn read_carried(
        &self,
        holder: Holder<'_>,
        shape: &'static Shape,
    ) -> Result<Result<Carried, ItemError>, TargetError> {
        let reply = self.get_carried_part(holder, shape, 0).await?;
        if reply.status == 404 {
            // Nothing carried yet (or no such holder: the PUT says so).
            return Ok(Ok(Carried::new(shape, vec![Vec::new()], 0)));
        }
        if !reply.ok() {
            return Ok(Err(refusal(&reply)));
        }
        let Some((count, first)) = reply.body.get("value").and_then(|v| shape.read_part(v)) else {
            return Ok(Err(shape.not_ours()));
        };
        let mut parts = vec![first];
        for n in 1..count {
            let reply = self.get_carried_part(holder, shape, n).await?;
            if reply.status == 404 {
                // Counted but gone (deleted by hand): written again from what comes.
                parts.push(Vec::new());
                continue;
            }
            if !reply.ok() {
                return Ok(Err(refusal(&reply)));
            }
            match reply.body.get("value").and_then(|v| shape.read_part(v)) {
                Some((_, entries)) => parts.push(entries),
                None => return Ok(Err(shape.not_ours())),
            }
        }
        Ok(Ok(Carried::new(shape, parts, count)))
    }

    /// Writes the parts that changed, the first last (it counts the others); per part,
    /// whether what it holds is on the site for readers.
    pub(crate) async fn store_carried(
        &self,
        holder: Holder<'_>,
        carried: &Carried,
    ) -> Result<Vec<Result<(), ItemError>>, TargetError> {
        let shape = carried.shape;
        let count = carried.parts.len();
        let mut written = vec![true; count];
        let mut failed: Option<ItemError> = None;
        for n in (1..count).chain([0]) {
            if !carried.dirty[n] {
                continue;
            }
            if failed.is_some() {
                written[n] = false;
                continue;
            }
            let value = shape.part_value(n, count, &carried.parts[n]);
            debug_assert!(chars(&value) <= MAX_PROPERTY_CHARS, "part {n} was sized");
            let (path, _, put) = holder.property(&shape.part_key(n))?;
            let reply = self.http.call(&Req::put(put, path, value)).await?;
            if !reply.ok() {
                written[n] = false;
                failed = Some(refusal(&reply));
            }
        }
        Ok((0..count)
            .map(|n| {
                // A new part is seen once the first one counts it.
                if written[n] && (n < carried.stored || written[0]) {
                    Ok(())
                } else {
                    Err(failed.clone().expect("a part was refused"))
                }
            })
            .collect())
    }

    /// Changes and change items in the issues' history properties: one JQL search for the
    /// issues carrying one (the first part comes with the results), and one read per
    /// further part.
    pub(crate) async fn history_counts(&self) -> Result<(u64, u64), TargetError> {
        let (mut changes, mut items) = (0, 0);
        // Issues whose history goes on in further parts, with what the first holds.
        let mut more: Vec<(String, usize, Tally)> = Vec::new();
        self.search_each(
            &format!("issue.property[{HISTORY_PROPERTY}].parts is not EMPTY"),
            &[HISTORY_PROPERTY],
            |issue| {
                let parts = issue
                    .pointer("/properties")
                    .and_then(|p| p.get(HISTORY_PROPERTY))
                    .and_then(|v| HISTORY.read_part(v));
                let (Some(id), Some((count, first))) = (issue.get("id").and_then(text), parts)
                else {
                    // Not Airlock's shape: nothing Airlock wrote.
                    return;
                };
                let mut tally = Tally::default();
                tally.add(&HISTORY, &first);
                if count == 1 {
                    let (c, i) = tally.counts();
                    changes += c;
                    items += i;
                } else {
                    more.push((id, count, tally));
                }
            },
        )
        .await?;
        let rest = self
            .each(
                &more,
                async |(issue, count, first): &(String, usize, Tally)| {
                    let mut tally = first.clone();
                    for n in 1..*count {
                        let reply = self
                            .get_carried_part(Holder::Issue(issue), &HISTORY, n)
                            .await?;
                        if reply.status == 404 {
                            continue;
                        }
                        if !reply.ok() {
                            return Err(reply.error("GET /rest/api/3/issue/{id}/properties/{key}"));
                        }
                        if let Some((_, part)) =
                            reply.body.get("value").and_then(|v| HISTORY.read_part(v))
                        {
                            tally.add(&HISTORY, &part);
                        }
                    }
                    Ok(tally.counts())
                },
            )
            .await?;
        for (c, i) in rest {
            changes += c;
            items += i;
        }
        Ok((changes, items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str) -> ChangeGroup {
        ChangeGroup {
            id: id.into(),
            issue: "10000".into(),
            author: Some("acc-1".into()),
            created: 1_000,
        }
    }

    fn change_item(id: &str, text: usize) -> ChangeItem {
        ChangeItem {
            id: id.into(),
            group: "10000:1".into(),
            custom: false,
            field: "description".into(),
            old_value: None,
            old_string: None,
            new_value: None,
            new_string: Some("x".repeat(text)),
        }
    }

    /// The sizes kept as entries are added are those of the values sent.
    fn check_sizes(c: &Carried) {
        for (n, changes) in c.parts.iter().enumerate() {
            let sent = chars(&HISTORY.part_value(n, MAX_PARTS, changes));
            assert_eq!(c.sizes[n], sent, "part {n}");
            assert!(sent <= MAX_PROPERTY_CHARS);
        }
    }

    #[test]
    fn parts_fill_in_order_and_a_change_goes_on_in_the_next() {
        let mut c = Carried::new(&HISTORY, vec![Vec::new()], 0);
        assert_eq!(c.add_change(&group("1")).unwrap(), Some(0));
        assert_eq!(c.add_change(&group("1")).unwrap(), None);
        for n in 0..5 {
            c.add_item("1", &change_item(&n.to_string(), 10_000))
                .unwrap();
        }
        check_sizes(&c);
        assert_eq!(c.parts.len(), 2);
        assert_eq!(c.at["1"], [(0, 0), (1, 0)]);
        assert_eq!(c.add_item("1", &change_item("4", 10)).unwrap(), None);
        let mut tally = Tally::default();
        for part in &c.parts {
            tally.add(&HISTORY, part);
        }
        assert_eq!(tally.counts(), (1, 5));
        // Read back, the same places.
        let again = Carried::new(&HISTORY, c.parts.clone(), 2);
        assert_eq!(again.at, c.at);
        assert_eq!(again.sizes, c.sizes);
        // Too big for any part, and an unknown change.
        let e = c.add_item("1", &change_item("9", 40_000)).unwrap_err();
        assert_eq!(e.code, "too-large");
        assert!(e.message.contains("alone"), "{e}");
        let e = c.add_item("2", &change_item("10", 1)).unwrap_err();
        assert_eq!(e.code, "invalid-reference");
    }

    #[test]
    fn past_the_last_part_records_are_refused() {
        let mut c = Carried::new(&HISTORY, vec![Vec::new()], 0);
        c.add_change(&group("1")).unwrap();
        let mut refused = 0;
        for n in 0..(MAX_PARTS * 2) {
            match c.add_item("1", &change_item(&n.to_string(), 20_000)) {
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.code, "too-large");
                    assert!(e.message.contains("32768") && e.message.contains("20"));
                    refused += 1;
                }
            }
        }
        assert_eq!(c.parts.len(), MAX_PARTS);
        assert_eq!(refused, MAX_PARTS);
        check_sizes(&c);
    }

    #[test]
    fn only_airlocks_shape_is_read() {
        assert_eq!(
            HISTORY.read_part(&json!({ "parts": 2, "changes": [] })),
            Some((2, Vec::new()))
        );
        assert!(
            HISTORY
                .read_part(&json!({ "changes": [{ "id": "1" }] }))
                .is_none()
        );
        assert!(
            HISTORY
                .read_part(&json!({ "parts": 21, "changes": [] }))
                .is_none()
        );
        assert!(HISTORY.read_part(&json!({ "voters": [] })).is_none());
        assert_eq!(split_change_id("10000:77"), Some(("10000", "77")));
        assert_eq!(split_change_id("10000"), None);
        assert_eq!(HISTORY.part_key(0), "airlock.history");
        assert_eq!(HISTORY.part_key(2), "airlock.history.3");
    }
}
