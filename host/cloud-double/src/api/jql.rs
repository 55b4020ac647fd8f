//! JQL: only what Airlock asks, on the issue properties an app would index
//! (`airlock.source`'s `key`, `airlock.history`'s `parts`, `airlock.rank`'s `rank`,
//! `airlock.placeholder`'s `project`), and a project's issues latest first.

#![allow(clippy::result_large_err)]

use super::*;

/// The issue properties (other than `airlock.source`) whose values' fields are indexed:
/// Airlock's history (`parts`), rank (`rank`) and placeholders (`project`).
const INDEXED: [(&str, &str); 3] = [
    ("airlock.history", "parts"),
    ("airlock.rank", "rank"),
    ("airlock.placeholder", "project"),
];
/// Cloud answers at most this many issue properties per issue in a search.
const MAX_SEARCH_PROPERTIES: usize = 5;

pub(super) enum Jql {
    SourceIn(Vec<String>),
    SourceAny,
    /// `issue.property[<key>].<field> is not EMPTY`, for an [`INDEXED`] pair.
    PropertyAny {
        key: &'static str,
        field: &'static str,
    },
    /// `project = <id or key> ORDER BY key DESC`: a project's issues, latest first.
    Project(String),
}

pub(super) fn parse_jql(jql: &str) -> Result<Jql, String> {
    let lower = jql.to_lowercase();
    let clause = match lower.find(" order by ") {
        Some(i) => &jql[..i],
        None => jql,
    }
    .trim();
    if let Some(project) = clause
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("project"))
        .and_then(|_| clause[7..].trim().strip_prefix('='))
    {
        let order = lower.find(" order by ").map(|i| lower[i + 10..].trim());
        if order != Some("key desc") {
            return Err(
                "Error in the JQL Query: the double orders a project's issues by key DESC only."
                    .into(),
            );
        }
        return Ok(Jql::Project(project.trim().trim_matches('"').to_owned()));
    }
    for (key, field) in INDEXED {
        let path = format!("issue.property[{key}].{field}");
        if let Some(rest) = clause
            .get(..path.len())
            .filter(|p| p.eq_ignore_ascii_case(&path))
            .map(|_| clause[path.len()..].trim())
        {
            return if rest.eq_ignore_ascii_case("is not empty") {
                Ok(Jql::PropertyAny { key, field })
            } else {
                Err("Error in the JQL Query: expecting `is not EMPTY`.".into())
            };
        }
    }
    let prefix = format!("issue.property[{SOURCE_PROPERTY}].key");
    let rest = clause
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(&prefix))
        .map(|_| clause[prefix.len()..].trim())
        .ok_or_else(|| {
            "Error in the JQL Query: only issue.property[airlock.source].key, \
             issue.property[airlock.history].parts, issue.property[airlock.rank].rank and \
             issue.property[airlock.placeholder].project are indexed."
                .to_owned()
        })?;
    if rest.eq_ignore_ascii_case("is not empty") {
        return Ok(Jql::SourceAny);
    }
    let list = if let Some(v) = rest.strip_prefix('=') {
        v.trim()
    } else if rest.len() > 2 && rest[..2].eq_ignore_ascii_case("in") {
        rest[2..]
            .trim()
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or("Error in the JQL Query: expecting a list.")?
    } else {
        return Err("Error in the JQL Query: expecting an operator.".into());
    };
    let mut values = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some('"') => {
                let mut v = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => v.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => v.push(c),
                        None => return Err("Error in the JQL Query: unterminated string.".into()),
                    }
                }
                values.push(v);
            }
            Some(_) => return Err("Error in the JQL Query: expecting a quoted string.".into()),
        }
    }
    Ok(Jql::SourceIn(values))
}

pub(super) fn jql_ids(r: &Reader, jql: &Jql) -> Vec<Row> {
    match jql {
        // As Cloud's index: issues whose property has the field.
        Jql::PropertyAny { key, field } => r
            .rows(
                "SELECT i.id, i.key, i.source_key, p.value FROM entity_properties p
                 JOIN issues i ON p.entity_id = CAST(i.id AS TEXT)
                 WHERE p.entity_kind = 'issue' AND p.key = ?1 ORDER BY i.id",
                &[key],
            )
            .into_iter()
            .filter(|row| {
                serde_json::from_str::<Value>(&s(row, "value"))
                    .ok()
                    .and_then(|v| v.get(*field).cloned())
                    .is_some_and(|p| !p.is_null())
            })
            .collect(),
        Jql::Project(project) => match r.project_id(project) {
            Some(project) => r.rows(
                "SELECT id, key, source_key FROM issues WHERE project_id = ?1
                 ORDER BY number DESC",
                &[&project],
            ),
            None => Vec::new(),
        },
        Jql::SourceAny => r.rows(
            "SELECT id, key, source_key FROM issues WHERE source_key IS NOT NULL
             AND source_key NOT LIKE '~double/%' ORDER BY id",
            &[],
        ),
        Jql::SourceIn(keys) => {
            let mut out = Vec::new();
            for key in keys {
                out.extend(r.rows(
                    "SELECT id, key, source_key FROM issues WHERE source_key = ?1 ORDER BY id",
                    &[key],
                ));
            }
            out.sort_by_key(|row| int(row, "id"));
            out.dedup_by_key(|row| int(row, "id"));
            out
        }
    }
}

pub(super) async fn search_jql(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let jql = parse_jql(text(&v, "/jql").unwrap_or(""))
        .map_err(|m| error(StatusCode::BAD_REQUEST, &m))?;
    let start: usize = text(&v, "/nextPageToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = v
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 100) as usize;
    let properties: Vec<String> = v
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    if properties.len() > MAX_SEARCH_PROPERTIES {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "At most 5 issue properties can be requested.",
        ));
    }
    let r = st.reader();
    if let Jql::Project(p) = &jql
        && r.project_id(p).is_none()
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("The value '{p}' does not exist for the field 'project'."),
        ));
    }
    let rows = jql_ids(&r, &jql);
    let total = rows.len();
    let issues: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(size)
        .map(|row| {
            let id = s(row, "id");
            let mut i = json!({
                "id": id,
                "key": s(row, "key"),
                "self": format!("{}/rest/api/3/issue/{id}", st.base),
            });
            // The properties asked for that the issue has, by key.
            let mut found = serde_json::Map::new();
            for key in &properties {
                let value = if key == SOURCE_PROPERTY {
                    opt(row, "source_key")
                        .filter(|k| !k.starts_with(SYNTHETIC))
                        .map(|k| json!({ "key": k }))
                } else {
                    read_property(&r, "issue", &id, key).map(|p| p["value"].clone())
                };
                if let Some(value) = value {
                    found.insert(key.clone(), value);
                }
            }
            if !found.is_empty() {
                i["properties"] = Value::Object(found);
            }
            i
        })
        .collect();
    let end = start + issues.len();
    let mut out = json!({ "issues": issues, "isLast": end >= total });
    if end < total {
        out["nextPageToken"] = json!(end.to_string());
    }
    Ok(json(StatusCode::OK, out))
}

pub(super) async fn count_jql(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let jql = parse_jql(text(&v, "/jql").unwrap_or(""))
        .map_err(|m| error(StatusCode::BAD_REQUEST, &m))?;
    let count = jql_ids(&st.reader(), &jql).len();
    Ok(json(StatusCode::OK, json!({ "count": count })))
}
