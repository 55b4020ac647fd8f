//! Entity properties.

#![allow(clippy::result_large_err)]

use super::*;

/// Checks a property's key and JSON value as Cloud does.
pub(super) fn property_value(key: &str, body: &Bytes) -> Result<String, Response<Body>> {
    if key.is_empty() || key.chars().count() > MAX_PROPERTY_KEY {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The property key cannot be longer than 255 characters.",
        ));
    }
    let value = std::str::from_utf8(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "The property value must be valid JSON.",
        )
    })?;
    if value.chars().count() > MAX_PROPERTY_VALUE {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The property value cannot be longer than 32768 characters.",
        ));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(value).is_err() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The property value must be valid JSON.",
        ));
    }
    Ok(value.to_owned())
}

/// Stores an entity property: an app's if the request names one, else the site's own.
/// Cloud has one set of keys per entity whoever writes: a `PUT` of `airlock.source` on an
/// issue, comment or worklog replaces the source key the double keeps for it (its `key`,
/// or none if the value has no string `key`), app or not.
pub(super) fn store_property(
    st: &Shared,
    entity: EntityKind,
    entity_id: String,
    key: String,
    value: String,
    headers: &HeaderMap,
) -> Reply {
    let app = headers
        .get(APP_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let name = match entity {
        EntityKind::Issue => "issue",
        EntityKind::Project => "project",
        EntityKind::User => "user",
        EntityKind::Comment => "comment",
        EntityKind::Worklog => "worklog",
    };
    let mut site = st.site();
    if key == SOURCE_PROPERTY
        && let Some(kind) = match entity {
            EntityKind::Issue => Some(Kind::Issue),
            EntityKind::Comment => Some(Kind::Comment),
            EntityKind::Worklog => Some(Kind::Worklog),
            EntityKind::Project | EntityKind::User => None,
        }
    {
        let source = serde_json::from_str::<Value>(&value)
            .ok()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned));
        site.set_source_key(kind, &entity_id, source.as_deref())
            .map_err(|_| error(StatusCode::BAD_REQUEST, "The property was refused."))?;
        return Ok(StatusCode::OK.into_response());
    }
    let r = st.reader();
    let core = app.is_none()
        && matches!(
            entity,
            EntityKind::Issue | EntityKind::Project | EntityKind::User
        );
    let existed = if core {
        r.exists(
            "SELECT 1 FROM entity_properties WHERE entity_kind = ?1 AND entity_id = ?2 AND key = ?3",
            &[&name, &entity_id, &key],
        )
    } else {
        r.exists(
            "SELECT 1 FROM app_entity_properties WHERE app_key = ?1 AND entity_kind = ?2
             AND entity_id = ?3 AND key = ?4",
            &[&app.as_deref().unwrap_or("jira"), &name, &entity_id, &key],
        )
    };
    if core {
        let entity_name = match entity {
            EntityKind::Issue => "IssueProperty",
            EntityKind::Project => "ProjectProperty",
            _ => "UserProperty",
        };
        let record = Record::EntityProperty(EntityProperty {
            id: format!("{name}/{entity_id}/{key}"),
            entity_name: entity_name.into(),
            entity_id,
            key,
            value,
        });
        put_record(&mut site, record)?.map_err(|e| refused("value", &e))?;
    } else {
        let app = AppKey::new(app.unwrap_or_else(|| "jira".into()));
        let output = AppOutput::EntityProperty {
            entity,
            entity_id,
            key,
            value,
        };
        site.put_app_outputs_as_given(&app, &[output])
            .map_err(|_| error(StatusCode::BAD_REQUEST, "The property was refused."))?;
    }
    Ok(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
    .into_response())
}

pub(super) fn read_property(r: &Reader, entity: &str, entity_id: &str, key: &str) -> Option<Value> {
    let row = r
        .row(
            "SELECT value FROM entity_properties WHERE entity_kind = ?1 AND entity_id = ?2 AND key = ?3",
            &[&entity, &entity_id, &key],
        )
        .or_else(|| {
            r.row(
                "SELECT value FROM app_entity_properties WHERE entity_kind = ?1 AND entity_id = ?2
                 AND key = ?3",
                &[&entity, &entity_id, &key],
            )
        })?;
    let value = serde_json::from_str(&s(&row, "value")).unwrap_or(Value::Null);
    Some(json!({ "key": key, "value": value }))
}

pub(super) async fn put_issue_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let issue = st.reader().issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    store_property(
        &st,
        EntityKind::Issue,
        issue.to_string(),
        key,
        value,
        &headers,
    )
}

pub(super) async fn get_issue_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    if key == SOURCE_PROPERTY {
        let row = r
            .row("SELECT source_key FROM issues WHERE id = ?1", &[&issue])
            .unwrap_or_default();
        return match opt(&row, "source_key").filter(|k| !k.starts_with(SYNTHETIC)) {
            Some(k) => Ok(json(
                StatusCode::OK,
                json!({ "key": key, "value": { "key": k } }),
            )),
            None => Err(not_found("The property was not found.")),
        };
    }
    read_property(&r, "issue", &issue.to_string(), &key)
        .map(|v| json(StatusCode::OK, v))
        .ok_or_else(|| not_found("The property was not found."))
}

pub(super) async fn put_project_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let project = st
        .reader()
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    store_property(
        &st,
        EntityKind::Project,
        project.to_string(),
        key,
        value,
        &headers,
    )
}

pub(super) async fn get_project_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
) -> Reply {
    let r = st.reader();
    let project = r
        .project_id(&id)
        .ok_or_else(|| not_found("No project could be found with this key or id."))?;
    read_property(&r, "project", &project.to_string(), &key)
        .map(|v| json(StatusCode::OK, v))
        .ok_or_else(|| not_found("The property was not found."))
}

pub(super) async fn put_user_property(
    State(st): S,
    Path(key): Path<String>,
    q: Q,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let account = q
        .get("accountId")
        .filter(|a| st.reader().user_exists(a))
        .cloned()
        .ok_or_else(|| not_found("The user does not exist."))?;
    store_property(&st, EntityKind::User, account, key, value, &headers)
}

pub(super) async fn get_user_property(State(st): S, Path(key): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let account = q.get("accountId").cloned().unwrap_or_default();
    read_property(&r, "user", &account, &key)
        .map(|v| json(StatusCode::OK, v))
        .ok_or_else(|| not_found("The property was not found."))
}

pub(super) async fn put_comment_property(
    State(st): S,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let comment: i64 = id
        .parse()
        .map_err(|_| not_found("The comment does not exist."))?;
    if !st
        .reader()
        .exists("SELECT 1 FROM comments WHERE id = ?1", &[&comment])
    {
        return Err(not_found("The comment does not exist."));
    }
    store_property(
        &st,
        EntityKind::Comment,
        comment.to_string(),
        key,
        value,
        &headers,
    )
}

pub(super) async fn put_worklog_property(
    State(st): S,
    Path((issue, worklog, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let r = st.reader();
    let issue = r.issue_id(&issue).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let worklog: i64 = worklog
        .parse()
        .map_err(|_| not_found("The worklog does not exist."))?;
    if !r.exists(
        "SELECT 1 FROM worklogs WHERE id = ?1 AND issue_id = ?2",
        &[&worklog, &issue],
    ) {
        return Err(not_found("The worklog does not exist."));
    }
    drop(r);
    store_property(
        &st,
        EntityKind::Worklog,
        worklog.to_string(),
        key,
        value,
        &headers,
    )
}
