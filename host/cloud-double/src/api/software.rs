//! Jira Software's REST API (`/rest/agile/1.0`): boards and their properties, sprints,
//! moving issues to sprints, ranking issues. Cloud's rules: a board needs a name, a type
//! (`scrum`, `kanban`) and a filter the site has; only scrum boards have sprints; a sprint
//! is created future and goes future → active → closed only, started with a start and an
//! end date, closed with the time it was closed; issues go to future and active sprints
//! only (moved: out of their other open sprint), at most 50 a call; issues are ranked 50 a
//! call before or after another issue.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{Board, IssueSprint, Sprint, SprintState};

use super::*;

/// Jira Software's largest page, and its limit on issues per call.
const AGILE_PAGE: usize = 50;
const AGILE_ISSUES: usize = 50;
/// Jira Software's limit on board and sprint names.
const MAX_NAME: usize = 255;
/// The room between two ranks the double hands out.
const RANK_GAP: i64 = 1 << 20;

const NO_BOARD: &str = "Board does not exist or you do not have permission to see it.";
const NO_SPRINT: &str = "Sprint does not exist or you do not have permission to see it.";
const NO_ISSUE: &str = "Issue does not exist or you do not have permission to see it.";

/// A Jira Software page: `values` from `startAt`, at most 50, and `isLast`.
fn agile_page(items: Vec<Value>, q: &HashMap<String, String>, total: bool) -> Value {
    let (start, size) = page(q, AGILE_PAGE);
    let count = items.len();
    let values: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let mut out = json!({
        "startAt": start,
        "maxResults": size,
        "isLast": start + values.len() >= count,
        "values": values,
    });
    if total {
        out["total"] = json!(count);
    }
    out
}

fn board_json(base: &str, row: &Row) -> Value {
    let id = int(row, "id").unwrap_or(0);
    json!({
        "id": id,
        "self": format!("{base}/rest/agile/1.0/board/{id}"),
        "name": s(row, "name"),
        "type": s(row, "type"),
    })
}

fn board_row(r: &Reader, id: &str) -> Result<Row, Response<Body>> {
    id.parse::<i64>()
        .ok()
        .and_then(|id| r.row("SELECT * FROM boards WHERE id = ?1", &[&id]))
        .ok_or_else(|| not_found(NO_BOARD))
}

fn sprint_json(base: &str, row: &Row) -> Value {
    let id = int(row, "id").unwrap_or(0);
    let mut v = json!({
        "id": id,
        "self": format!("{base}/rest/agile/1.0/sprint/{id}"),
        "state": s(row, "state"),
        "name": s(row, "name"),
        "originBoardId": int(row, "board_id"),
        "goal": s(row, "goal"),
    });
    for (col, field) in [
        ("start_date", "startDate"),
        ("end_date", "endDate"),
        ("complete_date", "completeDate"),
    ] {
        if let Some(ms) = int(row, col) {
            v[field] = json!(iso(ms));
        }
    }
    v
}

fn sprint_row(r: &Reader, id: &str) -> Result<Row, Response<Body>> {
    id.parse::<i64>()
        .ok()
        .and_then(|id| r.row("SELECT * FROM sprints WHERE id = ?1", &[&id]))
        .ok_or_else(|| not_found(NO_SPRINT))
}

fn failed(what: &str) -> impl Fn(rusqlite::Error) -> Response<Body> + '_ {
    move |e| {
        tracing::error!("the double could not {what}: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

/// A name Jira Software takes: not blank, at most 255 characters.
fn checked_name(v: &Value, what: &str) -> Result<String, Response<Body>> {
    let name = text(v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("name", &format!("The {what} name is required.")))?;
    if name.chars().count() > MAX_NAME {
        return Err(bad(
            "name",
            &format!("The {what} name must not be longer than {MAX_NAME} characters."),
        ));
    }
    Ok(name.to_owned())
}

/// A date-time of the body, if given; 400 if it is not one.
fn date_field(v: &Value, field: &str) -> Result<Option<i64>, Response<Body>> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(d)) => parse_date(d)
            .map(Some)
            .ok_or_else(|| bad(field, "The date is not a valid ISO 8601 date-time.")),
        Some(_) => Err(bad(field, "The date is not a valid ISO 8601 date-time.")),
    }
}

/// `POST /rest/agile/1.0/board` {name, type, filterId}: 201 with the board, which the
/// caller administers. 400 for a missing or long name, another type, an unknown filter.
pub(super) async fn create_board(State(st): S, headers: HeaderMap, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "board")?;
    let board_type = match text(&v, "/type") {
        Some(t @ ("scrum" | "kanban")) => t.to_owned(),
        _ => return Err(bad("type", "The board type must be scrum or kanban.")),
    };
    let filter = id_of(&v, "/filterId").ok_or_else(|| bad("filterId", "A filter is required."))?;
    let mut site = st.site();
    let r = st.reader();
    let known = filter
        .parse::<i64>()
        .ok()
        .is_some_and(|id| r.exists("SELECT 1 FROM filters WHERE id = ?1", &[&id]));
    if !known {
        return Err(bad(
            "filterId",
            "The filter does not exist or you do not have permission to see it.",
        ));
    }
    let owner = caller(&mut site, &r, &headers)?;
    let record = Record::Board(Board {
        id: st.synthetic_key("board"),
        name,
        owner: Some(owner),
        filter,
        sprints_enabled: board_type == "scrum",
        kanban_backlog: false,
        swimlane_strategy: "none".into(),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let row = board_row(&r, &id)?;
    Ok(json(StatusCode::CREATED, board_json(&st.base, &row)))
}

/// `GET /rest/agile/1.0/board`: `name` (a case-insensitive partial match), `type`,
/// `filterId`; by id, paged (at most 50).
pub(super) async fn list_boards(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let name = q.get("name").map(|n| n.to_lowercase());
    let values: Vec<Value> = r
        .rows("SELECT * FROM boards ORDER BY id", &[])
        .iter()
        .filter(|b| {
            name.as_ref()
                .is_none_or(|n| s(b, "name").to_lowercase().contains(n))
                && q.get("type").is_none_or(|t| s(b, "type") == *t)
                && q.get("filterId").is_none_or(|f| s(b, "filter_id") == *f)
        })
        .map(|b| board_json(&st.base, b))
        .collect();
    Ok(json(StatusCode::OK, agile_page(values, &q, true)))
}

pub(super) async fn get_board(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = board_row(&r, &id)?;
    Ok(json(StatusCode::OK, board_json(&st.base, &row)))
}

/// `PUT /rest/agile/1.0/board/{id}/properties/{key}`: 201 new, 200 replaced. A board's
/// `airlock.source` `key` is kept as the board's source key.
pub(super) async fn put_board_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    // Held so that no write of the site comes in between.
    let _site = st.site();
    let r = st.reader();
    let board = int(&board_row(&r, &id)?, "id").unwrap_or(0);
    let entity = board.to_string();
    let existed = r.exists(
        "SELECT 1 FROM entity_properties WHERE entity_kind = 'board' AND entity_id = ?1
         AND key = ?2",
        &[&entity, &key],
    );
    r.execute(
        "INSERT INTO entity_properties (entity_kind, entity_id, key, value) VALUES ('board', ?1, ?2, ?3)
         ON CONFLICT (entity_kind, entity_id, key) DO UPDATE SET value = excluded.value",
        &[&entity, &key, &value],
    )
    .map_err(failed("store a board property"))?;
    if key == SOURCE_PROPERTY {
        let source = serde_json::from_str::<Value>(&value)
            .ok()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| st.synthetic_key("board"));
        r.execute(
            "UPDATE boards SET source_key = ?1 WHERE id = ?2",
            &[&source, &board],
        )
        .map_err(failed("mark a board"))?;
    }
    Ok(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
    .into_response())
}

pub(super) async fn get_board_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
) -> Reply {
    let r = st.reader();
    let board = int(&board_row(&r, &id)?, "id").unwrap_or(0);
    read_property(&r, "board", &board.to_string(), &key)
        .map(|v| json(StatusCode::OK, v))
        .ok_or_else(|| not_found("The property was not found."))
}

/// `GET /rest/agile/1.0/board/{id}/properties`: `{"keys": [{key, self}]}`.
pub(super) async fn list_board_properties(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let board = int(&board_row(&r, &id)?, "id").unwrap_or(0);
    let keys: Vec<Value> = r
        .rows(
            "SELECT key FROM entity_properties WHERE entity_kind = 'board' AND entity_id = ?1
             ORDER BY key",
            &[&board.to_string()],
        )
        .iter()
        .map(|row| {
            let key = s(row, "key");
            json!({
                "self": format!("{}/rest/agile/1.0/board/{board}/properties/{key}", st.base),
                "key": key,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, json!({ "keys": keys })))
}

/// A scrum board's row; 400 for a Kanban board (no sprints), 404 for none.
fn scrum_board(r: &Reader, id: &str, field: &str) -> Result<Row, Response<Body>> {
    let row = board_row(r, id).map_err(|not_found| {
        if field.is_empty() {
            not_found
        } else {
            bad(field, NO_BOARD)
        }
    })?;
    if s(&row, "type") != "scrum" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The board does not support sprints.",
        ));
    }
    Ok(row)
}

/// `GET /rest/agile/1.0/board/{id}/sprint`: `state` (comma-separated); by id, paged.
pub(super) async fn list_board_sprints(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let board = int(&scrum_board(&r, &id, "")?, "id").unwrap_or(0);
    let states: Option<Vec<&str>> = q
        .get("state")
        .map(|s| s.split(',').map(str::trim).collect());
    let values: Vec<Value> = r
        .rows(
            "SELECT * FROM sprints WHERE board_id = ?1 ORDER BY id",
            &[&board],
        )
        .iter()
        .filter(|sp| {
            states
                .as_ref()
                .is_none_or(|states| states.contains(&s(sp, "state").as_str()))
        })
        .map(|sp| sprint_json(&st.base, sp))
        .collect();
    Ok(json(StatusCode::OK, agile_page(values, &q, false)))
}

/// A sprint's natural key, kept as its source key: a sprint created twice for one record
/// has the same board, name and dates.
fn sprint_key(board: i64, name: &str, start: Option<i64>, end: Option<i64>) -> String {
    let date = |d: Option<i64>| d.map(|d| d.to_string()).unwrap_or_default();
    format!("{board}/{name}/{}/{}", date(start), date(end))
}

/// `POST /rest/agile/1.0/sprint` {name, originBoardId, startDate, endDate, goal}: 201
/// with the new sprint, always future. 400 for a missing or long name, an unknown board,
/// a board without sprints, a date that is not one.
pub(super) async fn create_sprint(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = checked_name(&v, "sprint")?;
    let board =
        id_of(&v, "/originBoardId").ok_or_else(|| bad("originBoardId", "A board is required."))?;
    let start = date_field(&v, "startDate")?;
    let end = date_field(&v, "endDate")?;
    let goal = text(&v, "/goal").unwrap_or("").to_owned();
    let mut site = st.site();
    let r = st.reader();
    let board = int(&scrum_board(&r, &board, "originBoardId")?, "id").unwrap_or(0);
    let record = Record::Sprint(Sprint {
        id: sprint_key(board, &name, start, end),
        board: board.to_string(),
        name,
        goal,
        state: SprintState::Future,
        start,
        end,
        completed: None,
        sequence: None,
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let row = sprint_row(&r, &id)?;
    Ok(json(StatusCode::CREATED, sprint_json(&st.base, &row)))
}

pub(super) async fn get_sprint(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let row = sprint_row(&r, &id)?;
    Ok(json(StatusCode::OK, sprint_json(&st.base, &row)))
}

/// `POST /rest/agile/1.0/sprint/{id}`: a partial update (`name`, `goal`, `startDate`,
/// `endDate`, `state`). The state goes future → active (with a start and an end date, the
/// end not before the start) → closed (completed now), never back nor past a step.
pub(super) async fn update_sprint(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let _site = st.site();
    let r = st.reader();
    let row = sprint_row(&r, &id)?;
    let sprint = int(&row, "id").unwrap_or(0);
    let name = match v.get("name") {
        Some(_) => checked_name(&v, "sprint")?,
        None => s(&row, "name"),
    };
    let goal = text(&v, "/goal").map_or_else(|| s(&row, "goal"), str::to_owned);
    let start = date_field(&v, "startDate")?.or(int(&row, "start_date"));
    let end = date_field(&v, "endDate")?.or(int(&row, "end_date"));
    let was = s(&row, "state");
    let state = text(&v, "/state").unwrap_or(&was).to_owned();
    let mut completed = int(&row, "complete_date");
    match (was.as_str(), state.as_str()) {
        (a, b) if a == b => {}
        ("future", "active") => {
            let (Some(start), Some(end)) = (start, end) else {
                return Err(bad(
                    "startDate",
                    "A sprint must have a start date and an end date to be started.",
                ));
            };
            if end < start {
                return Err(bad("endDate", "The end date must be after the start date."));
            }
        }
        ("active", "closed") => completed = Some(now_ms()),
        (_, "future" | "active" | "closed") => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "A {was} sprint cannot become {state}: a sprint goes from future to \
                     active to closed."
                ),
            ));
        }
        _ => return Err(bad("state", "The state must be future, active or closed.")),
    }
    r.execute(
        "UPDATE sprints SET name = ?1, goal = ?2, start_date = ?3, end_date = ?4, state = ?5,
                            complete_date = ?6
         WHERE id = ?7",
        &[&name, &goal, &start, &end, &state, &completed, &sprint],
    )
    .map_err(failed("update a sprint"))?;
    let row = sprint_row(&r, &id)?;
    Ok(json(StatusCode::OK, sprint_json(&st.base, &row)))
}

/// The `issues` of a body (ids or keys), at most 50.
fn issue_list(v: &Value) -> Result<Vec<String>, Response<Body>> {
    let issues: Vec<String> = v
        .get("issues")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|i| id_of(i, "")).collect())
        .unwrap_or_default();
    if issues.is_empty() {
        return Err(bad("issues", "At least one issue is required."));
    }
    if issues.len() > AGILE_ISSUES {
        return Err(bad(
            "issues",
            &format!("At most {AGILE_ISSUES} issues can be given in one call."),
        ));
    }
    Ok(issues)
}

/// `POST /rest/agile/1.0/sprint/{id}/issue` {issues}: 204; each issue leaves its other
/// open sprint. 400 for a closed sprint or an unknown issue (nothing moves), 404 for an
/// unknown sprint.
pub(super) async fn move_to_sprint(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let issues = issue_list(&v)?;
    let mut site = st.site();
    let r = st.reader();
    let row = sprint_row(&r, &id)?;
    let sprint = int(&row, "id").unwrap_or(0);
    if s(&row, "state") == "closed" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Issues can only be moved to future or active sprints: this sprint is closed.",
        ));
    }
    let mut ids = Vec::with_capacity(issues.len());
    for issue in &issues {
        ids.push(
            r.issue_id(issue)
                .ok_or_else(|| error(StatusCode::BAD_REQUEST, &format!("{NO_ISSUE} ({issue})")))?,
        );
    }
    for issue in ids {
        r.execute(
            "DELETE FROM issue_sprints WHERE issue_id = ?1 AND sprint_id != ?2
             AND sprint_id IN (SELECT id FROM sprints WHERE state != 'closed')",
            &[&issue, &sprint],
        )
        .map_err(failed("move an issue out of its sprint"))?;
        let record = Record::IssueSprint(IssueSprint {
            id: format!("{issue}:{sprint}"),
            issue: issue.to_string(),
            sprint: sprint.to_string(),
        });
        put_record(&mut site, record)?.map_err(|e| refused("issues", &e))?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The rank the double hands out: a number, as fixed-width text (text order is rank order).
fn rank_text(n: i64) -> String {
    format!("0|{n:012}:")
}

fn rank_number(text: &str) -> i64 {
    text.trim_start_matches("0|")
        .trim_end_matches(':')
        .parse()
        .unwrap_or(0)
}

/// `PUT /rest/agile/1.0/issue/rank` {issues, rankBeforeIssue | rankAfterIssue}: 204 when
/// every issue moved, else 207 with an entry per issue. Every issue has a rank (those
/// the double has not ranked yet go last, in creation order, as Cloud ranks new issues).
pub(super) async fn rank_issues(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let issues = issue_list(&v)?;
    let (anchor, after) = match (id_of(&v, "/rankBeforeIssue"), id_of(&v, "/rankAfterIssue")) {
        (Some(b), None) => (b, false),
        (None, Some(a)) => (a, true),
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "Exactly one of rankBeforeIssue and rankAfterIssue must be given.",
            ));
        }
    };
    let _site = st.site();
    let r = st.reader();
    if let Some(field) = id_of(&v, "/rankCustomFieldId") {
        let rank_field = r
            .row(
                "SELECT type_key FROM fields WHERE id = ?1",
                &[&field.parse::<i64>().unwrap_or(-1)],
            )
            .is_some_and(|f| s(&f, "type_key").ends_with(":gh-lexo-rank"));
        if !rank_field {
            return Err(bad("rankCustomFieldId", "The field is not a rank field."));
        }
    }
    let anchor = r.issue_id(&anchor).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "The issue to rank against does not exist.",
        )
    })?;
    // Each issue: its id, or why it cannot move.
    let moving: Vec<(String, Moving)> = issues
        .iter()
        .map(|i| {
            let id = match r.issue_id(i) {
                None => Err((404, NO_ISSUE)),
                Some(id) if id == anchor => {
                    Err((400, "An issue cannot be ranked relative to itself."))
                }
                Some(id) => Ok(id),
            };
            (i.clone(), id)
        })
        .collect();
    let mut moved: Vec<i64> = moving.iter().filter_map(|(_, m)| (*m).ok()).collect();
    moved.dedup();
    r.transaction(|tx| {
        // Issues never ranked go last, in creation order.
        let mut last: i64 = tx
            .query_row(
                "SELECT rank FROM issue_ranks ORDER BY rank DESC LIMIT 1",
                [],
                |row| row.get::<_, String>(0),
            )
            .map(|t| rank_number(&t))
            .unwrap_or(0);
        let unranked: Vec<i64> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM issues WHERE id NOT IN (SELECT issue_id FROM issue_ranks)
                 ORDER BY id",
            )?;
            stmt.query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for issue in unranked {
            last += RANK_GAP;
            tx.execute(
                "INSERT INTO issue_ranks (issue_id, rank) VALUES (?1, ?2)",
                rusqlite::params![issue, rank_text(last)],
            )?;
        }
        let mut order: Vec<(i64, i64)> = {
            let mut stmt = tx.prepare("SELECT issue_id, rank FROM issue_ranks")?;
            stmt.query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    rank_number(&row.get::<_, String>(1)?),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        order.retain(|(issue, _)| !moved.contains(issue));
        order.sort_by_key(|&(issue, n)| (n, issue));
        let Some(at) = order.iter().position(|(issue, _)| *issue == anchor) else {
            return Ok(());
        };
        let at = if after { at + 1 } else { at };
        let k = moved.len() as i64;
        let low = if at == 0 { 0 } else { order[at - 1].1 };
        let high = order.get(at).map_or(low + RANK_GAP * (k + 1), |&(_, n)| n);
        let mut ranks: Vec<(i64, i64)> = Vec::new();
        if high - low > k {
            for (j, issue) in moved.iter().enumerate() {
                ranks.push((*issue, low + (high - low) * (j as i64 + 1) / (k + 1)));
            }
        } else {
            // No room: every issue ranked again, spaced out.
            let mut all: Vec<i64> = order.iter().map(|(issue, _)| *issue).collect();
            all.splice(at..at, moved.iter().copied());
            for (n, issue) in all.into_iter().enumerate() {
                ranks.push((issue, (n as i64 + 1) * RANK_GAP));
            }
        }
        for (issue, n) in ranks {
            tx.execute(
                "UPDATE issue_ranks SET rank = ?1 WHERE issue_id = ?2",
                rusqlite::params![rank_text(n), issue],
            )?;
        }
        Ok(())
    })
    .map_err(failed("rank issues"))?;
    if moving.iter().all(|(_, m)| m.is_ok()) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let entries: Vec<Value> = moving
        .iter()
        .map(|(given, m)| match m {
            Ok(id) => json!({ "issueId": id, "issueKey": key_of(&r, *id), "status": 200 }),
            Err((status, message)) => json!({
                "issueId": given.parse::<i64>().ok(),
                "issueKey": given,
                "status": status,
                "errors": [message],
            }),
        })
        .collect();
    Ok(json(
        StatusCode::MULTI_STATUS,
        json!({ "entries": entries }),
    ))
}

/// An issue a rank call moves: its id, or the status and message it is refused with.
type Moving = Result<i64, (u16, &'static str)>;

fn key_of(r: &Reader, issue: i64) -> String {
    r.row("SELECT key FROM issues WHERE id = ?1", &[&issue])
        .map(|row| s(&row, "key"))
        .unwrap_or_default()
}
