//! Named constants.

#![allow(clippy::result_large_err)]

use super::*;

pub(super) fn constant(v: &Value, detail: &str, what: &str) -> Result<Constant, Response<Body>> {
    let name = text(v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("name", &format!("The {what} name must not be empty.")))?;
    Ok(Constant {
        id: name.to_lowercase(),
        name: name.to_owned(),
        description: text(v, "/description").unwrap_or("").to_owned(),
        detail: detail.to_owned(),
    })
}

pub(super) fn issue_type_json(row: &Row) -> Value {
    let subtask = int(row, "subtask") == Some(1);
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "subtask": subtask,
        "hierarchyLevel": if subtask { -1 } else { 0 },
    })
}

pub(super) async fn list_issue_types(State(st): S) -> Reply {
    let r = st.reader();
    let types: Vec<Value> = r
        .rows("SELECT * FROM issue_types ORDER BY id", &[])
        .iter()
        .map(issue_type_json)
        .collect();
    Ok(json(StatusCode::OK, Value::Array(types)))
}

pub(super) async fn create_issue_type(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let subtask = text(&v, "/type") == Some("subtask")
        || v.get("hierarchyLevel").and_then(Value::as_i64) == Some(-1);
    let c = constant(&v, if subtask { "jira_subtask" } else { "" }, "issue type")?;
    let mut site = st.site();
    let id = put_record(&mut site, Record::IssueType(c))?.map_err(|e| {
        if e.code == "duplicate-key" {
            error(
                StatusCode::CONFLICT,
                "An issue type with this name already exists.",
            )
        } else {
            refused("name", &e)
        }
    })?;
    let r = st.reader();
    let row = r
        .row("SELECT * FROM issue_types WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, issue_type_json(&row)))
}

pub(super) fn category(key: &str) -> (&'static str, &'static str) {
    match key {
        "done" | "3" => ("done", "DONE"),
        "indeterminate" | "4" => ("indeterminate", "IN_PROGRESS"),
        _ => ("new", "TODO"),
    }
}

pub(super) fn status_json(row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "description": s(row, "description"),
        "statusCategory": category(&s(row, "category")).1,
        "scope": { "type": "GLOBAL" },
    })
}

pub(super) async fn create_statuses(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let list = v
        .get("statuses")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("statuses", "At least one status is required."))?;
    let mut records = Vec::with_capacity(list.len());
    for item in list {
        let cat = match text(item, "/statusCategory") {
            Some("DONE") => "done",
            Some("IN_PROGRESS") => "indeterminate",
            Some("TODO") => "new",
            _ => {
                return Err(bad(
                    "statusCategory",
                    "A valid status category is required.",
                ));
            }
        };
        records.push(Record::Status(constant(item, cat, "status")?));
    }
    let mut site = st.site();
    let mut created = Vec::new();
    for record in records {
        let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
        created.push(id);
    }
    let r = st.reader();
    let out: Vec<Value> = created
        .iter()
        .filter_map(|id| r.row("SELECT * FROM statuses WHERE id = ?1", &[id]))
        .map(|row| status_json(&row))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(out)))
}

pub(super) async fn search_statuses(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let needle = q.get("searchString").map(|n| n.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM statuses ORDER BY id", &[])
        .iter()
        .filter(|row| {
            needle
                .as_ref()
                .is_none_or(|n| s(row, "name").to_lowercase().contains(n))
        })
        .map(status_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) fn named_json(row: &Row) -> Value {
    json!({ "id": s(row, "id"), "name": s(row, "name"), "description": s(row, "description") })
}

pub(super) async fn create_priority(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let c = constant(&v, "", "priority")?;
    if text(&v, "/statusColor").is_none_or(|c| !c.starts_with('#')) {
        return Err(bad("statusColor", "The status color is required."));
    }
    let mut site = st.site();
    let id = put_record(&mut site, Record::Priority(c))?.map_err(|e| refused("name", &e))?;
    Ok(json(StatusCode::CREATED, json!({ "id": id })))
}

pub(super) async fn search_priorities(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let name = q.get("priorityName").map(|n| n.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM priorities ORDER BY id", &[])
        .iter()
        .filter(|row| {
            name.as_ref()
                .is_none_or(|n| s(row, "name").to_lowercase().contains(n))
        })
        .map(named_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) async fn create_resolution(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let c = constant(&v, "", "resolution")?;
    let mut site = st.site();
    let id = put_record(&mut site, Record::Resolution(c))?.map_err(|e| refused("name", &e))?;
    Ok(json(StatusCode::CREATED, json!({ "id": id })))
}

pub(super) async fn search_resolutions(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM resolutions ORDER BY id", &[])
        .iter()
        .map(named_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) fn link_type_json(base: &str, row: &Row) -> Value {
    json!({
        "id": s(row, "id"),
        "name": s(row, "name"),
        "inward": s(row, "inward"),
        "outward": s(row, "outward"),
        "self": format!("{base}/rest/api/3/issueLinkType/{}", s(row, "id")),
    })
}

pub(super) async fn list_link_types(State(st): S) -> Reply {
    let r = st.reader();
    let list: Vec<Value> = r
        .rows("SELECT * FROM issue_link_types ORDER BY id", &[])
        .iter()
        .map(|row| link_type_json(&st.base, row))
        .collect();
    Ok(json(StatusCode::OK, json!({ "issueLinkTypes": list })))
}

pub(super) async fn create_link_type(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name").unwrap_or("");
    let record = Record::IssueLinkType(IssueLinkType {
        id: name.to_lowercase(),
        name: name.to_owned(),
        inward: text(&v, "/inward").unwrap_or("").to_owned(),
        outward: text(&v, "/outward").unwrap_or("").to_owned(),
    });
    let mut site = st.site();
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let r = st.reader();
    let row = r
        .row("SELECT * FROM issue_link_types WHERE id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, link_type_json(&st.base, &row)))
}
