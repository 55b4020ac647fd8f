//! Jira Software: boards and sprints through Jira Software's REST API
//! (`/rest/agile/1.0`), issues into their sprints and into their rank order; what that API
//! cannot write carried in properties (a board's columns, swimlanes and quick filters,
//! issues' closed sprints and source ranks). How each is found again after a crash is in
//! the module doc of `cloud.rs`.

use std::collections::{BTreeSet, HashMap, HashSet};

use airlock_model::jira::{
    Board, BoardColumn, BoardQuery, CardColor, CardField, ColumnStatus, IssueRank, IssueSprint,
    Kind, Record, Sprint, SprintState,
};
use serde_json::{Value, json};

use super::find::{as_list, s};
use super::history::{Carried, Holder, Shape, answers, split_change_id};
use super::http::{Reply, Req};
use super::sharing::{Groups, MAX_PROPERTY_CHARS, chars, group_by, scatter, wrong_kind};
use super::write::{Answer, bad_segment, created_id, iso, number_or_text, refusal, text};
use super::{
    Api, CARD_COLORS_PROPERTY, CARD_FIELDS_PROPERTY, COLUMNS_PROPERTY, QUICK_FILTERS_PROPERTY,
    RANK_PROPERTY, RestPath, SOURCE_PROPERTY, SPRINTS_PROPERTY, SWIMLANES_PROPERTY, check_segment,
    item,
};
use crate::{ItemError, TargetError, source_key};

/// Jira Software's limit on issues per call (moving issues to a sprint, ranking them).
pub(crate) const AGILE_ISSUES: usize = 50;
/// Jira Software's largest page.
const AGILE_PAGE: usize = 50;

/// A board's columns, each with its statuses.
pub(crate) const COLUMNS: Shape = Shape {
    key: COLUMNS_PROPERTY,
    list: "columns",
    children: Some("statuses"),
    owner: "board",
    noun: "columns",
    orphan: "the status's column is not in the board's airlock.columns properties (its \
             column was not written)",
};

pub(crate) const SWIMLANES: Shape = Shape {
    key: SWIMLANES_PROPERTY,
    list: "swimlanes",
    children: None,
    owner: "board",
    noun: "swimlanes",
    orphan: "",
};

pub(crate) const QUICK_FILTERS: Shape = Shape {
    key: QUICK_FILTERS_PROPERTY,
    list: "quickFilters",
    children: None,
    owner: "board",
    noun: "quick filters",
    orphan: "",
};

pub(crate) const CARD_FIELDS: Shape = Shape {
    key: CARD_FIELDS_PROPERTY,
    list: "cardFields",
    children: None,
    owner: "board",
    noun: "card fields",
    orphan: "",
};

pub(crate) const CARD_COLORS: Shape = Shape {
    key: CARD_COLORS_PROPERTY,
    list: "cardColors",
    children: None,
    owner: "board",
    noun: "card colours",
    orphan: "",
};

/// The issues Airlock ranked, by their source rank: where the next ones go.
#[derive(Default)]
pub(crate) struct Ranked {
    /// (source rank, issue id).
    order: BTreeSet<(String, String)>,
    /// Issue id → its source rank.
    of: HashMap<String, String>,
}

impl Ranked {
    fn insert(&mut self, issue: &str, rank: &str) {
        if let Some(old) = self.of.insert(issue.to_owned(), rank.to_owned()) {
            self.order.remove(&(old, issue.to_owned()));
        }
        self.order.insert((rank.to_owned(), issue.to_owned()));
    }

    fn remove(&mut self, issue: &str) {
        if let Some(old) = self.of.remove(issue) {
            self.order.remove(&(old, issue.to_owned()));
        }
    }
}

fn board_type(b: &Board) -> &'static str {
    if b.sprints_enabled { "scrum" } else { "kanban" }
}

/// A board's natural key (its name, filter and type), and what its `airlock.source`
/// property carries besides its source key (what Cloud's API cannot set).
pub(crate) fn board_locator(b: &Board) -> Value {
    json!({
        "name": b.name,
        "filter": b.filter,
        "type": board_type(b),
        "owner": b.owner,
        "kanbanBacklog": b.kanban_backlog,
        "swimlaneStrategy": b.swimlane_strategy,
    })
}

/// A board's `airlock.source` value: its source key, and its owner (account id), Kanban
/// backlog and swimlane strategy, which Cloud's API cannot set.
fn board_source(key: &str, loc: &Value) -> Value {
    json!({
        "key": key,
        "owner": loc.get("owner").cloned().unwrap_or(Value::Null),
        "kanbanBacklog": loc.get("kanbanBacklog").cloned().unwrap_or(Value::Null),
        "swimlaneStrategy": loc.get("swimlaneStrategy").cloned().unwrap_or(Value::Null),
    })
}

/// A sprint's natural key (its board, name and dates), and the state it must reach.
pub(crate) fn sprint_locator(s: &Sprint) -> Value {
    json!({
        "board": s.board,
        "name": s.name,
        "start": s.start,
        "end": s.end,
        "state": s.state.as_str(),
    })
}

fn parse_state(state: &str) -> Option<SprintState> {
    match state {
        "future" => Some(SprintState::Future),
        "active" => Some(SprintState::Active),
        "closed" => Some(SprintState::Closed),
        _ => None,
    }
}

/// A state's place in a sprint's life: future, then active, then closed.
fn step(state: SprintState) -> u8 {
    match state {
        SprintState::Future => 0,
        SprintState::Active => 1,
        SprintState::Closed => 2,
    }
}

fn column_entry(c: &BoardColumn) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "position": c.position,
        "min": c.min,
        "max": c.max,
        "statuses": [],
    })
}

fn status_entry(c: &ColumnStatus) -> Value {
    json!({ "id": c.id, "status": c.status, "position": c.position })
}

fn query_entry(q: &BoardQuery) -> Value {
    json!({
        "id": q.id,
        "name": q.name,
        "description": q.description,
        "jql": q.jql,
        "position": q.position,
    })
}

fn card_field_entry(f: &CardField) -> Value {
    json!({
        "id": f.id,
        "field": f.field.key(),
        "mode": f.mode.as_str(),
        "position": f.position,
    })
}

fn card_color_entry(c: &CardColor) -> Value {
    let (strategy, value) = c.value.parts();
    json!({
        "id": c.id,
        "strategy": strategy,
        "value": value,
        "color": c.color,
        "position": c.position,
    })
}

/// Epoch millis from a Jira date-time (`2023-01-02T09:00:00.000+0000`, `…Z`, `…+10:00`).
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let (date, clock) = s.split_once('T')?;
    let mut ymd = date.split('-');
    let year: i32 = ymd.next()?.parse().ok()?;
    let month: u8 = ymd.next()?.parse().ok()?;
    let day: u8 = ymd.next()?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let (clock, offset) = match clock.find(['+', '-', 'Z']) {
        Some(i) => clock.split_at(i),
        None => (clock, ""),
    };
    let mut hms = clock.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next().unwrap_or("0").parse().ok()?;
    let sec: f64 = hms.next().unwrap_or("0").parse().ok()?;
    let mut ms = date.midnight().assume_utc().unix_timestamp() * 1000
        + h * 3_600_000
        + m * 60_000
        + (sec * 1000.0).round() as i64;
    let offset = offset.trim_start_matches('Z').replace(':', "");
    if offset.len() == 5 {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let oh: i64 = offset[1..3].parse().ok()?;
        let om: i64 = offset[3..5].parse().ok()?;
        ms -= sign * (oh * 3_600_000 + om * 60_000);
    }
    Some(ms)
}

/// Whether a sprint's date as Jira answers it is the one sent (to the minute: Jira may
/// keep less than milliseconds).
fn same_date(answered: Option<&Value>, sent: Option<i64>) -> bool {
    let answered = answered.and_then(Value::as_str).and_then(parse_datetime);
    match (answered, sent) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() < 60_000,
        _ => false,
    }
}

/// A board id as a path segment, or why it cannot be one.
fn board_segment(board: &str) -> Result<String, ItemError> {
    check_segment(board)
        .map(|()| board.to_owned())
        .map_err(|e| bad_segment("the board id", e))
}

/// Issues in a sprint's call, at most [`AGILE_ISSUES`].
fn issues_body(issues: &[&str]) -> Value {
    json!({ "issues": issues })
}

impl Api {
    /// Every item of a Jira Software list (`values` + `isLast`), page by page; `None` if
    /// Jira refuses the list (an unknown board, a board without sprints).
    async fn agile_list(
        &self,
        name: &'static str,
        path: RestPath,
    ) -> Result<Option<Vec<Value>>, TargetError> {
        let mut out = Vec::new();
        loop {
            let page = path
                .clone()
                .query("startAt", &out.len().to_string())
                .query("maxResults", &AGILE_PAGE.to_string())
                .build();
            let reply = self.http.call(&Req::get(name, page)).await?;
            if matches!(reply.status, 400 | 404) && out.is_empty() {
                return Ok(None);
            }
            if !reply.ok() {
                return Err(reply.error(name));
            }
            let items = reply.body.get("values").map_or(&[][..], as_list).to_vec();
            let last = reply
                .body
                .get("isLast")
                .and_then(Value::as_bool)
                .unwrap_or(items.len() < AGILE_PAGE);
            let empty = items.is_empty();
            out.extend(items);
            if last || empty {
                return Ok(Some(out));
            }
        }
    }

    /// Boards: those of one natural key one after another (a lost create is looked up by
    /// it, and must not take a board another record of the batch is creating), the others
    /// in parallel.
    pub(crate) async fn write_boards(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups = group_by(records, &mut out, |r| match r {
            Record::Board(b) => Ok(format!("{}\u{0}{}\u{0}{}", b.name, b.filter, board_type(b))),
            other => Err(wrong_kind(other, Kind::Board)),
        });
        let results = self
            .each(&groups, async |(_, members): &(String, Vec<usize>)| {
                let mut answers = Vec::with_capacity(members.len());
                for &i in members {
                    let Record::Board(b) = &records[i] else {
                        unreachable!("grouped by kind")
                    };
                    answers.push(self.board(&records[i], b).await?);
                }
                Ok(answers)
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// `POST /rest/agile/1.0/board` (the caller becomes its administrator), then the
    /// board's `airlock.source` property: its source key, and what Cloud cannot set.
    async fn board(&self, record: &Record, b: &Board) -> Result<Answer, TargetError> {
        let body = json!({
            "name": b.name,
            "type": board_type(b),
            "filterId": number_or_text(&b.filter),
        });
        let req = Req::post(
            "POST /rest/agile/1.0/board",
            "/rest/agile/1.0/board".into(),
            body,
        );
        let id = match self.create(Kind::Board, record, req, &["id"]).await? {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        let reply = self
            .put_board_source(&id, &source_key(record), &board_locator(b))
            .await?;
        Ok(if reply.ok() {
            Ok(id)
        } else {
            Err(refusal(&reply))
        })
    }

    async fn put_board_source(
        &self,
        board: &str,
        key: &str,
        loc: &Value,
    ) -> Result<Reply, TargetError> {
        let (path, _, put) = Holder::Board(board).property(SOURCE_PROPERTY)?;
        self.http
            .call(&Req::put(put, path, board_source(key, loc)))
            .await
    }

    /// The source key in a board's `airlock.source` property, if it has one.
    async fn board_source_key(&self, board: &str) -> Result<Option<String>, TargetError> {
        let (path, get, _) = Holder::Board(board).property(SOURCE_PROPERTY)?;
        Ok(self.get_json(get, path).await?.and_then(|p| {
            p.pointer("/value/key")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }))
    }

    /// A board by its natural key (`GET /rest/agile/1.0/board?name=&filterId=`): the one
    /// whose `airlock.source` names this record, else one without that property (created
    /// before a crash and not marked yet: it is marked now), not taken by another record.
    pub(crate) async fn lookup_board(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let name = s(loc, "name");
        let filter = loc.get("filter").and_then(text).unwrap_or_default();
        let path = RestPath::at("/rest/agile/1.0/board")
            .query("name", name)
            .query("filterId", &filter);
        let Some(boards) = self.agile_list("GET /rest/agile/1.0/board", path).await? else {
            return Ok(None);
        };
        let mut unmarked: Option<String> = None;
        for board in boards {
            let Some(id) = board.get("id").and_then(text) else {
                continue;
            };
            if board.get("name").and_then(Value::as_str) != Some(name)
                || board.get("type").and_then(Value::as_str) != Some(s(loc, "type"))
                || self.claimed_by_other(Kind::Board, source, &id)
            {
                continue;
            }
            match self.board_source_key(&id).await? {
                Some(k) if k == source => return Ok(Some(id)),
                Some(_) => {}
                None => {
                    unmarked.get_or_insert(id);
                }
            }
        }
        let Some(id) = unmarked else {
            return Ok(None);
        };
        let reply = self.put_board_source(&id, source, loc).await?;
        if !reply.ok() {
            return Err(reply.error("PUT /rest/agile/1.0/board/{id}/properties/{key}"));
        }
        Ok(Some(id))
    }

    /// Sprints: a board's one after another in their order (Cloud lists a board's sprints
    /// in creation order), boards in parallel.
    pub(crate) async fn write_sprints(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups = group_by(records, &mut out, |r| match r {
            Record::Sprint(s) => board_segment(&s.board),
            other => Err(wrong_kind(other, Kind::Sprint)),
        });
        let results = self
            .each(&groups, async |(_, members): &(String, Vec<usize>)| {
                let mut order: Vec<(usize, usize)> = members.iter().copied().enumerate().collect();
                order.sort_by_key(|&(n, i)| match &records[i] {
                    Record::Sprint(s) => (s.sequence.unwrap_or(i64::MAX), n),
                    _ => (i64::MAX, n),
                });
                let mut answers: Vec<Option<Answer>> = vec![None; members.len()];
                for (n, i) in order {
                    let Record::Sprint(s) = &records[i] else {
                        unreachable!("grouped by kind")
                    };
                    answers[n] = Some(self.sprint(&records[i], s).await?);
                }
                Ok(answers.into_iter().map(|a| a.expect("answered")).collect())
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// `POST /rest/agile/1.0/sprint` (a future sprint), then the state changes Cloud allows
    /// (`POST /rest/agile/1.0/sprint/{id}`: started with its dates, then closed).
    async fn sprint(&self, record: &Record, s: &Sprint) -> Result<Answer, TargetError> {
        if s.state != SprintState::Future && (s.start.is_none() || s.end.is_none()) {
            return Ok(Err(item(
                "invalid-value",
                "start and end: Jira Cloud starts a sprint only with a start and an end date, \
                 and this sprint was started or closed without one",
            )));
        }
        let key = source_key(record);
        let loc = sprint_locator(s);
        // Found earlier (by `find_written`) but not brought to its state: that one.
        let found = self.state().unsettled.remove(&key);
        let id = match found {
            Some(id) => id,
            None => {
                let mut body = json!({
                    "name": s.name,
                    "originBoardId": number_or_text(&s.board),
                });
                if !s.goal.is_empty() {
                    body["goal"] = json!(s.goal);
                }
                if let Some(start) = s.start {
                    body["startDate"] = json!(iso(start));
                }
                if let Some(end) = s.end {
                    body["endDate"] = json!(iso(end));
                }
                let req = Req::post(
                    "POST /rest/agile/1.0/sprint",
                    "/rest/agile/1.0/sprint".into(),
                    body,
                );
                let created = self
                    .http
                    .create(&req, async || {
                        Ok(self.find_sprint(&loc, &key).await?.map(|(id, _)| id))
                    })
                    .await?;
                match created_id(created, req.name, &["id"])? {
                    Ok(id) => id,
                    Err(refused) => return Ok(Err(refused)),
                }
            }
        };
        self.claim(Kind::Sprint, &key, &id);
        Ok(self
            .settle_sprint(&id, s.state, s.start, s.end)
            .await?
            .map(|()| id))
    }

    /// Brings a sprint to `target` one step at a time (future → active → closed), from
    /// the state Jira answers: a step repeated after its answer was lost is not sent again.
    async fn settle_sprint(
        &self,
        id: &str,
        target: SprintState,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Result<(), ItemError>, TargetError> {
        let path = RestPath::at("/rest/agile/1.0/sprint")
            .seg(id)
            .map_err(|e| TargetError::Invalid(format!("a sprint id {e}")))?
            .build();
        // The last refusal, and the state it was refused in.
        let mut refused: Option<(SprintState, ItemError)> = None;
        for _ in 0..6 {
            let Some(sprint) = self
                .get_json("GET /rest/agile/1.0/sprint/{id}", path.clone())
                .await?
            else {
                return Ok(Err(item(
                    "invalid-reference",
                    "the sprint is not on the site",
                )));
            };
            let state = sprint
                .get("state")
                .and_then(Value::as_str)
                .and_then(parse_state)
                .ok_or_else(|| TargetError::Http {
                    call: "GET /rest/agile/1.0/sprint/{id}".into(),
                    status: 200,
                    message: "the sprint's state is not future, active or closed".into(),
                })?;
            self.state()
                .sprints
                .insert(id.to_owned(), state.as_str().to_owned());
            if step(state) >= step(target) {
                return Ok(Ok(()));
            }
            // Refused, and the state did not move.
            if let Some((at, e)) = refused.take()
                && at == state
            {
                return Ok(Err(e));
            }
            let body = match state {
                SprintState::Future => json!({
                    "state": "active",
                    "startDate": start.map(iso),
                    "endDate": end.map(iso),
                }),
                _ => json!({ "state": "closed" }),
            };
            // Repeated after a failure that may have been applied: Jira may refuse the
            // repeat, and the state read again says whether the step was taken.
            let req =
                Req::post("POST /rest/agile/1.0/sprint/{id}", path.clone(), body).idempotent();
            let reply = self.http.call(&req).await?;
            if !reply.ok() {
                refused = Some((state, refusal(&reply)));
            }
        }
        Ok(Err(refused.map(|(_, e)| e).unwrap_or_else(|| {
            item("rejected", "the sprint did not reach its state")
        })))
    }

    /// A sprint of the board with this name and these dates, not taken by another record:
    /// its id and state.
    pub(crate) async fn find_sprint(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<(String, String)>, TargetError> {
        let Ok(path) = RestPath::at("/rest/agile/1.0/board").seg(s(loc, "board")) else {
            return Ok(None);
        };
        let Some(sprints) = self
            .agile_list(
                "GET /rest/agile/1.0/board/{id}/sprint",
                path.fixed("sprint"),
            )
            .await?
        else {
            return Ok(None);
        };
        let start = loc.get("start").and_then(Value::as_i64);
        let end = loc.get("end").and_then(Value::as_i64);
        Ok(sprints
            .iter()
            .filter(|sp| {
                sp.get("name").and_then(Value::as_str) == Some(s(loc, "name"))
                    && same_date(sp.get("startDate"), start)
                    && same_date(sp.get("endDate"), end)
            })
            .filter_map(|sp| {
                let id = sp.get("id").and_then(text)?;
                let state = sp.get("state").and_then(Value::as_str).unwrap_or("");
                Some((id, state.to_owned()))
            })
            .find(|(id, _)| !self.claimed_by_other(Kind::Sprint, source, id)))
    }

    /// A sprint written before a crash: found, and brought to its state. One found that
    /// cannot be is left for the write (which answers why), never created again.
    pub(crate) async fn lookup_sprint(
        &self,
        loc: &Value,
        source: &str,
    ) -> Result<Option<String>, TargetError> {
        let Some((id, _)) = self.find_sprint(loc, source).await? else {
            return Ok(None);
        };
        let target = parse_state(s(loc, "state")).unwrap_or(SprintState::Future);
        let start = loc.get("start").and_then(Value::as_i64);
        let end = loc.get("end").and_then(Value::as_i64);
        match self.settle_sprint(&id, target, start, end).await? {
            Ok(()) => Ok(Some(id)),
            Err(_) => {
                self.state().unsettled.insert(source.to_owned(), id);
                Ok(None)
            }
        }
    }

    /// The board (cloud id) and the column (source id) of a column status: from its
    /// column's answer (`<board>:<column>`), or the column's journal entry when the
    /// reference is the column's source id.
    fn column_of(&self, column: &str) -> Result<(String, String), ItemError> {
        if let Some((board, col)) = split_change_id(column) {
            return Ok((board.to_owned(), col.to_owned()));
        }
        match self
            .journaled_id(Kind::BoardColumn, column)
            .as_deref()
            .and_then(split_change_id)
        {
            Some((board, col)) => Ok((board.to_owned(), col.to_owned())),
            None => Err(item(
                "invalid-reference",
                "the status's column was not written to Jira Cloud (columns are carried in \
                 their board's airlock.columns property)",
            )),
        }
    }

    /// Columns, column statuses, swimlanes or quick filters, in their boards' properties:
    /// one read, merge and write per board, boards in parallel. Each is answered
    /// `<board>:<source id>`, which is how a column's statuses find its board.
    pub(crate) async fn write_board_lists(
        &self,
        kind: Kind,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let shape: &'static Shape = match kind {
            Kind::BoardColumn | Kind::ColumnStatus => &COLUMNS,
            Kind::Swimlane => &SWIMLANES,
            Kind::CardField => &CARD_FIELDS,
            Kind::CardColor => &CARD_COLORS,
            _ => &QUICK_FILTERS,
        };
        if kind == Kind::ColumnStatus {
            self.load_journal(Kind::BoardColumn).await?;
        }
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups = group_by(records, &mut out, |r| match (kind, r) {
            (Kind::BoardColumn, Record::BoardColumn(c)) => board_segment(&c.board),
            (Kind::ColumnStatus, Record::ColumnStatus(c)) => {
                let (board, _) = self.column_of(&c.column)?;
                board_segment(&board)
            }
            (Kind::Swimlane, Record::Swimlane(q)) | (Kind::QuickFilter, Record::QuickFilter(q)) => {
                board_segment(&q.board)
            }
            (Kind::CardField, Record::CardField(f)) => board_segment(&f.board),
            (Kind::CardColor, Record::CardColor(c)) => board_segment(&c.board),
            (_, other) => Err(wrong_kind(other, kind)),
        });
        let results = self
            .each(&groups, async |(board, members): &(String, Vec<usize>)| {
                self.merge_board_list(board, shape, records, members).await
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// Adds the records to the board's list (by source id: a rerun adds nothing).
    async fn merge_board_list(
        &self,
        board: &str,
        shape: &'static Shape,
        records: &[Record],
        members: &[usize],
    ) -> Result<Vec<Answer>, TargetError> {
        let holder = Holder::Board(board);
        let mut carried: Carried = match self.read_carried(holder, shape).await? {
            Ok(c) => c,
            Err(e) => return Ok(vec![Err(e); members.len()]),
        };
        let mut placed = Vec::with_capacity(members.len());
        for &i in members {
            let answer = |id: &str| format!("{board}:{id}");
            placed.push(match &records[i] {
                Record::BoardColumn(c) => carried
                    .add_entry(&c.id, column_entry(c), "column")
                    .map(|p| (answer(&c.id), p)),
                Record::ColumnStatus(c) => {
                    let (_, column) = self.column_of(&c.column).expect("grouped by it");
                    carried
                        .add_child(&column, &c.id, status_entry(c), "column's status")
                        .map(|p| (answer(&c.id), p))
                }
                Record::Swimlane(q) => carried
                    .add_entry(&q.id, query_entry(q), "swimlane")
                    .map(|p| (answer(&q.id), p)),
                Record::QuickFilter(q) => carried
                    .add_entry(&q.id, query_entry(q), "quick filter")
                    .map(|p| (answer(&q.id), p)),
                Record::CardField(f) => carried
                    .add_entry(&f.id, card_field_entry(f), "card field")
                    .map(|p| (answer(&f.id), p)),
                Record::CardColor(c) => carried
                    .add_entry(&c.id, card_color_entry(c), "card colour")
                    .map(|p| (answer(&c.id), p)),
                _ => unreachable!("grouped by kind"),
            });
        }
        let stored = self.store_carried(holder, &carried).await?;
        Ok(answers(placed, &stored))
    }

    /// Each sprint's state (`GET /rest/agile/1.0/sprint/{id}`, once per client); `None`
    /// for one the site does not have.
    async fn sprint_states(
        &self,
        sprints: &[String],
    ) -> Result<HashMap<String, Option<String>>, TargetError> {
        let unknown: Vec<String> = {
            let state = self.state();
            sprints
                .iter()
                .filter(|s| !state.sprints.contains_key(*s))
                .cloned()
                .collect()
        };
        let read = self
            .each(&unknown, async |sprint: &String| {
                let Ok(path) = RestPath::at("/rest/agile/1.0/sprint").seg(sprint) else {
                    return Ok(None);
                };
                Ok(self
                    .get_json("GET /rest/agile/1.0/sprint/{id}", path.build())
                    .await?
                    .and_then(|s| s.get("state").and_then(Value::as_str).map(str::to_owned)))
            })
            .await?;
        let mut state = self.state();
        for (sprint, s) in unknown.iter().zip(read) {
            if let Some(s) = s {
                state.sprints.insert(sprint.clone(), s);
            }
        }
        Ok(sprints
            .iter()
            .map(|s| (s.clone(), state.sprints.get(s).cloned()))
            .collect())
    }

    /// Issues into their sprints: into a future or active one with
    /// `POST /rest/agile/1.0/sprint/{id}/issue` (≤ 50 a call; adding twice is harmless);
    /// Cloud adds none to a closed sprint, whose ids go to the issue's
    /// [`SPRINTS_PROPERTY`] instead (merged: a rerun adds nothing).
    pub(crate) async fn write_issue_sprints(
        &self,
        records: &[Record],
    ) -> Result<Vec<Answer>, TargetError> {
        let mut sprints: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                Record::IssueSprint(x) => Some(x.sprint.clone()),
                _ => None,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        sprints.sort_unstable();
        let states = self.sprint_states(&sprints).await?;
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups = group_by(records, &mut out, |r| match r {
            Record::IssueSprint(x) => {
                check_segment(&x.issue).map_err(|e| bad_segment("the issue id", e))?;
                check_segment(&x.sprint).map_err(|e| bad_segment("the sprint id", e))?;
                match states.get(&x.sprint).cloned().flatten().as_deref() {
                    None => Err(item("invalid-reference", "the sprint is not on the site")),
                    Some("closed") => Ok(format!("closed:{}", x.issue)),
                    Some(_) => Ok(format!("open:{}", x.sprint)),
                }
            }
            other => Err(wrong_kind(other, Kind::IssueSprint)),
        });
        let results = self
            .each(&groups, async |(key, members): &(String, Vec<usize>)| {
                let picked: Vec<&IssueSprint> = members
                    .iter()
                    .map(|&i| match &records[i] {
                        Record::IssueSprint(x) => x,
                        _ => unreachable!("grouped by kind"),
                    })
                    .collect();
                match key.split_once(':') {
                    Some(("open", sprint)) => self.move_to_sprint(sprint, &picked).await,
                    Some((_, issue)) => self.merge_closed_sprints(issue, &picked).await,
                    None => unreachable!("keyed above"),
                }
            })
            .await?;
        Ok(scatter(&groups, results, out))
    }

    /// `POST /rest/agile/1.0/sprint/{id}/issue`, 50 issues a call; a call refused is sent
    /// again issue by issue, to learn which one Jira refuses.
    async fn move_to_sprint(
        &self,
        sprint: &str,
        records: &[&IssueSprint],
    ) -> Result<Vec<Answer>, TargetError> {
        let path = RestPath::at("/rest/agile/1.0/sprint")
            .seg(sprint)
            .map_err(|e| TargetError::Invalid(format!("a sprint id {e}")))?
            .fixed("issue")
            .build();
        let send = async |issues: &[&str]| -> Result<Reply, TargetError> {
            // Moving an issue to the sprint it is in changes nothing.
            let req = Req::post(
                "POST /rest/agile/1.0/sprint/{id}/issue",
                path.clone(),
                issues_body(issues),
            )
            .idempotent();
            self.http.call(&req).await
        };
        let mut answers = Vec::with_capacity(records.len());
        for chunk in records.chunks(AGILE_ISSUES) {
            let issues: Vec<&str> = chunk.iter().map(|r| r.issue.as_str()).collect();
            let reply = send(&issues).await?;
            if reply.ok() {
                answers.extend(chunk.iter().map(|_| Ok(String::new())));
                continue;
            }
            if chunk.len() == 1 {
                answers.push(Err(refusal(&reply)));
                continue;
            }
            for issue in issues {
                let reply = send(&[issue]).await?;
                answers.push(if reply.ok() {
                    Ok(String::new())
                } else {
                    Err(refusal(&reply))
                });
            }
        }
        Ok(answers)
    }

    /// Adds closed sprints' ids to the issue's [`SPRINTS_PROPERTY`] (a JSON array of sprint
    /// ids; a set: a rerun adds nothing).
    async fn merge_closed_sprints(
        &self,
        issue: &str,
        records: &[&IssueSprint],
    ) -> Result<Vec<Answer>, TargetError> {
        let (path, get, put) = Holder::Issue(issue).property(SPRINTS_PROPERTY)?;
        let reply = self.http.call(&Req::get(get, path.clone())).await?;
        let mut ids: Vec<Value> = if reply.status == 404 {
            // None yet (or no such issue: the PUT says so).
            Vec::new()
        } else if !reply.ok() {
            return Ok(vec![Err(refusal(&reply)); records.len()]);
        } else {
            match reply.body.get("value").and_then(Value::as_array) {
                Some(list) => list.clone(),
                None => {
                    let e = item(
                        "rejected",
                        format!(
                            "the issue's {SPRINTS_PROPERTY} property is not in Airlock's shape \
                             (an array of sprint ids); it was left as it is"
                        ),
                    );
                    return Ok(vec![Err(e); records.len()]);
                }
            }
        };
        let mut known: HashSet<String> = ids.iter().filter_map(text).collect();
        let mut size = chars(&Value::Array(ids.clone()));
        let mut answers: Vec<Answer> = Vec::with_capacity(records.len());
        let mut added: Vec<usize> = Vec::new();
        for r in records {
            if known.contains(&r.sprint) {
                answers.push(Ok(String::new()));
                continue;
            }
            let id = number_or_text(&r.sprint);
            let grows = chars(&id) + usize::from(!ids.is_empty());
            if size + grows > MAX_PROPERTY_CHARS {
                answers.push(Err(item(
                    "too-large",
                    format!(
                        "the issue's closed sprints would pass Jira Cloud's limit of \
                         {MAX_PROPERTY_CHARS} characters per property value"
                    ),
                )));
                continue;
            }
            size += grows;
            known.insert(r.sprint.clone());
            ids.push(id);
            added.push(answers.len());
            answers.push(Ok(String::new()));
        }
        if added.is_empty() {
            return Ok(answers);
        }
        let reply = self
            .http
            .call(&Req::put(put, path, Value::Array(ids)))
            .await?;
        if !reply.ok() {
            let e = refusal(&reply);
            for i in added {
                answers[i] = Err(e.clone());
            }
        }
        Ok(answers)
    }

    /// The issues Airlock ranked before (their [`RANK_PROPERTY`], by JQL), once per client.
    async fn load_ranks(&self) -> Result<(), TargetError> {
        if self.state().ranks.is_some() {
            return Ok(());
        }
        let mut ranked = Ranked::default();
        self.search_each(
            &format!("issue.property[{RANK_PROPERTY}].rank is not EMPTY"),
            &[RANK_PROPERTY],
            |issue| {
                let rank = issue
                    .pointer("/properties")
                    .and_then(|p| p.get(RANK_PROPERTY))
                    .and_then(|v| v.get("rank"))
                    .and_then(Value::as_str);
                if let (Some(id), Some(rank)) = (issue.get("id").and_then(text), rank) {
                    ranked.insert(&id, rank);
                }
            },
        )
        .await?;
        let mut state = self.state();
        if state.ranks.is_none() {
            state.ranks = Some(ranked);
        }
        Ok(())
    }

    /// Issues' ranks. Cloud gives every issue a rank of its own and cannot take another
    /// one: each issue's source rank goes to its [`RANK_PROPERTY`]
    /// (`{"rank": …, "field": …}`), and the issues are moved into the source's order
    /// (`PUT /rest/agile/1.0/issue/rank`, ≤ 50 a call) among those Airlock ranked before,
    /// whatever batch they came in: each run of new issues between two ranked ones goes
    /// after the one before it (or before the one after it).
    pub(crate) async fn write_ranks(&self, records: &[Record]) -> Result<Vec<Answer>, TargetError> {
        let mut out: Vec<Option<Answer>> = vec![None; records.len()];
        let groups: Groups = group_by(records, &mut out, |r| match r {
            Record::IssueRank(x) => check_segment(&x.issue)
                .map(|()| x.issue.clone())
                .map_err(|e| bad_segment("the issue id", e)),
            other => Err(wrong_kind(other, Kind::IssueRank)),
        });
        self.load_ranks().await?;
        // An issue's last record is its rank (Cloud has one rank per issue).
        let last = |members: &[usize]| -> &IssueRank {
            match &records[*members.last().expect("a group has members")] {
                Record::IssueRank(x) => x,
                _ => unreachable!("grouped by kind"),
            }
        };
        let carried = self
            .each(&groups, async |(issue, members): &(String, Vec<usize>)| {
                let r = last(members);
                let (path, _, put) = Holder::Issue(issue).property(RANK_PROPERTY)?;
                let value = json!({ "rank": r.rank, "field": r.field });
                let reply = self.http.call(&Req::put(put, path, value)).await?;
                Ok(if reply.ok() {
                    Ok(())
                } else {
                    Err(refusal(&reply))
                })
            })
            .await?;
        // The runs of new issues, each with where it goes.
        let mut ranked: Vec<(String, String, usize)> = Vec::new();
        for (g, ((issue, members), stored)) in groups.iter().zip(&carried).enumerate() {
            if stored.is_ok() {
                ranked.push((last(members).rank.clone(), issue.clone(), g));
            }
        }
        ranked.sort();
        let runs = {
            let mut state = self.state();
            let order = state.ranks.get_or_insert_with(Ranked::default);
            for (_, issue, _) in &ranked {
                order.remove(issue);
            }
            let mut runs: Vec<Run> = Vec::new();
            for (rank, issue, g) in &ranked {
                let here: (String, String) = (rank.clone(), issue.clone());
                let before = order
                    .order
                    .range::<(String, String), _>(..&here)
                    .next_back()
                    .map(|(_, i)| i.clone());
                match runs.last_mut() {
                    Some(run) if run.after == before => run.issues.push((issue.clone(), *g)),
                    _ => runs.push(Run {
                        after: before,
                        until: order
                            .order
                            .range::<(String, String), _>(&here..)
                            .next()
                            .map(|(_, i)| i.clone()),
                        issues: vec![(issue.clone(), *g)],
                    }),
                }
            }
            runs
        };
        let moved = self
            .each(&runs, async |run: &Run| self.rank_run(run).await)
            .await?;
        let mut rank_answers: HashMap<usize, Result<(), ItemError>> = HashMap::new();
        for (run, answers) in runs.iter().zip(moved) {
            for ((_, g), a) in run.issues.iter().zip(answers) {
                rank_answers.insert(*g, a);
            }
        }
        {
            let mut state = self.state();
            let order = state.ranks.get_or_insert_with(Ranked::default);
            for (rank, issue, _) in &ranked {
                order.insert(issue, rank);
            }
        }
        let results: Vec<Vec<Answer>> = groups
            .iter()
            .zip(carried)
            .enumerate()
            .map(|(g, ((_, members), stored))| {
                let answer = stored
                    .and_then(|()| rank_answers.remove(&g).unwrap_or(Ok(())))
                    .map(|()| String::new());
                vec![answer; members.len()]
            })
            .collect();
        Ok(scatter(&groups, results, out))
    }

    /// Moves a run of issues into place, 50 a call, each call after the last issue placed.
    async fn rank_run(&self, run: &Run) -> Result<Vec<Result<(), ItemError>>, TargetError> {
        let mut answers: Vec<Result<(), ItemError>> = Vec::with_capacity(run.issues.len());
        let issues: Vec<&str> = run.issues.iter().map(|(i, _)| i.as_str()).collect();
        // Where the next chunk goes: after an issue, or before one.
        let (mut anchor, mut after, rest) = match (&run.after, &run.until) {
            (Some(a), _) => (a.as_str(), true, &issues[..]),
            (None, Some(b)) => (b.as_str(), false, &issues[..]),
            // Nothing ranked yet: the first issue stays where it is, the rest follow it.
            (None, None) => {
                answers.push(Ok(()));
                (issues[0], true, &issues[1..])
            }
        };
        for chunk in rest.chunks(AGILE_ISSUES) {
            let field = if after {
                "rankAfterIssue"
            } else {
                "rankBeforeIssue"
            };
            let mut body = json!({ "issues": chunk });
            body[field] = json!(anchor);
            let req = Req::put(
                "PUT /rest/agile/1.0/issue/rank",
                "/rest/agile/1.0/issue/rank".into(),
                body,
            );
            let reply = self.http.call(&req).await?;
            let failed = rank_failures(&reply);
            let mut placed = None;
            for issue in chunk {
                let answer = match &failed {
                    Err(e) => Err(e.clone()),
                    Ok(failed) => match failed.get(*issue) {
                        Some(e) => Err(e.clone()),
                        None => {
                            placed = Some(*issue);
                            Ok(())
                        }
                    },
                };
                answers.push(answer);
            }
            if let Some(issue) = placed {
                (anchor, after) = (issue, true);
            }
        }
        Ok(answers)
    }
}

/// New issues that go together: after `after` (else before `until`), in this order.
struct Run {
    after: Option<String>,
    until: Option<String>,
    /// Issue ids, and their groups in the batch.
    issues: Vec<(String, usize)>,
}

/// The issues a rank call refused, by id (Jira answers 207 with an entry per issue when
/// only some moved), or the call's refusal when none did.
fn rank_failures(reply: &Reply) -> Result<HashMap<String, ItemError>, ItemError> {
    if reply.status == 207 {
        let mut failed = HashMap::new();
        for e in reply.body.get("entries").map_or(&[][..], as_list) {
            let status = e.get("status").and_then(Value::as_u64).unwrap_or(200) as u16;
            if (200..300).contains(&status) {
                continue;
            }
            let Some(id) = e.get("issueId").and_then(text) else {
                continue;
            };
            let errors: Vec<&str> = e
                .get("errors")
                .map_or(&[][..], as_list)
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let message = if errors.is_empty() {
                format!("Jira answered {status}")
            } else {
                format!("Jira answered {status}: {}", errors.join("; "))
            };
            failed.insert(id, item("rejected", message));
        }
        return Ok(failed);
    }
    if reply.ok() {
        Ok(HashMap::new())
    } else {
        Err(refusal(reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_date_times_parse_in_every_offset_form() {
        let ms = 1_409_679_768_053;
        assert_eq!(parse_datetime(&iso(ms)), Some(ms));
        assert_eq!(parse_datetime("2014-09-02T19:42:48.053+02:00"), Some(ms));
        assert_eq!(parse_datetime("2014-09-02T17:42:48.053Z"), Some(ms));
        assert_eq!(parse_datetime("2014-09-02"), None);
        assert!(same_date(
            Some(&json!("2014-09-02T17:42:48.000+0000")),
            Some(ms)
        ));
        assert!(!same_date(
            Some(&json!("2014-09-02T17:44:48.000+0000")),
            Some(ms)
        ));
        assert!(same_date(None, None));
        assert!(!same_date(None, Some(ms)));
    }

    #[test]
    fn a_columns_statuses_go_under_it_and_on_in_later_parts() {
        let column = |id: &str| BoardColumn {
            id: id.into(),
            board: "1".into(),
            name: format!("Column {id}"),
            position: 0,
            min: None,
            max: Some(5),
        };
        let status = |id: &str, column: &str| ColumnStatus {
            id: id.into(),
            column: column.into(),
            status: "x".repeat(5_000),
            position: 1,
        };
        let mut c = Carried::new(&COLUMNS, vec![Vec::new()], 0);
        let first = column("1");
        assert_eq!(
            c.add_entry("1", column_entry(&first), "column").unwrap(),
            Some(0)
        );
        assert_eq!(
            c.add_entry("1", column_entry(&first), "column").unwrap(),
            None
        );
        // 5,000 characters a status: the sixth goes on in the second part.
        let parts: Vec<Option<usize>> = (0..8)
            .map(|n| {
                let s = status(&n.to_string(), "1");
                c.add_child("1", &s.id, status_entry(&s), "column's status")
                    .unwrap()
            })
            .collect();
        assert_eq!(parts[0], Some(0));
        assert_eq!(parts[7], Some(1));
        let again = status("3", "1");
        assert_eq!(
            c.add_child("1", &again.id, status_entry(&again), "column's status")
                .unwrap(),
            None
        );
        let e = c
            .add_child("2", "9", status_entry(&status("9", "2")), "column's status")
            .unwrap_err();
        assert_eq!(e.code, "invalid-reference");
        assert!(e.message.contains("airlock.columns"), "{e}");
        assert_eq!(COLUMNS.part_key(1), "airlock.columns.2");
        let mut tally = super::super::history::Tally::default();
        tally.add(
            &COLUMNS,
            &[json!({ "id": "1", "statuses": [{ "id": "a" }, { "id": "b" }] })],
        );
        assert_eq!(tally.counts(), (1, 2));
        assert!(
            SWIMLANES
                .read_part(&json!({ "swimlanes": [{ "id": "1" }] }))
                .is_some()
        );
        assert!(
            QUICK_FILTERS
                .read_part(&json!({ "swimlanes": [] }))
                .is_none()
        );
    }

    #[test]
    fn rank_failures_read_partial_answers() {
        let reply = Reply {
            status: 207,
            body: json!({ "entries": [
                { "issueId": 10001, "status": 200 },
                { "issueId": 10002, "status": 404, "errors": ["Issue does not exist"] },
            ]}),
        };
        let failed = rank_failures(&reply).unwrap();
        assert_eq!(failed.len(), 1);
        assert!(failed["10002"].message.contains("does not exist"));
        let all = Reply {
            status: 400,
            body: json!({ "errorMessages": ["Bad anchor"] }),
        };
        assert!(rank_failures(&all).is_err());
    }
}
