//! The order in which the load hands a kind's staged records to the target.
//!
//! Staged records come in the file's order (by id). A target that numbers new issues
//! itself in creation order (Jira Cloud) can give each issue its source key only if each
//! project's issues arrive in number order, and id order is not number order: an issue
//! moved into a project keeps its old (low) id but takes the project's next (high) number.
//! So for such a target the issues of a project are handed over in number order. A first
//! pass keeps each project's numbers, sorted (8 bytes an issue); the second holds back an
//! issue until every lower number of its project has gone (only moved issues wait, and at
//! most [`HELD_LIMIT`] of them). The order depends only on the staged file, so the load's
//! checkpoint counts records in it and a resumed load finds its place again.

use std::collections::{BTreeMap, VecDeque};

use airlock_model::jira::{Kind, Record};
use airlock_staging::Staging;
use rustc_hash::FxHashMap;

use crate::EngineError;
use crate::integrity::OrphanSet;
use crate::records::RecordReader;

/// Issues held back at most, waiting for lower numbers of their project: past it the
/// lowest held issue goes, and the lower numbers still to come go as they arrive (the
/// target gives them its next keys). Bounds memory whatever the backup.
pub(crate) const HELD_LIMIT: usize = 10_000;

/// What the load consumes next: a record to write, or an orphan (counted, never sent).
// Items are moved one at a time: boxing the record would cost an allocation per record.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Item {
    Orphan,
    Record(Record),
}

/// A kind's staged records in the order the load hands them over.
pub(crate) struct Ordered<'o> {
    reader: RecordReader,
    orphans: &'o OrphanSet,
    kind: Kind,
    /// The staged position of the next record read (orphans are listed by position).
    position: u64,
    issues: Option<IssueOrder>,
    ready: VecDeque<Item>,
}

impl<'o> Ordered<'o> {
    /// Opens `kind`; issues in number order per project when `by_number`.
    pub(crate) fn open(
        staging: &dyn Staging,
        kind: Kind,
        orphans: &'o OrphanSet,
        by_number: bool,
    ) -> Result<Ordered<'o>, EngineError> {
        let issues = if by_number && kind == Kind::Issue {
            Some(IssueOrder::read(staging, orphans)?)
        } else {
            None
        };
        Ok(Ordered {
            reader: RecordReader::open_kind(staging, kind)?,
            orphans,
            kind,
            position: 0,
            issues,
            ready: VecDeque::new(),
        })
    }

    /// Passes over the first `n` items (a resumed load starts after its checkpoint).
    pub(crate) fn skip(&mut self, n: u64) -> Result<(), EngineError> {
        if self.issues.is_none() {
            self.reader.skip_records(n)?;
            self.position += n;
            return Ok(());
        }
        for _ in 0..n {
            if self.next_item()?.is_none() {
                break;
            }
        }
        Ok(())
    }

    pub(crate) fn next_item(&mut self) -> Result<Option<Item>, EngineError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            let Some(record) = self.reader.next_record()? else {
                if let Some(order) = &mut self.issues {
                    order.flush(&mut self.ready);
                    if !self.ready.is_empty() {
                        continue;
                    }
                }
                return Ok(None);
            };
            let position = self.position;
            self.position += 1;
            if self.orphans.contains(self.kind, position) {
                return Ok(Some(Item::Orphan));
            }
            match (&mut self.issues, record) {
                (Some(order), Record::Issue(issue)) => order.arrive(issue, &mut self.ready),
                (_, record) => return Ok(Some(Item::Record(record))),
            }
        }
    }
}

/// Each project's issue numbers, and the issues held back until their turn.
struct IssueOrder {
    projects: FxHashMap<String, usize>,
    /// Per project: its numbers, sorted, and the index of the next one due.
    numbers: Vec<Vec<u64>>,
    due: Vec<usize>,
    held: Vec<BTreeMap<u64, Vec<airlock_model::jira::Issue>>>,
    held_count: usize,
}

impl IssueOrder {
    fn read(staging: &dyn Staging, orphans: &OrphanSet) -> Result<IssueOrder, EngineError> {
        let mut order = IssueOrder {
            projects: FxHashMap::default(),
            numbers: Vec::new(),
            due: Vec::new(),
            held: Vec::new(),
            held_count: 0,
        };
        let mut reader = RecordReader::open_kind(staging, Kind::Issue)?;
        let mut position = 0u64;
        while let Some(record) = reader.next_record()? {
            let orphan = orphans.contains(Kind::Issue, position);
            position += 1;
            if let (false, Record::Issue(issue)) = (orphan, record) {
                let p = order.project(&issue.project);
                order.numbers[p].push(issue.number);
            }
        }
        for numbers in &mut order.numbers {
            numbers.sort_unstable();
            numbers.shrink_to_fit();
        }
        Ok(order)
    }

    fn project(&mut self, id: &str) -> usize {
        if let Some(&p) = self.projects.get(id) {
            return p;
        }
        let p = self.numbers.len();
        self.projects.insert(id.to_owned(), p);
        self.numbers.push(Vec::new());
        self.due.push(0);
        self.held.push(BTreeMap::new());
        p
    }

    fn arrive(&mut self, issue: airlock_model::jira::Issue, ready: &mut VecDeque<Item>) {
        let p = self.project(&issue.project);
        let number = issue.number;
        match self.numbers[p].get(self.due[p]) {
            // Its turn, or late (a number the order passed already): it goes now.
            Some(&due) if number <= due => {
                if number == due {
                    self.due[p] += 1;
                }
                ready.push_back(Item::Record(Record::Issue(issue)));
                self.release(p, ready);
            }
            None => ready.push_back(Item::Record(Record::Issue(issue))),
            Some(_) => {
                self.held[p].entry(number).or_default().push(issue);
                self.held_count += 1;
                if self.held_count > HELD_LIMIT {
                    // The lowest held issue of this project goes, and the order moves past
                    // its number: lower ones still to come go as they arrive.
                    if let Some((number, issues)) = self.held[p].pop_first() {
                        self.held_count -= issues.len();
                        self.due[p] = self.numbers[p].partition_point(|&n| n <= number);
                        ready.extend(issues.into_iter().map(|i| Item::Record(Record::Issue(i))));
                        self.release(p, ready);
                    }
                }
            }
        }
    }

    /// Hands over the held issues of project `p` that are now due.
    fn release(&mut self, p: usize, ready: &mut VecDeque<Item>) {
        while let Some(&due) = self.numbers[p].get(self.due[p]) {
            let Some(issues) = self.held[p].get_mut(&due) else {
                return;
            };
            let issue = issues.remove(0);
            if issues.is_empty() {
                self.held[p].remove(&due);
            }
            self.held_count -= 1;
            self.due[p] += 1;
            ready.push_back(Item::Record(Record::Issue(issue)));
        }
    }

    /// At the end: whatever is still held (its lower numbers never came), project by
    /// project in number order.
    fn flush(&mut self, ready: &mut VecDeque<Item>) {
        for held in &mut self.held {
            for (_, issues) in std::mem::take(held) {
                ready.extend(issues.into_iter().map(|i| Item::Record(Record::Issue(i))));
            }
        }
        self.held_count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RecordWriter, object_name};

    fn issue(id: u64, project: &str, number: u64) -> Record {
        Record::Issue(airlock_model::jira::Issue {
            id: id.to_string(),
            project: project.into(),
            number,
            ..Default::default()
        })
    }

    /// The ids in the order handed over, `-` for an orphan, after skipping `skip`.
    fn order(staging: &dyn Staging, orphans: &OrphanSet, by_number: bool, skip: u64) -> String {
        let mut ordered = Ordered::open(staging, Kind::Issue, orphans, by_number).unwrap();
        ordered.skip(skip).unwrap();
        let mut out = Vec::new();
        while let Some(item) = ordered.next_item().unwrap() {
            out.push(match item {
                Item::Orphan => "-".to_owned(),
                Item::Record(r) => r.id().to_owned(),
            });
        }
        out.join(" ")
    }

    #[test]
    fn issues_go_in_number_order_per_project_and_resume_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let staging = airlock_staging::SealedStaging::ephemeral(dir.path()).unwrap();
        // Project A: ids 10..14 are; id 3 was moved in as A-6, and id 4
        // as A-3 (a number the project gave while it was elsewhere). Project B: in order,
        // with id 21 an orphan.
        let records = [
            issue(3, "A", 6),
            issue(4, "A", 3),
            issue(10, "A", 1),
            issue(11, "A", 2),
            issue(20, "B", 1),
            issue(12, "A", 4),
            issue(21, "B", 2),
            issue(13, "A", 5),
            issue(22, "B", 3),
        ];
        let mut w = RecordWriter::create(&staging, &object_name(Kind::Issue)).unwrap();
        for (line, r) in records.iter().enumerate() {
            w.push(line as u64, r).unwrap();
        }
        w.finish().unwrap();
        let mut orphans = OrphanSet::default();
        orphans.insert(Kind::Issue, 6);

        let by_number = order(&staging, &orphans, true, 0);
        assert_eq!(by_number, "10 11 4 20 12 - 13 3 22");
        // The file's order for a target that sets keys.
        assert_eq!(
            order(&staging, &orphans, false, 0),
            "3 4 10 11 20 12 - 13 22"
        );
        // A resumed load skips the items it handed over, in the same order.
        for skip in 0..9 {
            let all: Vec<&str> = by_number.split(' ').collect();
            assert_eq!(
                order(&staging, &orphans, true, skip as u64),
                all[skip..].join(" ")
            );
        }
    }
}
