//! Issues.

#![allow(clippy::result_large_err)]

use super::*;

/// Validates an entity property given at create time: `(key, value as JSON text)`.
pub(super) fn create_property(p: &Value) -> Result<(String, String), String> {
    let key = text(p, "/key").unwrap_or("");
    if key.is_empty() || key.chars().count() > MAX_PROPERTY_KEY {
        return Err("The property key must be 1 to 255 characters.".into());
    }
    let value = p.get("value").cloned().unwrap_or(Value::Null);
    let value = value.to_string();
    if value.chars().count() > MAX_PROPERTY_VALUE {
        return Err("The property value cannot be longer than 32768 characters.".into());
    }
    Ok((key.to_owned(), value))
}

/// The properties of a create call: the source key (`airlock.source`) and the others.
#[allow(clippy::type_complexity)]
pub(super) fn create_properties(
    v: &Value,
) -> Result<(Option<String>, Vec<(String, String)>), String> {
    let mut source = None;
    let mut others = Vec::new();
    for p in v
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (key, value) = create_property(p)?;
        if key == SOURCE_PROPERTY {
            source = p
                .pointer("/value/key")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if source.as_deref().is_some_and(|s| s.starts_with(SYNTHETIC)) {
                return Err("The property value is reserved.".into());
            }
        } else {
            others.push((key, value));
        }
    }
    Ok((source, others))
}

/// One element of a bulk create, checked: the issue (number still 0) and its other
/// properties; or the fields in error.
#[allow(clippy::type_complexity)]
pub(super) fn issue_element(
    st: &Shared,
    r: &Reader,
    element: &Value,
) -> Result<(Issue, Vec<(String, String)>), Vec<(String, String)>> {
    let f = element.get("fields").cloned().unwrap_or(Value::Null);
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut e = |field: &str, message: &str| errors.push((field.into(), message.into()));
    let project = id_of(&f, "/project/id")
        .or_else(|| id_of(&f, "/project/key"))
        .and_then(|p| r.project_id(&p));
    if project.is_none() {
        e("project", "Specify a valid project ID or key");
    }
    let issue_type = id_of(&f, "/issuetype/id");
    match (project, &issue_type) {
        (_, None) => e("issuetype", "Specify an issue type"),
        // A project's issue type scheme of its own lists the types its issues may have
        // (Cloud's default lists every issue type of the site).
        (Some(project), Some(issue_type))
            if r.int(
                "SELECT scheme_id FROM project_schemes
                 WHERE project_id = ?1 AND scheme_type = 'issue-type'",
                &[&project],
            )
            .is_some_and(|scheme| {
                !r.exists(
                    "SELECT 1 FROM issue_type_scheme_types
                     WHERE scheme_id = ?1 AND issue_type_id = ?2",
                    &[&scheme, issue_type],
                )
            }) =>
        {
            e("issuetype", "The issue type selected is invalid.")
        }
        _ => {}
    }
    let summary = text(&f, "/summary").unwrap_or("").to_owned();
    if summary.trim().is_empty() {
        e("summary", "You must specify a summary of the issue.");
    }
    let description = match f.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(d) => match adf::to_text(d) {
            Some(t) => t,
            None => {
                e(
                    "description",
                    "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
                );
                String::new()
            }
        },
    };
    let account = |field: &str| id_of(&f, &format!("/{field}/accountId"));
    let due = match text(&f, "/duedate") {
        Some(d) => match parse_date(d) {
            Some(ms) => Some(ms),
            None => {
                e("duedate", "Error parsing date string");
                None
            }
        },
        None => None,
    };
    let estimate = |name: &str| text(&f, &format!("/timetracking/{name}")).and_then(parse_duration);
    // Whether the level is one of the project's scheme, the site checks on write.
    let security = match f.get("security") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let id = id_of(&f, "/security/id");
            if id.is_none() {
                e(
                    "security",
                    "Could not find valid 'id' or 'name' in security level object.",
                );
            }
            id
        }
    };
    let (source, others) = match create_properties(element) {
        Ok(p) => p,
        Err(m) => {
            e("properties", &m);
            (None, Vec::new())
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    // Jira Cloud opens an issue in its workflow's first status; the double takes the
    // one asked for (the client's simplification of transitions).
    let status = id_of(&f, "/status/id").unwrap_or_else(|| {
        r.int("SELECT MIN(id) FROM statuses", &[])
            .unwrap_or(0)
            .to_string()
    });
    let now = now_ms();
    let issue = Issue {
        id: source.unwrap_or_else(|| st.synthetic_key("issue")),
        project: project.unwrap_or(0).to_string(),
        number: 0,
        issue_type: issue_type.unwrap_or_default(),
        summary,
        description,
        priority: id_of(&f, "/priority/id"),
        status,
        resolution: id_of(&f, "/resolution/id"),
        reporter: account("reporter"),
        assignee: account("assignee"),
        created: now,
        updated: now,
        due,
        resolved: None,
        original_estimate: estimate("originalEstimate"),
        estimate: estimate("remainingEstimate"),
        time_spent: None,
        security,
    };
    Ok((issue, others))
}

/// A bulk element that passed the double's checks: its number, the issue, its other
/// properties.
pub(super) type ValidIssue = (usize, Issue, Vec<(String, String)>);

pub(super) fn element_error(n: usize, errors: &[(String, String)]) -> Value {
    let map: serde_json::Map<String, Value> =
        errors.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "status": 400,
        "failedElementNumber": n,
        "elementErrors": { "errorMessages": [], "errors": map },
    })
}

/// Which field an item error of the site names, for Jira's `errors` map.
pub(super) fn site_field(message: &str) -> &'static str {
    let m = message.to_lowercase();
    for (needle, field) in [
        // First: its messages name the project too.
        ("security level", "security"),
        ("issue type", "issuetype"),
        ("status", "status"),
        ("priority", "priority"),
        ("resolution", "resolution"),
        ("reporter", "reporter"),
        ("assignee", "assignee"),
        ("summary", "summary"),
        ("description", "description"),
        ("project", "project"),
    ] {
        if m.contains(needle) {
            return field;
        }
    }
    "issue"
}

pub(super) async fn create_issues(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let elements = v
        .get("issueUpdates")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("issueUpdates", "Specify at least one issue to create."))?;
    if elements.len() > BULK_ISSUES {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Bulk create is limited to 50 issues per request.",
        ));
    }
    let mut site = st.site();
    let r = st.reader();
    let mut errors: Vec<Value> = Vec::new();
    let mut valid: Vec<ValidIssue> = Vec::new();
    for (n, element) in elements.iter().enumerate() {
        match issue_element(&st, &r, element) {
            Ok((issue, others)) => valid.push((n, issue, others)),
            Err(e) => errors.push(element_error(n, &e)),
        }
    }
    // Cloud numbers issues itself, in element order: each project's counter, which never
    // goes back (a deleted issue's number is not given again). An issue the site refuses
    // is refused before it is numbered, as in Jira: the next one takes the number. So
    // the site stores them one at a time.
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut answers = Vec::with_capacity(valid.len());
    for (_, issue, _) in &mut valid {
        let n = next
            .entry(issue.project.clone())
            .or_insert_with(|| last_number(&r, &issue.project));
        issue.number = *n + 1;
        let answer = site
            .write(Kind::Issue, &[Record::Issue(issue.clone())])
            .map_err(|e| {
                tracing::error!("the double's site failed: {e}");
                error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            })?
            .pop()
            .expect("one answer per issue");
        if answer.is_ok() {
            *n += 1;
        }
        answers.push(answer);
    }
    for (project, last) in &next {
        let project: i64 = project.parse().unwrap_or(0);
        r.execute(
            "INSERT INTO double_issue_counters (project_id, last) VALUES (?1, ?2)
             ON CONFLICT (project_id) DO UPDATE SET last = MAX(last, excluded.last)",
            &[&project, &(*last as i64)],
        )
        .map_err(|e| {
            tracing::error!("the double's counter failed: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        })?;
    }
    let mut created: Vec<(usize, Value)> = Vec::new();
    for ((n, _, others), answer) in valid.iter().zip(answers) {
        match answer {
            Ok(id) => {
                for (key, value) in others {
                    let record = Record::EntityProperty(EntityProperty {
                        id: format!("issue/{id}/{key}"),
                        entity_name: "IssueProperty".into(),
                        entity_id: id.clone(),
                        key: key.clone(),
                        value: value.clone(),
                    });
                    let _ = put_record(&mut site, record)?;
                }
                let key = r
                    .row("SELECT key FROM issues WHERE id = ?1", &[&id])
                    .map(|row| s(&row, "key"))
                    .unwrap_or_default();
                created.push((
                    *n,
                    json!({ "id": id, "key": key, "self": format!("{}/rest/api/3/issue/{id}", st.base) }),
                ));
            }
            Err(e) => {
                let field = site_field(&e.message);
                // Jira does not say why a level cannot be set (unknown, another scheme's).
                let message = if field == "security" {
                    "The security level is invalid.".to_owned()
                } else {
                    e.message.clone()
                };
                errors.push(element_error(*n, &[(field.to_owned(), message)]))
            }
        }
    }
    created.sort_by_key(|(n, _)| *n);
    errors.sort_by_key(|e| e.get("failedElementNumber").and_then(Value::as_u64));
    let status = if created.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    let issues: Vec<Value> = created.into_iter().map(|(_, v)| v).collect();
    Ok(json(status, json!({ "issues": issues, "errors": errors })))
}

/// The last number a project gave: its counter, or its highest issue's (issues the site
/// got before the counter was kept).
fn last_number(r: &Reader, project: &str) -> u64 {
    let project: i64 = project.parse().unwrap_or(0);
    let counter = r
        .int(
            "SELECT last FROM double_issue_counters WHERE project_id = ?1",
            &[&project],
        )
        .unwrap_or(0);
    let highest = r
        .int(
            "SELECT COALESCE(MAX(number), 0) FROM issues WHERE project_id = ?1",
            &[&project],
        )
        .unwrap_or(0);
    counter.max(highest) as u64
}

/// `DELETE /rest/api/3/issue/{id}`: the issue and everything on it. Jira refuses one with
/// sub-tasks unless `deleteSubtasks=true`; the double's issues have no sub-tasks of their
/// own (a sub-task's parent is a link), so it deletes the issue's links with the rest.
pub(super) async fn delete_issue(State(st): S, Path(id): Path<String>) -> Reply {
    let _site = st.site();
    let r = st.reader();
    let id = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let id_text = id.to_string();
    r.transaction(|tx| {
        tx.execute(
            "DELETE FROM change_items WHERE group_id IN
             (SELECT id FROM change_groups WHERE issue_id = ?1)",
            [id],
        )?;
        for table in [
            "change_groups",
            "field_values",
            "labels",
            "issue_versions",
            "issue_components",
            "comments",
            "worklogs",
            "attachments",
            "watchers",
            "votes",
            "issue_sprints",
            "issue_ranks",
            "remote_links",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE issue_id = ?1"), [id])?;
        }
        tx.execute(
            "DELETE FROM issue_links WHERE source_issue_id = ?1 OR destination_issue_id = ?1",
            [id],
        )?;
        tx.execute(
            "DELETE FROM entity_properties WHERE entity_kind = 'issue' AND entity_id = ?1",
            [&id_text],
        )?;
        tx.execute("DELETE FROM issues WHERE id = ?1", [id])?;
        Ok(())
    })
    .map_err(|e| {
        tracing::error!("the double's delete failed: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) fn user_ref(account: Option<String>) -> Value {
    match account {
        Some(a) => json!({ "accountId": a }),
        None => Value::Null,
    }
}

pub(super) fn issue_json(st: &Shared, r: &Reader, id: i64) -> Option<Value> {
    let row = r.row(
        "SELECT i.*, p.key AS project_key FROM issues i JOIN projects p ON p.id = i.project_id
         WHERE i.id = ?1",
        &[&id],
    )?;
    let named = |sql: &str| -> Vec<Value> {
        r.rows(sql, &[&id])
            .iter()
            .map(|row| json!({ "id": s(row, "id"), "name": s(row, "name") }))
            .collect()
    };
    let labels: Vec<Value> = r
        .rows(
            "SELECT label FROM labels WHERE issue_id = ?1 ORDER BY id",
            &[&id],
        )
        .iter()
        .map(|row| json!(s(row, "label")))
        .collect();
    let version_sql = |relation: &str| {
        format!(
            "SELECT v.id, v.name FROM issue_versions iv JOIN versions v ON v.id = iv.version_id
             WHERE iv.issue_id = ?1 AND iv.relation = '{relation}' ORDER BY iv.id"
        )
    };
    let mut links = Vec::new();
    for link in r.rows(
        "SELECT l.id, l.source_issue_id, l.destination_issue_id, t.id AS type_id, t.name,
                t.inward, t.outward, si.key AS source_key, di.key AS destination_key
         FROM issue_links l JOIN issue_link_types t ON t.id = l.link_type_id
         JOIN issues si ON si.id = l.source_issue_id JOIN issues di ON di.id = l.destination_issue_id
         WHERE l.source_issue_id = ?1 OR l.destination_issue_id = ?1 ORDER BY l.id",
        &[&id],
    ) {
        let kind = json!({
            "id": s(&link, "type_id"), "name": s(&link, "name"),
            "inward": s(&link, "inward"), "outward": s(&link, "outward"),
        });
        let mut l = json!({ "id": s(&link, "id"), "type": kind });
        if int(&link, "source_issue_id") == Some(id) {
            l["outwardIssue"] = json!({
                "id": s(&link, "destination_issue_id"), "key": s(&link, "destination_key"),
            });
        } else {
            l["inwardIssue"] = json!({
                "id": s(&link, "source_issue_id"), "key": s(&link, "source_key"),
            });
        }
        links.push(l);
    }
    let attachments: Vec<Value> = r
        .rows(
            "SELECT * FROM attachments WHERE issue_id = ?1 ORDER BY id",
            &[&id],
        )
        .iter()
        .map(|a| attachment_json(&st.base, a))
        .collect();
    let mut fields = json!({
        "summary": s(&row, "summary"),
        "description": if s(&row, "description").is_empty() { Value::Null } else { adf::from_text(&s(&row, "description")) },
        "project": { "id": s(&row, "project_id"), "key": s(&row, "project_key") },
        "issuetype": { "id": s(&row, "issue_type_id") },
        "status": { "id": s(&row, "status_id") },
        "priority": opt(&row, "priority_id").map(|p| json!({ "id": p })),
        "resolution": opt(&row, "resolution_id").map(|p| json!({ "id": p })),
        "reporter": user_ref(opt(&row, "reporter_account_id")),
        "assignee": user_ref(opt(&row, "assignee_account_id")),
        "created": int(&row, "created").map(iso),
        "updated": int(&row, "updated").map(iso),
        "duedate": int(&row, "due").map(day),
        "timetracking": {
            "originalEstimateSeconds": int(&row, "original_estimate"),
            "remainingEstimateSeconds": int(&row, "estimate"),
        },
        "labels": labels,
        "versions": named(&version_sql("affects")),
        "fixVersions": named(&version_sql("fix")),
        "components": named(
            "SELECT c.id, c.name FROM issue_components ic JOIN components c ON c.id = ic.component_id
             WHERE ic.issue_id = ?1 ORDER BY ic.id",
        ),
        "issuelinks": links,
        "attachment": attachments,
        "security": issue_security_json(&st.base, r, int(&row, "security_level_id")),
    });
    let mut values: HashMap<i64, Vec<Value>> = HashMap::new();
    let mut order = Vec::new();
    for v in r.rows(
        "SELECT fv.*, o.value AS option_value FROM field_values fv
         LEFT JOIN field_options o ON o.id = fv.option_id WHERE fv.issue_id = ?1 ORDER BY fv.id",
        &[&id],
    ) {
        let field = int(&v, "field_id").unwrap_or(0);
        let value = if let Some(o) = opt(&v, "option_id") {
            json!({ "id": o, "value": s(&v, "option_value") })
        } else if let Some(t) = opt(&v, "text_value") {
            json!(t)
        } else if let Some(n) = v.get("number_value").filter(|n| !n.is_null()) {
            n.clone()
        } else {
            json!(int(&v, "date_value").map(iso))
        };
        if !values.contains_key(&field) {
            order.push(field);
        }
        values.entry(field).or_default().push(value);
    }
    for field in order {
        let mut list = values.remove(&field).unwrap_or_default();
        fields[format!("customfield_{field}")] = if list.len() == 1 {
            list.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(list)
        };
    }
    Some(json!({
        "id": s(&row, "id"),
        "key": s(&row, "key"),
        "self": format!("{}/rest/api/3/issue/{}", st.base, s(&row, "id")),
        "fields": fields,
    }))
}

pub(super) async fn get_issue(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let issue = issue_json(&st, &r, id).ok_or_else(|| not_found("Issue does not exist."))?;
    Ok(json(StatusCode::OK, issue))
}

/// One update of `PUT /rest/api/3/issue/{id}`: the field, the operation, its value.
pub(super) fn edit_records(
    r: &Reader,
    issue: i64,
    field: &str,
    op: &str,
    value: &Value,
) -> Result<Option<Record>, String> {
    let issue_s = issue.to_string();
    if op != "add" && op != "set" {
        return Err(format!("The operation '{op}' is not supported here."));
    }
    match field {
        "labels" => {
            let label = value.as_str().ok_or("Labels are strings.")?;
            if r.exists(
                "SELECT 1 FROM labels WHERE issue_id = ?1 AND label = ?2",
                &[&issue, &label],
            ) {
                return Ok(None);
            }
            Ok(Some(Record::Label(Label {
                id: format!("{issue}/{label}"),
                issue: issue_s,
                label: label.to_owned(),
            })))
        }
        "versions" | "fixVersions" | "components" => {
            let target = id_of(value, "/id").ok_or("An id is required.")?;
            let target_n: i64 = target.parse().map_err(|_| "The id is not valid.")?;
            let (association, present) = match field {
                "components" => (
                    Association::Component,
                    r.exists(
                        "SELECT 1 FROM issue_components WHERE issue_id = ?1 AND component_id = ?2",
                        &[&issue, &target_n],
                    ),
                ),
                _ => {
                    let relation = if field == "versions" {
                        "affects"
                    } else {
                        "fix"
                    };
                    (
                        if field == "versions" {
                            Association::AffectsVersion
                        } else {
                            Association::FixVersion
                        },
                        r.exists(
                            "SELECT 1 FROM issue_versions WHERE issue_id = ?1 AND version_id = ?2
                             AND relation = ?3",
                            &[&issue, &target_n, &relation],
                        ),
                    )
                }
            };
            if present {
                return Ok(None);
            }
            Ok(Some(Record::IssueVersion(IssueVersion {
                id: format!("{issue_s}:{association:?}:{target}"),
                issue: issue_s,
                target,
                association,
            })))
        }
        f if f.starts_with("customfield_") => {
            // Cloud sets a field only where one of its contexts applies to the issue, and
            // only to an option that context offers.
            let cannot = || {
                format!(
                    "Field '{f}' cannot be set. It is not on the appropriate screen, or unknown."
                )
            };
            let n = r.field_id(f).ok_or_else(cannot)?;
            let context = applying_context(r, n, issue).ok_or_else(cannot)?;
            let type_key = r
                .row("SELECT type_key FROM fields WHERE id = ?1", &[&n])
                .map(|row| s(&row, "type_key"))
                .unwrap_or_default();
            let kind = type_key.rsplit(':').next().unwrap_or("").to_owned();
            let multi = matches!(kind.as_str(), "multiselect" | "multicheckboxes");
            if op == "add" && !multi {
                return Err("The field does not support the 'add' operation.".into());
            }
            let fv = match value {
                Value::Number(x) => FieldValue::Number(x.as_f64().unwrap_or(f64::NAN)),
                Value::String(t) if kind == "datepicker" || kind == "datetime" => {
                    FieldValue::Date(parse_date(t).ok_or("Error parsing date string")?)
                }
                Value::String(t) => FieldValue::Text(t.clone()),
                Value::Object(_) if value.get("type").is_some() => {
                    FieldValue::Text(adf::to_text(value).ok_or("Not a valid document.")?)
                }
                Value::Object(_) => {
                    let o = id_of(value, "/id").ok_or("An option id is required.")?;
                    let offered = o.parse::<i64>().is_ok_and(|id| {
                        r.exists(
                            "SELECT 1 FROM field_options WHERE id = ?1 AND context_id = ?2",
                            &[&id, &context],
                        )
                    });
                    if !offered {
                        return Err(format!("Option id '{o}' is not valid"));
                    }
                    FieldValue::Option(o)
                }
                _ => return Err("The value is not valid for this field.".into()),
            };
            let (text_v, num_v, date_v, option_v) = match &fv {
                FieldValue::Text(t) => (Some(t.clone()), None, None, None),
                FieldValue::Number(x) => (None, Some(*x), None, None),
                FieldValue::Date(d) => (None, None, Some(*d), None),
                FieldValue::Option(o) => (None, None, None, o.parse::<i64>().ok()),
            };
            let same = r.exists(
                "SELECT 1 FROM field_values WHERE issue_id = ?1 AND field_id = ?2
                 AND text_value IS ?3 AND number_value IS ?4 AND date_value IS ?5
                 AND option_id IS ?6",
                &[&issue, &n, &text_v, &num_v, &date_v, &option_v],
            );
            if same {
                return Ok(None);
            }
            let natural = match &fv {
                FieldValue::Text(t) => format!("t:{t}"),
                FieldValue::Number(x) => format!("n:{x}"),
                FieldValue::Date(d) => format!("d:{d}"),
                FieldValue::Option(o) => format!("o:{o}"),
            };
            Ok(Some(Record::CustomFieldValue(CustomFieldValue {
                id: format!("{issue}/{f}/{natural}"),
                issue: issue_s,
                field: f.to_owned(),
                value: fv,
            })))
        }
        other => Err(format!(
            "Field '{other}' cannot be set. It is not on the appropriate screen, or unknown."
        )),
    }
}

pub(super) async fn edit_issue(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let mut ops: Vec<(String, String, Value)> = Vec::new();
    if let Some(update) = v.get("update").and_then(Value::as_object) {
        for (field, list) in update {
            for op in list.as_array().into_iter().flatten() {
                for (name, value) in op.as_object().into_iter().flatten() {
                    ops.push((field.clone(), name.clone(), value.clone()));
                }
            }
        }
    }
    if let Some(fields) = v.get("fields").and_then(Value::as_object) {
        for (field, value) in fields {
            match value {
                Value::Array(items) => {
                    for item in items {
                        ops.push((field.clone(), "add".into(), item.clone()));
                    }
                }
                value => ops.push((field.clone(), "set".into(), value.clone())),
            }
        }
    }
    let mut errors: Vec<(String, String)> = Vec::new();
    for (field, op, value) in ops {
        match edit_records(&r, issue, &field, &op, &value) {
            Ok(None) => {}
            Ok(Some(record)) => {
                if let Err(e) = put_record(&mut site, record)? {
                    errors.push((field, e.message));
                }
            }
            Err(message) => errors.push((field, message)),
        }
    }
    if !errors.is_empty() {
        let pairs: Vec<(&str, &str)> = errors
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        return Err(jira(StatusCode::BAD_REQUEST, &[], &pairs));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
