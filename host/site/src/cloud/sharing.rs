//! Watchers, votes, filters and filter shares: who follows an issue or a query. Cloud's
//! rules they obey (votes carried as a property, filter ownership, global shares) are in
//! the module doc of `cloud.rs`.

use std::collections::{HashMap, HashSet};

use airlock_model::jira::{Filter, FilterShare, IssueUser, Kind, Record, Share};
use serde_json::{Value, json};

use super::find::{as_list, s, same};
use super::http::{Created, Req};
use super::write::{Answer, bad_segment, refusal, text};
use super::{Api, RestPath, State, VOTES_PROPERTY, check_segment, item};
use crate::{ItemError, TargetError, source_key};

/// Jira Cloud's limit on an entity property's value, in characters.
pub(super) const MAX_PROPERTY_CHARS: usize = 32_768;

/// Records grouped by a key (issue, filter, name): the key and the records' indexes, in
/// the order the keys first appear.
pub(super) type Groups = Vec<(String, Vec<usize>)>;

/// Groups `records` by `key`; a record `key` refuses is answered in `out` at once.
pub(super) fn group_by(
    records: &[Record],
    out: &mut [Option<Answer>],
    key: impl Fn(&Record) -> Result<String, ItemError>,
) -> Groups {
    let mut groups: Groups = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        match key(r) {
            Ok(k) => match at.get(&k) {
                Some(&g) => groups[g].1.push(i),
                None => {
                    at.insert(k.clone(), groups.len());
                    groups.push((k, vec![i]));
                }
            },
            Err(e) => out[i] = Some(Err(e)),
        }
    }
    groups
}

/// Puts each group's answers (in its members' order) at its records' places.
pub(super) fn scatter(
    groups: &Groups,
    results: Vec<Vec<Answer>>,
    mut out: Vec<Option<Answer>>,
) -> Vec<Answer> {
    for ((_, members), answers) in groups.iter().zip(results) {
        for (&i, a) in members.iter().zip(answers) {
            out[i] = Some(a);
        }
    }
    out.into_iter()
        .map(|a| a.expect("every record answered"))
        .collect()
}

pub(super) fn wrong_kind(record: &Record, kind: Kind) -> ItemError {
    item(
        "rejected",
        format!("a {} record in a batch of {kind}", record.kind()),
    )
}

/// A JSON value's length as Jira counts it: characters of its compact text.
pub(super) fn chars(value: &Value) -> usize {
    value.to_string().chars().count()
}

/// A filter's natural key: its name and owner, and a digest of its content, which tells
/// this record's filter from another record's still held by the migration's account.
pub(crate) fn filter_locator(f: &Filter) -> Value {
    json!({ "name": f.name, "owner": f.owner, "digest": filter_digest(f) })
}

/// A filter's digest: its query and description.
fn filter_digest(f: &Filter) -> String {
    content_digest(&[&f.jql, &f.description])
}

/// The digest of a filter as Jira answers it (`jql` and `description` expanded).
fn answered_digest(f: &Value) -> String {
    let field = |name: &str| f.get(name).and_then(Value::as_str).unwrap_or("");
    content_digest(&[field("jql"), field("description")])
}

/// FNV-1a (64 bits) of `parts`, a NUL between two: no security, only telling two filters
/// or dashboards of one name apart (the NUL keeps the parts apart).
pub(super) fn content_digest(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.join("\0").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// What the migration's account creates (Jira makes the caller the owner) and then gives
/// to its owner. Jira lets an account own one of a name: until given away (or after a
/// crash or a lost answer in between) the migration's account holds it, and finds it again
/// by name and a digest of its content.
#[derive(Clone, Copy)]
pub(super) enum Owned {
    Filter,
    Dashboard,
}

impl Owned {
    fn kind(self) -> Kind {
        match self {
            Owned::Filter => Kind::Filter,
            Owned::Dashboard => Kind::Dashboard,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Owned::Filter => "filter",
            Owned::Dashboard => "dashboard",
        }
    }

    /// The digest of one as Jira answers it (its content expanded).
    fn answered_digest(self, found: &Value) -> String {
        match self {
            Owned::Filter => answered_digest(found),
            Owned::Dashboard => super::dashboards::answered_digest(found),
        }
    }

    /// Ids this run created one of these for, and the source keys of their records: one
    /// left with the migration's account is never taken for another record.
    fn created(self, state: &mut State) -> &mut HashMap<String, String> {
        match self {
            Owned::Filter => &mut state.filters,
            Owned::Dashboard => &mut state.dashboards,
        }
    }
}

/// A filter's or dashboard's name, and the account it is given to once created (`None`:
/// the migration's account keeps it, and with it its name: a filter without an owner, the
/// system dashboard, a deleted owner's dashboard).
fn name_and_owner(record: &Record) -> Option<(&str, Option<&str>)> {
    fn given(owner: &str, kept: bool) -> Option<&str> {
        (!kept && !owner.is_empty()).then_some(owner)
    }
    match record {
        Record::Filter(f) => Some((&f.name, given(&f.owner, false))),
        Record::Dashboard(d) => Some((&d.name, given(&d.owner, d.system))),
        _ => None,
    }
}

/// The share a permission names, as Jira answers it (`authenticated` as `loggedin`, a
/// role's share as `project` with a `role`) or a dashboard's request gives it. `None` for
/// one Airlock does not know, and for a role's share whose role it cannot read (never
/// taken for the whole project's).
pub(super) fn answered_share(p: &Value) -> Option<Share> {
    let id = |pointer: &str| p.pointer(pointer).and_then(text);
    let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
    Some(match ty {
        "global" => Share::Global,
        "loggedin" | "authenticated" => Share::LoggedIn,
        "group" => Share::Group(p.pointer("/group/name")?.as_str()?.to_owned()),
        "project" | "projectRole" => {
            let role = id("/role/id");
            let names_role = ty == "projectRole" || p.get("role").is_some_and(|r| !r.is_null());
            if names_role && role.is_none() {
                return None;
            }
            Share::Project {
                project: id("/project/id")?,
                role,
            }
        }
        "user" => Share::User(id("/user/accountId")?),
        _ => return None,
    })
}

/// Whether two shares are one: Jira compares group names without case.
pub(super) fn same_share(a: &Share, b: &Share) -> bool {
    match (a, b) {
        (Share::Group(x), Share::Group(y)) => same(x, y),
        _ => a == b,
    }
}

/// A filter share's natural key: its filter, its type and what it names.
pub(crate) fn share_locator(f: &FilterShare) -> Value {
    let mut loc = json!({ "filter": f.filter, "type": f.share.type_name() });
    match &f.share {
        Share::Group(group) => loc["group"] = json!(group),
        Share::Project { project, role } => {
            loc["project"] = json!(project);
            if let Some(role) = role {
                loc["role"] = json!(role);
            }
        }
        Share::User(account) => loc["account"] = json!(account),
        Share::Global | Share::LoggedIn => {}
    }
    loc
}

/// The share a filter share's natural key ([`share_locator`]) names.
fn located_share(loc: &Value) -> Option<Share> {
    let field = |name: &str| s(loc, name).to_owned();
    Some(match s(loc, "type") {
        "global" => Share::Global,
        "authenticated" => Share::LoggedIn,
        "group" => Share::Group(field("group")),
        "project" => Share::Project {
            project: field("project"),
            role: None,
        },
        "projectRole" => Share::Project {
            project: field("project"),
            role: Some(field("role")),
        },
        "user" => Share::User(field("account")),
        _ => return None,
    })
}

/// Whether a share permission, as Jira answers it, is the one `loc` names.
fn share_matches(p: &Value, loc: &Value) -> bool {
    located_share(loc)
        .zip(answered_share(p))
        .is_some_and(|(wanted, answered)| same_share(&answered, &wanted))
}

/// The newest (highest id) share permission of `list` that `loc` names, leaving out the
/// ids `taken` says another record has.
fn newest_share(list: &[Value], loc: &Value, taken: impl Fn(&str) -> bool) -> Option<String> {
    list.iter()
        .filter(|p| share_matches(p, loc))
        .filter_map(|p| p.get("id").and_then(text))
        .filter(|id| !taken(id))
        .max_by_key(|id| (id.parse::<i64>().unwrap_or(i64::MIN), id.clone()))
}

impl Api {
    /// `POST /rest/api/3/issue/{id}/watchers` with the account id as a JSON string; 204.
    pub(crate) async fn watcher(&self, w: &IssueUser) -> Result<Answer, TargetError> {
        if w.user.is_empty() {
            return Ok(Err(item("invalid-value", "a watcher needs a user")));
        }
        let path = match RestPath::at("/rest/api/3/issue").seg(&w.issue) {
            Ok(p) => p.fixed("watchers").build(),
            Err(e) => return Ok(Err(bad_segment("the issue id", e))),
        };
        // Watching twice is watching: repeating the call is harmless.
        let req =
            Req::post("POST /rest/api/3/issue/{id}/watchers", path, json!(w.user)).idempotent();
        let reply = self.http.call(&req).await?;
        Ok(if reply.ok() {
            Ok(String::new())
        } else {
            Err(refusal(&reply))
        })
    }

    /// Votes, in each issue's [`VOTES_PROPERTY`]: one read, merge and write per issue,
    /// issues in parallel.
    pub(crate) async fn write_votes(&self, records: &[Record]) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups = group_by(records, &mut out, |r| match r {
            Record::Vote(v) if v.user.is_empty() => {
                Err(item("invalid-value", "a vote needs a user"))
            }
            Record::Vote(v) => check_segment(&v.issue)
                .map(|()| v.issue.clone())
                .map_err(|e| bad_segment("the issue id", e)),
            other => Err(wrong_kind(other, Kind::Vote)),
        });
        let results = self
            .each(&groups, async |(issue, members): &(String, Vec<usize>)| {
                let votes: Vec<&IssueUser> = members
                    .iter()
                    .filter_map(|&i| match &records[i] {
                        Record::Vote(v) => Some(v),
                        _ => None,
                    })
                    .collect();
                self.merge_votes(issue, &votes).await
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// Adds `votes` to the issue's voters (a set by account id: a rerun adds nothing).
    async fn merge_votes(
        &self,
        issue: &str,
        votes: &[&IssueUser],
    ) -> Result<Vec<Answer>, TargetError> {
        let path = RestPath::at("/rest/api/3/issue")
            .seg(issue)
            .and_then(|p| p.fixed("properties").seg(VOTES_PROPERTY))
            .map_err(|e| TargetError::Invalid(format!("an issue id {e}")))?
            .build();
        let reply = self
            .http
            .call(&Req::get(
                "GET /rest/api/3/issue/{id}/properties/{key}",
                path.clone(),
            ))
            .await?;
        let mut voters: Vec<Value> = if reply.status == 404 {
            // No votes yet (or no such issue: the PUT says so).
            Vec::new()
        } else if !reply.ok() {
            return Ok(vec![Err(refusal(&reply)); votes.len()]);
        } else {
            match reply
                .body
                .pointer("/value/voters")
                .and_then(Value::as_array)
            {
                Some(list) => list.clone(),
                None => {
                    return Ok(vec![
                        Err(item(
                            "rejected",
                            format!(
                                "the issue's {VOTES_PROPERTY} property is not in Airlock's \
                                 shape; it was left as it is"
                            ),
                        ));
                        votes.len()
                    ]);
                }
            }
        };
        let mut known: HashSet<String> = voters
            .iter()
            .filter_map(|v| v.get("accountId").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let mut size = chars(&json!({ "voters": voters }));
        let mut answers: Vec<Answer> = Vec::with_capacity(votes.len());
        let mut added: Vec<usize> = Vec::new();
        for v in votes {
            if known.contains(&v.user) {
                answers.push(Ok(String::new()));
                continue;
            }
            let entry = json!({ "accountId": v.user, "created": v.created });
            let grows = chars(&entry) + usize::from(!voters.is_empty());
            if size + grows > MAX_PROPERTY_CHARS {
                answers.push(Err(item(
                    "too-large",
                    format!(
                        "the issue's votes would pass Jira Cloud's limit of \
                         {MAX_PROPERTY_CHARS} characters per property value"
                    ),
                )));
                continue;
            }
            size += grows;
            known.insert(v.user.clone());
            voters.push(entry);
            added.push(answers.len());
            answers.push(Ok(String::new()));
        }
        if added.is_empty() {
            return Ok(answers);
        }
        let req = Req::put(
            "PUT /rest/api/3/issue/{id}/properties/{key}",
            path,
            json!({ "voters": voters }),
        );
        let reply = self.http.call(&req).await?;
        if !reply.ok() {
            let e = refusal(&reply);
            for i in added {
                answers[i] = Err(e.clone());
            }
        }
        Ok(answers)
    }

    /// Filters: see [`Api::write_owned`].
    pub(crate) async fn write_filters(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        self.write_owned(Owned::Filter, records).await
    }

    /// Filters or dashboards: those of one name one after another (the migration's account
    /// may own one of a name, and owns each new one until its owner is set), names in
    /// parallel. Those it keeps come last: with them it keeps their names.
    pub(super) async fn write_owned(
        &self,
        what: Owned,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let mut groups = group_by(records, &mut out, |r| match name_and_owner(r) {
            Some((name, _)) if r.kind() == what.kind() => Ok(name.to_lowercase()),
            _ => Err(wrong_kind(r, what.kind())),
        });
        for (_, members) in &mut groups {
            // Stable: the others keep their order.
            members.sort_by_key(|&i| {
                name_and_owner(&records[i]).is_some_and(|(_, owner)| owner.is_none())
            });
        }
        let results = self
            .each(&groups, async |(_, members): &(String, Vec<usize>)| {
                let mut answers = Vec::with_capacity(members.len());
                for &i in members {
                    answers.push(match &records[i] {
                        Record::Filter(f) => self.filter(&records[i], f).await?,
                        Record::Dashboard(d) => self.dashboard(&records[i], d).await?,
                        _ => unreachable!("only filters and dashboards are grouped"),
                    });
                }
                Ok(answers)
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// `POST /rest/api/3/filter` (the caller owns the new filter), then the owner with
    /// `PUT /rest/api/3/filter/{id}/owner`.
    pub(crate) async fn filter(&self, record: &Record, f: &Filter) -> Result<Answer, TargetError> {
        let body = json!({
            "name": f.name,
            "description": f.description,
            "jql": f.jql,
            "favourite": false,
        });
        let req = Req::post("POST /rest/api/3/filter", "/rest/api/3/filter".into(), body);
        self.create_owned(Owned::Filter, record, &req).await
    }

    /// Creates `record`'s filter or dashboard with `req` as the migration's account, then
    /// gives it to its owner. An applied create whose answer was lost is found by the
    /// record's natural key, or as the one the migration's account still holds.
    pub(super) async fn create_owned(
        &self,
        what: Owned,
        record: &Record,
        req: &Req,
    ) -> Result<Answer, TargetError> {
        let key = source_key(record);
        let loc = super::find::locator(record);
        let owner = name_and_owner(record).and_then(|(_, owner)| owner);
        // An applied create left it with the migration's account, owner not set.
        let created = self
            .http
            .create(req, async || {
                Ok(match self.lookup_owned(what, &loc, &key).await? {
                    Some(id) => Some(id),
                    None => self.held_owned(what, &loc, owner, &key).await?,
                })
            })
            .await?;
        let id = match created {
            Created::Done(reply) => {
                reply
                    .body
                    .get("id")
                    .and_then(text)
                    .ok_or_else(|| TargetError::Http {
                        call: req.name.to_owned(),
                        status: reply.status,
                        message: "the answer carries no id".into(),
                    })?
            }
            Created::Found(id) => id,
            Created::Refused(reply) => {
                let refused = refusal(&reply);
                // The migration's account has one of this name already: this one, created
                // before a crash and never given to its owner, unless another record has it.
                let held = if refused.code == "duplicate-key" {
                    self.held_owned(what, &loc, owner, &key).await?
                } else {
                    None
                };
                match held {
                    Some(id) => id,
                    None => return Ok(Err(refused)),
                }
            }
        };
        what.created(&mut self.state())
            .insert(id.clone(), key.clone());
        if let Some(owner) = owner
            && let Err(why) = self.give_owned(what, &id, owner).await?
        {
            return Ok(Err(item(
                why.code,
                format!(
                    "the {} was created (id {id}) but Jira refused its owner, so it is owned \
                     by the migration's account: set its owner in Jira ({})",
                    what.noun(),
                    why.message
                ),
            )));
        }
        self.claim(what.kind(), &key, &id);
        Ok(Ok(id))
    }

    /// Gives a filter or dashboard to `account`; Jira's refusal as an item error.
    async fn give_owned(
        &self,
        what: Owned,
        id: &str,
        account: &str,
    ) -> Result<Result<(), ItemError>, TargetError> {
        match what {
            Owned::Filter => self.set_filter_owner(id, account).await,
            Owned::Dashboard => self.set_dashboard_owner(id, account).await,
        }
    }

    /// `PUT /rest/api/3/filter/{id}/owner`; Jira's refusal as an item error.
    async fn set_filter_owner(
        &self,
        filter: &str,
        account: &str,
    ) -> Result<Result<(), ItemError>, TargetError> {
        let path = RestPath::at("/rest/api/3/filter")
            .seg(filter)
            .map_err(|e| TargetError::Invalid(format!("a filter id {e}")))?
            .fixed("owner")
            .build();
        let req = Req::put(
            "PUT /rest/api/3/filter/{id}/owner",
            path,
            json!({ "accountId": account }),
        );
        let reply = self.http.call(&req).await?;
        Ok(if reply.ok() {
            Ok(())
        } else {
            Err(refusal(&reply))
        })
    }

    /// The caller's (the migration's account's) id, asked once.
    pub(crate) async fn myself(&self) -> Result<String, TargetError> {
        if let Some(me) = self.state().myself.clone() {
            return Ok(me);
        }
        let call = "GET /rest/api/3/myself";
        let me = self
            .get_json(call, "/rest/api/3/myself".into())
            .await?
            .and_then(|u| u.get("accountId").and_then(text))
            .ok_or_else(|| TargetError::Http {
                call: call.into(),
                status: 404,
                message: "Jira did not say which account the migration uses".into(),
            })?;
        self.state().myself = Some(me.clone());
        Ok(me)
    }

    /// A filter by its natural key: see [`Api::lookup_owned`].
    pub(crate) async fn lookup_filter(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        self.lookup_owned(Owned::Filter, loc, source).await
    }

    /// A filter or dashboard by its natural key: exact name and owner (the record's owner,
    /// or the migration's account for one without). One the migration's account owns may
    /// be another record's, not given to its owner yet: its content must match too.
    pub(super) async fn lookup_owned(
        &self,
        what: Owned,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let (name, owner) = (s(loc, "name"), s(loc, "owner"));
        if name.is_empty() {
            return Ok(None);
        }
        let me = self.myself().await?;
        let wanted = if owner.is_empty() { me.as_str() } else { owner };
        let digest = s(loc, "digest");
        let found = self.owned_named(what, name, wanted).await?;
        Ok(self.pick_owned(what, &found, name, wanted, source, |f| {
            wanted != me || digest.is_empty() || what.answered_digest(f) == digest
        }))
    }

    /// The record's filter or dashboard (natural key `loc`) still held by the migration's
    /// account (created, its owner not set before the answer or the run was lost): same
    /// name and content, and not another record's. None that the migration's account keeps
    /// (no `owner`).
    async fn held_owned(
        &self,
        what: Owned,
        loc: &Value,
        owner: Option<&str>,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        if owner.is_none() {
            return Ok(None);
        }
        let me = self.myself().await?;
        let (name, digest) = (s(loc, "name"), s(loc, "digest"));
        let found = self.owned_named(what, name, &me).await?;
        Ok(
            self.pick_owned(what, &found, name, &me, source, |candidate| {
                what.answered_digest(candidate) == digest
            }),
        )
    }

    /// Filters or dashboards whose name holds `name` (Jira's search is a case-insensitive
    /// partial match), with their owners and content; dashboards only `account`'s.
    async fn owned_named(
        &self,
        what: Owned,
        name: &str,
        account: &str,
    ) -> Result<Vec<Value>, TargetError> {
        match what {
            Owned::Filter => self.filters_named(name).await,
            Owned::Dashboard => self.dashboards_named(name, account).await,
        }
    }

    /// Filters whose name holds `name` (Jira's search is a case-insensitive partial
    /// match), with their owners, queries and descriptions; an administrator sees every
    /// filter.
    async fn filters_named(&self, name: &str) -> Result<Vec<Value>, TargetError> {
        self.paged(
            "GET /rest/api/3/filter/search",
            &RestPath::at("/rest/api/3/filter/search")
                .query("filterName", name)
                .query("expand", "owner,jql,description")
                .query("overrideSharePermissions", "true")
                .build(),
        )
        .await
    }

    /// The first of `found` named exactly `name`, owned by `account`, that `fits`, and not
    /// another record's.
    fn pick_owned(
        &self,
        what: Owned,
        found: &[Value],
        name: &str,
        account: &str,
        source: &str,
        fits: impl Fn(&Value) -> bool,
    ) -> Option<String> {
        found
            .iter()
            .filter(|f| {
                f.get("name").and_then(Value::as_str) == Some(name)
                    && f.pointer("/owner/accountId").and_then(Value::as_str) == Some(account)
                    && fits(f)
            })
            .filter_map(|f| f.get("id").and_then(text))
            .find(|id| {
                !self.claimed_by_other(what.kind(), source, id)
                    && what
                        .created(&mut self.state())
                        .get(id)
                        .is_none_or(|k| k == source)
            })
    }

    /// A filter as an administrator sees it (`overrideSharePermissions`: every filter, not
    /// only those shared with the caller), or `None` if there is no such filter.
    async fn get_filter(&self, filter: &str) -> Result<Option<Value>, TargetError> {
        // Not a path segment: no filter has that id.
        let Ok(path) = RestPath::at("/rest/api/3/filter").seg(filter) else {
            return Ok(None);
        };
        self.get_json(
            "GET /rest/api/3/filter/{id}",
            path.query("overrideSharePermissions", "true").build(),
        )
        .await
    }

    /// A filter's share permissions, view and edit.
    fn shares_of(filter: &Value) -> Vec<Value> {
        let mut all = filter
            .get("sharePermissions")
            .map_or(&[][..], as_list)
            .to_vec();
        all.extend_from_slice(filter.get("editPermissions").map_or(&[][..], as_list));
        all
    }

    /// A share by its filter, type and what it names: the newest not taken by another
    /// record. Read from the filter (an administrator sees every filter's shares; its
    /// share list shows only those of filters shared with the caller).
    pub(crate) async fn lookup_share(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let Some(filter) = self.get_filter(s(loc, "filter")).await? else {
            return Ok(None);
        };
        Ok(newest_share(&Self::shares_of(&filter), loc, |id| {
            self.claimed_by_other(Kind::FilterShare, source, id)
        }))
    }

    /// Filter shares, grouped by filter: each filter's global shares first, then the
    /// others in the batch's order; filters in parallel.
    pub(crate) async fn write_shares(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let mut groups = group_by(records, &mut out, |r| match r {
            Record::FilterShare(f) => check_segment(&f.filter)
                .map(|()| f.filter.clone())
                .map_err(|e| bad_segment("the filter id", e)),
            other => Err(wrong_kind(other, Kind::FilterShare)),
        });
        for (_, members) in &mut groups {
            // Stable: the others keep their order.
            members.sort_by_key(|&i| match &records[i] {
                Record::FilterShare(FilterShare {
                    share: Share::Global,
                    ..
                }) => 0,
                Record::FilterShare(FilterShare {
                    share: Share::LoggedIn,
                    ..
                }) => 1,
                _ => 2,
            });
        }
        // The owners filters were given to, read once for every group.
        self.load_journal(Kind::Filter).await?;
        let filters = self
            .each(&groups, async |(filter, _): &(String, Vec<usize>)| {
                self.get_filter(filter).await
            })
            .await?;
        // The migration's account holds a filter to share it, and may hold one filter of
        // a name: filters of one name are shared one after another.
        let mut names: Vec<Vec<usize>> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (g, filter) in filters.iter().enumerate() {
            let name = match filter.as_ref().and_then(|f| f.get("name")?.as_str()) {
                Some(name) => name.to_lowercase(),
                None => {
                    names.push(vec![g]);
                    continue;
                }
            };
            match by_name.get(&name) {
                Some(&n) => names[n].push(g),
                None => {
                    by_name.insert(name, names.len());
                    names.push(vec![g]);
                }
            }
        }
        let done = self
            .each(&names, async |same_name: &Vec<usize>| {
                let mut answers = Vec::with_capacity(same_name.len());
                for &g in same_name {
                    let (filter, members) = &groups[g];
                    let shares: Vec<(&Record, &FilterShare)> = members
                        .iter()
                        .filter_map(|&i| match &records[i] {
                            Record::FilterShare(f) => Some((&records[i], f)),
                            _ => None,
                        })
                        .collect();
                    let answer = self
                        .share_filter(filter, filters[g].as_ref(), &shares)
                        .await?;
                    answers.push((g, answer));
                }
                Ok(answers)
            })
            .await?;
        let mut results: Vec<Vec<Answer>> = vec![Vec::new(); groups.len()];
        for (g, answers) in done.into_iter().flatten() {
            results[g] = answers;
        }
        Ok(scatter(&groups, results, out))
    }

    /// The owner a filter was given to when Airlock wrote it (its journal): `None` if
    /// Airlock did not write it; the migration's account for a filter without an owner.
    async fn journaled_owner(&self, filter: &str, me: &str) -> Result<Option<String>, TargetError> {
        Ok(self
            .journaled_locator(Kind::Filter, filter)
            .await?
            .map(|loc| match s(&loc, "owner") {
                "" => me.to_owned(),
                owner => owner.to_owned(),
            }))
    }

    /// One filter's shares. Only a filter's owner may share it: the migration's account
    /// holds the filter while adding them, then gives it back.
    async fn share_filter(
        &self,
        filter: &str,
        current: Option<&Value>,
        shares: &[(&Record, &FilterShare)],
    ) -> Result<Vec<Answer>, TargetError> {
        let all = |e: ItemError| Ok(vec![Err(e); shares.len()]);
        let Some(current) = current else {
            return all(item(
                "invalid-reference",
                "filter: the site has no filter with this id",
            ));
        };
        let current = current
            .pointer("/owner/accountId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let me = self.myself().await?;
        let owner = self
            .journaled_owner(filter, &me)
            .await?
            .unwrap_or_else(|| current.clone());
        if current != me
            && let Err(why) = self.set_filter_owner(filter, &me).await?
        {
            return all(item(
                why.code,
                format!(
                    "only a filter's owner may share it, and Jira refused to let the \
                     migration's account hold it ({})",
                    why.message
                ),
            ));
        }
        let mut answers = Vec::with_capacity(shares.len());
        for (record, share) in shares {
            answers.push(self.share(record, share).await?);
        }
        if !owner.is_empty()
            && owner != me
            && let Err(why) = self.set_filter_owner(filter, &owner).await?
        {
            for a in answers.iter_mut().filter(|a| a.is_ok()) {
                *a = Err(item(
                    why.code,
                    format!(
                        "the share was added, but Jira refused to give the filter back to its \
                         owner, so it is owned by the migration's account: set its owner in \
                         Jira ({})",
                        why.message
                    ),
                ));
            }
        }
        Ok(answers)
    }

    /// `POST /rest/api/3/filter/{id}/permission`; Jira answers every share of the filter,
    /// the new one the newest that matches.
    async fn share(&self, record: &Record, f: &FilterShare) -> Result<Answer, TargetError> {
        let key = source_key(record);
        let loc = share_locator(f);
        if matches!(f.share, Share::Global | Share::LoggedIn) {
            // Cloud replaces a filter's shares with a global one: never drop them silently.
            let shares = self
                .get_filter(&f.filter)
                .await?
                .map(|filter| Self::shares_of(&filter))
                .unwrap_or_default();
            if let Some(id) = newest_share(&shares, &loc, |id| {
                self.claimed_by_other(Kind::FilterShare, &key, id)
            }) {
                self.claim(Kind::FilterShare, &key, &id);
                return Ok(Ok(id));
            }
            if !shares.is_empty() {
                return Ok(Err(item(
                    "rejected",
                    "Jira Cloud drops a filter's other shares when it is shared with every \
                     user or the public, and this filter has some: share it so in Jira if it \
                     should be",
                )));
            }
        }
        let mut body = json!({
            "type": f.share.type_name(),
            "rights": if f.edit { 3 } else { 1 },
        });
        match &f.share {
            Share::Group(group) => body["groupname"] = json!(group),
            Share::Project { project, role } => {
                body["projectId"] = json!(project);
                if let Some(role) = role {
                    body["projectRoleId"] = json!(role);
                }
            }
            Share::User(account) => body["accountId"] = json!(account),
            Share::Global | Share::LoggedIn => {}
        }
        let path = RestPath::at("/rest/api/3/filter")
            .seg(&f.filter)
            .map_err(|e| TargetError::Invalid(format!("a filter id {e}")))?
            .fixed("permission")
            .build();
        let req = Req::post("POST /rest/api/3/filter/{id}/permission", path, body);
        let created = self
            .http
            .create(&req, async || self.lookup_share(&loc, &key).await)
            .await?;
        let id = match created {
            Created::Done(reply) => newest_share(as_list(&reply.body), &loc, |_| false)
                .ok_or_else(|| TargetError::Http {
                    call: req.name.to_owned(),
                    status: reply.status,
                    message: "the answer does not list the new share".into(),
                })?,
            Created::Found(id) => id,
            Created::Refused(reply) => return Ok(Err(refusal(&reply))),
        };
        self.claim(Kind::FilterShare, &key, &id);
        Ok(Ok(id))
    }

    /// Gives the filters the migration's account still holds (a batch of shares stopped
    /// before giving them back) to the owners their journal names.
    pub(crate) async fn settle_owners(&self, filters: &[String]) -> Result<(), TargetError> {
        if filters.is_empty() {
            return Ok(());
        }
        let me = self.myself().await?;
        for filter in filters {
            let Some(owner) = self.journaled_owner(filter, &me).await? else {
                continue;
            };
            if owner == me {
                continue;
            }
            let Some(current) = self.get_filter(filter).await? else {
                continue;
            };
            if current.pointer("/owner/accountId").and_then(Value::as_str) != Some(me.as_str()) {
                continue;
            }
            if let Err(why) = self.set_filter_owner(filter, &owner).await? {
                // Not one record's answer: the log says it (a cloud id, no customer data).
                tracing::warn!(
                    filter = %filter,
                    code = why.code,
                    "a filter held to share it could not be given back to its owner: set its \
                     owner in Jira"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locator(share: Share) -> Value {
        share_locator(&FilterShare {
            id: "1".into(),
            filter: "10000".into(),
            share,
            edit: false,
        })
    }

    #[test]
    fn shares_match_as_jira_answers_them() {
        let role = locator(Share::Project {
            project: "10001".into(),
            role: Some("10002".into()),
        });
        let project = locator(Share::Project {
            project: "10001".into(),
            role: None,
        });
        // A role's share comes back as `project` with a `role`; a project's without one.
        let answered_role = json!({ "id": 7, "type": "project",
            "project": { "id": "10001" }, "role": { "id": 10002 } });
        let answered_project = json!({ "id": 8, "type": "project", "project": { "id": "10001" } });
        assert!(share_matches(&answered_role, &role));
        assert!(!share_matches(&answered_role, &project));
        assert!(share_matches(&answered_project, &project));
        assert!(!share_matches(&answered_project, &role));
        // `authenticated` comes back as `loggedin`; groups compare without case.
        let loggedin = json!({ "id": 9, "type": "loggedin" });
        assert!(share_matches(&loggedin, &locator(Share::LoggedIn)));
        assert!(!share_matches(&loggedin, &locator(Share::Global)));
        let group = json!({ "id": 3, "type": "group", "group": { "name": "Team" } });
        assert!(share_matches(&group, &locator(Share::Group("team".into()))));
        // The newest of several matches, and none another record has.
        let list = [
            group.clone(),
            json!({ "id": 11, "type": "group", "group": { "name": "team" } }),
        ];
        let team = locator(Share::Group("team".into()));
        assert_eq!(newest_share(&list, &team, |_| false).as_deref(), Some("11"));
        assert_eq!(
            newest_share(&list, &team, |id| id == "11").as_deref(),
            Some("3")
        );
    }

    #[test]
    fn a_filters_digest_is_its_query_and_description() {
        let f = |jql: &str, description: &str| Filter {
            id: "1".into(),
            name: "Board".into(),
            description: description.into(),
            owner: String::new(),
            jql: jql.into(),
            favourites: 0,
        };
        let digest = filter_digest(&f("project = 1", "mine"));
        assert_eq!(
            digest,
            answered_digest(&json!({ "jql": "project = 1", "description": "mine" }))
        );
        assert_ne!(digest, filter_digest(&f("project = 1", "yours")));
        // The separator keeps the two fields apart.
        assert_ne!(filter_digest(&f("ab", "c")), filter_digest(&f("a", "bc")));
    }
}
