//! Issue keys kept: Jira Cloud numbers a project's new issues itself, one after another,
//! and never hands a number out twice (a deleted issue's number is gone). So each
//! project's issues are created in source number order (the load hands them over so,
//! `Site::numbers_issues`), one bulk call at a time per project (projects in parallel),
//! and where the source has a gap (issues deleted or moved away) placeholders take the
//! missing numbers: issues of the next issue's type carrying the `airlock.placeholder`
//! property. Once a real issue with a higher number exists, the placeholders below it are
//! deleted: until then the project's highest key is the one Cloud gave last, so a rerun
//! after a crash learns the next number from it (`project = X ORDER BY key DESC`) and
//! finds the placeholders left by their property.
//!
//! An issue whose number the project passed already (the target's project had issues, or
//! an earlier one was refused and its number went to the next) takes the project's next
//! key, as does one after a gap of more than [`MAX_GAP`] numbers (placeholders cost a
//! create and a delete each); its source number stays in `airlock.issue`, and the key it
//! got is listed ([`KeyChange`]).

use std::collections::{HashMap, VecDeque};

use airlock_model::jira::{Issue, Record};
use serde_json::{Value, json};

use super::http::{Created, Reply, Req};
use super::write::{Answer, BULK_ISSUES, classify, issue_body, refusal, text};
use super::{Api, RestPath, item};
use crate::{ItemError, TargetError, source_key};

/// The issue property a placeholder carries: `{"project": id, "number": n}`.
pub(crate) const PLACEHOLDER_PROPERTY: &str = "airlock.placeholder";

/// The widest gap filled with placeholders; an issue after a wider one takes the next key.
pub(crate) const MAX_GAP: u64 = 10_000;

/// A project's numbering as Cloud keeps it, learnt once a run and then kept.
#[derive(Clone, Debug, Default)]
pub(crate) struct Numbering {
    /// The number Cloud gives the project's next issue.
    next: u64,
    /// Placeholders not deleted yet: `(number, id)`.
    placeholders: Vec<(u64, String)>,
    /// Whether gaps are filled: not for a project the site does not have (each of its
    /// issues is refused, and says so).
    fill: bool,
}

/// An issue created with another key than its source number's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyChange {
    pub source_key: String,
    pub source_number: u64,
    /// The key Jira gave it.
    pub key: String,
}

enum Element<'r> {
    Placeholder { number: u64, issue_type: &'r str },
    Issue(usize),
}

/// The number of a key (`ABC-12` → 12).
fn key_number(key: &str) -> Option<u64> {
    key.rsplit_once('-').and_then(|(_, n)| n.parse().ok())
}

fn issue_of(record: &Record) -> &Issue {
    match record {
        Record::Issue(issue) => issue,
        _ => unreachable!("only issues are grouped"),
    }
}

impl Api {
    /// Issues, each project's in the order given (the load's: by number), gaps filled.
    pub(crate) async fn write_issues(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let mut projects: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            match r {
                Record::Issue(issue) => {
                    let p = *at.entry(issue.project.as_str()).or_insert_with(|| {
                        projects.push((issue.project.as_str(), Vec::new()));
                        projects.len() - 1
                    });
                    projects[p].1.push(i);
                }
                other => {
                    out[i] = Some(Err(item(
                        "rejected",
                        format!("a {} record in a batch of issue", other.kind()),
                    )))
                }
            }
        }
        self.leftover_placeholders().await?;
        let answers = self
            .each(&projects, async |(project, issues): &(&str, Vec<usize>)| {
                self.project_issues(project, issues, records).await
            })
            .await?;
        for (i, answer) in answers.into_iter().flatten() {
            out[i] = Some(answer);
        }
        Ok(out
            .into_iter()
            .map(|a| a.expect("every issue answered"))
            .collect())
    }

    /// One project's issues, a bulk call at a time.
    async fn project_issues(
        &self,
        project: &str,
        issues: &[usize],
        records: &[Record],
    ) -> Result<Vec<(usize, Answer)>, TargetError> {
        let known = self.state().numbering.remove(project);
        let mut numbering = match known {
            Some(n) => n,
            None => self.learn_numbering(project, false).await?,
        };
        let mut answers = Vec::with_capacity(issues.len());
        let mut rest: VecDeque<usize> = issues.iter().copied().collect();
        let mut max_gap = MAX_GAP;
        let result = async {
            while !rest.is_empty() {
                let fill = if numbering.fill { max_gap } else { 0 };
                let (elements, taken) = plan_chunk(&numbering, &rest, records, fill);
                rest.drain(..taken);
                let before = numbering.next;
                let left = self
                    .issue_chunk(project, &mut numbering, &elements, records, &mut answers)
                    .await?;
                // A call of placeholders only that Jira refused whole: the gap stays
                // unfilled (the issues after it take the next keys) rather than asked
                // again and again.
                if taken == 0 && numbering.next == before {
                    tracing::warn!("placeholders were refused: the gap is left");
                    max_gap = 0;
                }
                // Issues whose call was applied but unanswered and that were not found
                // again: planned anew (the placeholders of the call are known now).
                for i in left.into_iter().rev() {
                    rest.push_front(i);
                }
            }
            Ok::<(), TargetError>(())
        }
        .await;
        // Kept whatever happened: the next batch (or a retry) goes on from it.
        self.state().numbering.insert(project.to_owned(), numbering);
        result?;
        Ok(answers)
    }

    /// Sends one bulk call of a project and reads its answer into `answers`; answers the
    /// issues to plan again (an applied call whose answer was lost, not all of whose
    /// issues were found again).
    async fn issue_chunk(
        &self,
        project: &str,
        numbering: &mut Numbering,
        elements: &[Element<'_>],
        records: &[Record],
        answers: &mut Vec<(usize, Answer)>,
    ) -> Result<Vec<usize>, TargetError> {
        let updates: Vec<Value> = elements
            .iter()
            .map(|e| match e {
                Element::Placeholder { number, issue_type } => {
                    placeholder_body(project, *number, issue_type)
                }
                Element::Issue(i) => issue_body(issue_of(&records[*i]), &source_key(&records[*i])),
            })
            .collect();
        let req = Req::post(
            "POST /rest/api/3/issue/bulk",
            "/rest/api/3/issue/bulk".into(),
            json!({ "issueUpdates": updates }),
        );
        let before = numbering.next;
        // A repeat of an applied call would take the next numbers again: the project's
        // highest key says whether it was applied.
        let created = self
            .http
            .create(&req, async || {
                let highest = self.highest_number(project).await?.unwrap_or(0);
                Ok((highest >= before).then(String::new))
            })
            .await?;
        let reply = match created {
            Created::Found(_) => {
                return self
                    .found_again(project, numbering, elements, records, answers)
                    .await;
            }
            Created::Done(r) | Created::Refused(r) => r,
        };
        let results = bulk_results(&reply, elements.len())?;
        let mut highest_real = None;
        for (el, result) in elements.iter().zip(results) {
            let (id, key, number) = match result {
                Ok(created) => created,
                Err(e) => {
                    match el {
                        Element::Issue(i) => answers.push((*i, Err(e))),
                        // Its number goes to the next element: that one's key is listed.
                        Element::Placeholder { .. } => {
                            tracing::warn!(code = e.code, "a placeholder was refused")
                        }
                    }
                    continue;
                }
            };
            numbering.next = numbering.next.max(number + 1);
            match el {
                Element::Placeholder { .. } => numbering.placeholders.push((number, id)),
                Element::Issue(i) => {
                    let issue = issue_of(&records[*i]);
                    if number != issue.number {
                        self.state().key_changes.push(KeyChange {
                            source_key: source_key(&records[*i]),
                            source_number: issue.number,
                            key,
                        });
                    }
                    highest_real = highest_real.max(Some(number));
                    answers.push((*i, Ok(id)));
                }
            }
        }
        if let Some(top) = highest_real {
            self.delete_placeholders(numbering, top).await?;
        }
        Ok(Vec::new())
    }

    /// After a call that was applied but whose answer was lost: its issues found again by
    /// their source keys, and the project's numbering learnt again (the call's
    /// placeholders with it). Answers the issues not found.
    async fn found_again(
        &self,
        project: &str,
        numbering: &mut Numbering,
        elements: &[Element<'_>],
        records: &[Record],
        answers: &mut Vec<(usize, Answer)>,
    ) -> Result<Vec<usize>, TargetError> {
        let issues: Vec<usize> = elements
            .iter()
            .filter_map(|e| match e {
                Element::Issue(i) => Some(*i),
                Element::Placeholder { .. } => None,
            })
            .collect();
        let keys: Vec<String> = issues.iter().map(|&i| source_key(&records[i])).collect();
        let found = self.search_issues(&keys).await?;
        *numbering = self.learn_numbering(project, true).await?;
        let mut left = Vec::new();
        for (i, hit) in issues.into_iter().zip(found) {
            match hit {
                Some(id) => answers.push((i, Ok(id))),
                None => left.push(i),
            }
        }
        // The placeholders below the highest real issue can go.
        if let Some(top) = self.highest_real(project, numbering).await? {
            self.delete_placeholders(numbering, top).await?;
        }
        Ok(left)
    }

    /// The project's next number and its placeholders left by an earlier run (`fresh`:
    /// searched again rather than taken from the run's first search).
    async fn learn_numbering(&self, project: &str, fresh: bool) -> Result<Numbering, TargetError> {
        let highest = self.highest_number(project).await?;
        let mut placeholders = if fresh {
            self.placeholders_on_site()
                .await?
                .remove(project)
                .unwrap_or_default()
        } else {
            self.state()
                .leftovers
                .as_mut()
                .and_then(|l| l.remove(project))
                .unwrap_or_default()
        };
        placeholders.sort_unstable();
        Ok(Numbering {
            next: highest.unwrap_or(0) + 1,
            placeholders,
            fill: highest.is_some(),
        })
    }

    /// The highest issue number of a project (0 for none; `None` if the site does not
    /// have the project).
    async fn highest_number(&self, project: &str) -> Result<Option<u64>, TargetError> {
        Ok(self.latest_issues(project, 1).await?.map(|latest| {
            latest
                .first()
                .and_then(|(_, key)| key_number(key))
                .unwrap_or(0)
        }))
    }

    /// The highest number of a real (not placeholder) issue, among the project's latest.
    async fn highest_real(
        &self,
        project: &str,
        numbering: &Numbering,
    ) -> Result<Option<u64>, TargetError> {
        Ok(self
            .latest_issues(project, 100)
            .await?
            .unwrap_or_default()
            .iter()
            .filter(|(id, _)| !numbering.placeholders.iter().any(|(_, p)| p == id))
            .find_map(|(_, key)| key_number(key)))
    }

    /// The project's issues, highest key first: `(id, key)`, one page (`None` if the site
    /// does not have the project).
    async fn latest_issues(
        &self,
        project: &str,
        max: u64,
    ) -> Result<Option<Vec<(String, String)>>, TargetError> {
        let req = Req::post(
            "POST /rest/api/3/search/jql",
            "/rest/api/3/search/jql".into(),
            json!({
                "jql": format!("project = {project} ORDER BY key DESC"),
                "fields": ["id"],
                "maxResults": max,
            }),
        )
        .idempotent();
        let reply = self.http.call(&req).await?;
        // Jira refuses a project it does not have: so will each of its issues' creates,
        // and each says so.
        if reply.status == 400 {
            return Ok(None);
        }
        if !reply.ok() {
            return Err(reply.error(req.name));
        }
        Ok(Some(
            reply
                .body
                .get("issues")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| Some((i.get("id").and_then(text)?, i.get("key").and_then(text)?)))
                .collect(),
        ))
    }

    /// The placeholders a crash left on the site, searched once a run (before the first
    /// issue is written or looked for): those below a real issue are deleted at once (the
    /// run may write no more issues in their project), the others kept for their
    /// project's numbering.
    pub(crate) async fn leftover_placeholders(&self) -> Result<(), TargetError> {
        if self.state().leftovers.is_some() {
            return Ok(());
        }
        let mut found = self.placeholders_on_site().await?;
        for (project, list) in &mut found {
            let mut numbering = Numbering {
                next: 0,
                placeholders: std::mem::take(list),
                fill: true,
            };
            numbering.placeholders.sort_unstable();
            if let Some(top) = self.highest_real(project, &numbering).await? {
                self.delete_placeholders(&mut numbering, top).await?;
            }
            *list = numbering.placeholders;
        }
        self.state().leftovers.get_or_insert(found);
        Ok(())
    }

    /// Every placeholder on the site, by project: `(number, id)`.
    async fn placeholders_on_site(
        &self,
    ) -> Result<HashMap<String, Vec<(u64, String)>>, TargetError> {
        let mut found: HashMap<String, Vec<(u64, String)>> = HashMap::new();
        let jql = format!("issue.property[{PLACEHOLDER_PROPERTY}].project is not EMPTY");
        self.search_each(&jql, &[PLACEHOLDER_PROPERTY], |issue| {
            let project = issue
                .pointer(&format!("/properties/{PLACEHOLDER_PROPERTY}/project"))
                .and_then(text);
            let number = issue
                .get("key")
                .and_then(Value::as_str)
                .and_then(key_number);
            if let (Some(project), Some(number), Some(id)) =
                (project, number, issue.get("id").and_then(text))
            {
                found.entry(project).or_default().push((number, id));
            }
        })
        .await?;
        Ok(found)
    }

    /// Deletes the project's placeholders numbered below `top` (a real issue): Jira does
    /// not reuse their numbers. One Jira will not delete stays, and is searched for again
    /// by the next run.
    async fn delete_placeholders(
        &self,
        numbering: &mut Numbering,
        top: u64,
    ) -> Result<(), TargetError> {
        let (below, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut numbering.placeholders)
            .into_iter()
            .partition(|(n, _)| *n < top);
        numbering.placeholders = kept;
        for (number, id) in below {
            let Ok(path) = RestPath::at("/rest/api/3/issue").seg(&id) else {
                continue;
            };
            let reply = self
                .http
                .call(&Req::delete("DELETE /rest/api/3/issue/{id}", path.build()))
                .await?;
            // 404: deleted already (by an attempt whose answer was lost).
            if !reply.ok() && reply.status != 404 {
                tracing::warn!(status = reply.status, "a placeholder could not be deleted");
                numbering.placeholders.push((number, id));
            }
        }
        Ok(())
    }
}

/// An issue Jira created: its id, key and number.
type CreatedIssue = (String, String, u64);

/// A bulk create's answer, per element: the created issue's `(id, key, number)`, or why
/// it was refused. Jira lists the created issues in element order, without the refused
/// ones (`errors[].failedElementNumber`); a call refused as a whole refuses each.
fn bulk_results(
    reply: &Reply,
    elements: usize,
) -> Result<Vec<Result<CreatedIssue, ItemError>>, TargetError> {
    const CALL: &str = "POST /rest/api/3/issue/bulk";
    let mut failed: HashMap<usize, ItemError> = HashMap::new();
    for e in reply
        .body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = e.get("failedElementNumber").and_then(Value::as_u64) {
            let status = e.get("status").and_then(Value::as_u64).unwrap_or(400) as u16;
            let inner = e.get("elementErrors").cloned().unwrap_or(Value::Null);
            let summary = super::http::error_summary(status, &inner);
            failed.insert(n as usize, item(classify(status, &summary), summary));
        }
    }
    let bad = |message: String| TargetError::Http {
        call: CALL.into(),
        status: reply.status,
        message,
    };
    let mut created = Vec::new();
    for i in reply
        .body
        .get("issues")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(id), Some(key)) = (i.get("id").and_then(text), i.get("key").and_then(text))
        else {
            return Err(bad("a created issue has no id or key".into()));
        };
        let number =
            key_number(&key).ok_or_else(|| bad("a created issue's key has no number".into()))?;
        created.push((id, key, number));
    }
    if !reply.ok() && failed.is_empty() && created.is_empty() {
        let e = refusal(reply);
        return Ok((0..elements).map(|_| Err(e.clone())).collect());
    }
    let succeeded = elements - failed.len().min(elements);
    if created.len() != succeeded {
        return Err(bad(format!(
            "{} issues created but {succeeded} expected from the errors listed",
            created.len()
        )));
    }
    let mut created = created.into_iter();
    Ok((0..elements)
        .map(|n| match failed.remove(&n) {
            Some(e) => Err(e),
            None => Ok(created.next().expect("counted above")),
        })
        .collect())
}

/// The next bulk call of a project: placeholders for the gaps before its issues, then the
/// issues, at most [`BULK_ISSUES`] elements; and how many issues of `rest` it takes.
fn plan_chunk<'r>(
    numbering: &Numbering,
    rest: &VecDeque<usize>,
    records: &'r [Record],
    max_gap: u64,
) -> (Vec<Element<'r>>, usize) {
    let mut elements = Vec::with_capacity(BULK_ISSUES);
    let mut expected = numbering.next;
    let mut taken = 0;
    for &i in rest {
        let issue = issue_of(&records[i]);
        let gap = issue.number.saturating_sub(expected);
        if gap > 0 && gap <= max_gap {
            let room = (BULK_ISSUES - elements.len()) as u64;
            for number in expected..expected + gap.min(room) {
                elements.push(Element::Placeholder {
                    number,
                    issue_type: &issue.issue_type,
                });
            }
            expected += gap.min(room);
        }
        if elements.len() == BULK_ISSUES {
            break;
        }
        elements.push(Element::Issue(i));
        expected += 1;
        taken += 1;
        if elements.len() == BULK_ISSUES {
            break;
        }
    }
    (elements, taken)
}

fn placeholder_body(project: &str, number: u64, issue_type: &str) -> Value {
    json!({
        "fields": {
            "project": { "id": project },
            "issuetype": { "id": issue_type },
            "summary": "Placeholder for a missing issue (Airlock deletes it)",
        },
        "properties": [{
            "key": PLACEHOLDER_PROPERTY,
            "value": { "project": project, "number": number },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(project: &str, number: u64) -> Record {
        Record::Issue(Issue {
            id: format!("{project}-{number}"),
            project: project.into(),
            number,
            ..Default::default()
        })
    }

    fn shape(elements: &[Element<'_>]) -> String {
        elements
            .iter()
            .map(|e| match e {
                Element::Placeholder { number, .. } => format!("p{number}"),
                Element::Issue(i) => format!("i{i}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn chunks_fill_gaps_and_stop_at_the_bulk_limit() {
        let records = vec![issue("1", 1), issue("1", 4), issue("1", 5), issue("1", 120)];
        let numbering = Numbering {
            next: 1,
            placeholders: Vec::new(),
            fill: true,
        };
        let rest: VecDeque<usize> = (0..records.len()).collect();
        let (elements, taken) = plan_chunk(&numbering, &rest, &records, MAX_GAP);
        // 1, placeholders 2 and 3, 4, 5, then 45 of the 114 placeholders before 120.
        assert_eq!(taken, 3);
        assert_eq!(elements.len(), BULK_ISSUES);
        assert!(shape(&elements).starts_with("i0 p2 p3 i1 i2 p6 p7"));
        assert!(shape(&elements).ends_with("p50"));
        // A number passed already goes at once (it takes the next key); a gap wider than
        // MAX_GAP is not filled.
        let numbering = Numbering {
            next: 10,
            placeholders: Vec::new(),
            fill: true,
        };
        let records = vec![
            issue("1", 3),
            issue("1", 11 + MAX_GAP + 1),
            issue("1", 12 + MAX_GAP + 2),
        ];
        let rest: VecDeque<usize> = (0..records.len()).collect();
        let (elements, taken) = plan_chunk(&numbering, &rest, &records, MAX_GAP);
        assert_eq!(taken, 3);
        assert_eq!(shape(&elements), "i0 i1 i2");
    }

    #[test]
    fn bulk_answers_map_by_failed_element_number() {
        let reply = Reply {
            status: 201,
            body: json!({
                "issues": [{ "id": "10000", "key": "A-7" }, { "id": "10001", "key": "A-8" }],
                "errors": [{
                    "status": 400,
                    "failedElementNumber": 1,
                    "elementErrors": { "errors": { "summary": "You must specify a summary of the issue." } }
                }],
            }),
        };
        let out = bulk_results(&reply, 3).unwrap();
        assert_eq!(out[0], Ok(("10000".into(), "A-7".into(), 7)));
        assert_eq!(out[1].as_ref().unwrap_err().code, "invalid-value");
        assert_eq!(out[2], Ok(("10001".into(), "A-8".into(), 8)));
        // One issue too few for the errors listed: the call's answer cannot be read.
        assert!(bulk_results(&reply, 4).is_err());
    }

    #[test]
    fn key_numbers() {
        assert_eq!(key_number("ABC-12"), Some(12));
        assert_eq!(key_number("A_B2-7"), Some(7));
        assert_eq!(key_number("ABC"), None);
    }
}
