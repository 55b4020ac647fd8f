//! Comments, worklogs, links, attachments.

#![allow(clippy::result_large_err)]

use super::*;

pub(super) fn source_properties(row: &Row) -> Value {
    match opt(row, "source_key").filter(|k| !k.starts_with(SYNTHETIC)) {
        Some(k) => json!([{ "key": SOURCE_PROPERTY, "value": { "key": k } }]),
        None => json!([]),
    }
}

pub(super) fn comment_json(st: &Shared, row: &Row, expand: bool) -> Value {
    let mut c = json!({
        "self": format!("{}/rest/api/3/issue/{}/comment/{}", st.base, s(row, "issue_id"), s(row, "id")),
        "id": s(row, "id"),
        "body": adf::from_text(&s(row, "body")),
        "created": int(row, "created").map(iso),
        "updated": int(row, "updated").map(iso),
    });
    if let Some(a) = opt(row, "author_account_id") {
        c["author"] = json!({ "accountId": a });
    }
    if expand {
        c["properties"] = source_properties(row);
    }
    c
}

pub(super) fn worklog_json(st: &Shared, row: &Row, expand: bool) -> Value {
    let mut w = json!({
        "self": format!("{}/rest/api/3/issue/{}/worklog/{}", st.base, s(row, "issue_id"), s(row, "id")),
        "id": s(row, "id"),
        "issueId": s(row, "issue_id"),
        "comment": adf::from_text(&s(row, "comment")),
        "created": int(row, "created").map(iso),
        "started": int(row, "started").map(iso),
        "timeSpentSeconds": int(row, "time_spent_seconds"),
    });
    if let Some(a) = opt(row, "author_account_id") {
        w["author"] = json!({ "accountId": a });
    }
    if expand {
        w["properties"] = source_properties(row);
    }
    w
}

pub(super) fn expands(q: &HashMap<String, String>) -> bool {
    q.get("expand")
        .is_some_and(|e| e.split(',').any(|x| x == "properties"))
}

/// A new comment's or work log's properties other than its source key, kept as
/// `PUT …/properties/{key}` keeps them.
fn keep_properties(
    site: &mut LocalSite,
    entity: EntityKind,
    id: &str,
    properties: Vec<(String, String)>,
) -> Result<(), Response<Body>> {
    let outputs: Vec<AppOutput> = properties
        .into_iter()
        .map(|(key, value)| AppOutput::EntityProperty {
            entity,
            entity_id: id.to_owned(),
            key,
            value,
        })
        .collect();
    if outputs.is_empty() {
        return Ok(());
    }
    site.put_app_outputs_as_given(&AppKey::new("jira"), &outputs)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "The property was refused."))
}

pub(super) async fn create_comment(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let text_body = match v.get("body") {
        Some(b @ Value::Object(_)) => adf::to_text(b).ok_or_else(|| {
            bad(
                "body",
                "Comment body is not valid (see the Atlassian Document Format).",
            )
        })?,
        Some(Value::String(_)) => {
            return Err(bad(
                "body",
                "Comment body must be an Atlassian Document in REST v3.",
            ));
        }
        _ => return Err(bad("body", "Comment body can not be empty!")),
    };
    if text_body.trim().is_empty() {
        return Err(bad("body", "Comment body can not be empty!"));
    }
    let (source, others) = create_properties(&v).map_err(|m| bad("properties", &m))?;
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let now = now_ms();
    let record = Record::Comment(Comment {
        id: source.unwrap_or_else(|| st.synthetic_key("comment")),
        issue: issue.to_string(),
        // Cloud makes the caller the author, whatever the body says.
        author: Some(caller(&mut site, &r, &headers)?),
        body: text_body,
        created: now,
        updated: now,
    });
    let cid = put_record(&mut site, record)?.map_err(|e| refused("comment", &e))?;
    keep_properties(&mut site, EntityKind::Comment, &cid, others)?;
    let row = r
        .row("SELECT * FROM comments WHERE id = ?1", &[&cid])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, comment_json(&st, &row, false)))
}

pub(super) async fn list_comments(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let all: Vec<Value> = r
        .rows(
            "SELECT * FROM comments WHERE issue_id = ?1 ORDER BY id",
            &[&issue],
        )
        .iter()
        .map(|row| comment_json(&st, row, expands(&q)))
        .collect();
    let total = all.len();
    let (start, size) = page(&q, 100);
    let comments = slice(all, &q, 100);
    Ok(json(
        StatusCode::OK,
        json!({ "startAt": start, "maxResults": size, "total": total, "comments": comments }),
    ))
}

pub(super) async fn create_worklog(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let started =
        text(&v, "/started").ok_or_else(|| bad("started", "Date started is required."))?;
    let started =
        parse_date(started).ok_or_else(|| bad("started", "Date started is not valid."))?;
    let seconds = match v.get("timeSpentSeconds").and_then(Value::as_i64) {
        Some(s) => s,
        None => text(&v, "/timeSpent")
            .and_then(parse_duration)
            .ok_or_else(|| bad("timeLogged", "Time Spent is required."))?,
    };
    let comment = match v.get("comment") {
        None | Some(Value::Null) => String::new(),
        Some(c) => adf::to_text(c).ok_or_else(|| {
            bad(
                "comment",
                "Comment is not valid (see the Atlassian Document Format).",
            )
        })?,
    };
    let (source, others) = create_properties(&v).map_err(|m| bad("properties", &m))?;
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let record = Record::Worklog(Worklog {
        id: source.unwrap_or_else(|| st.synthetic_key("worklog")),
        issue: issue.to_string(),
        // As a comment's: the caller.
        author: Some(caller(&mut site, &r, &headers)?),
        body: comment,
        created: now_ms(),
        started,
        seconds,
    });
    let wid = put_record(&mut site, record)?.map_err(|e| refused("timeLogged", &e))?;
    keep_properties(&mut site, EntityKind::Worklog, &wid, others)?;
    let row = r
        .row("SELECT * FROM worklogs WHERE id = ?1", &[&wid])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, worklog_json(&st, &row, false)))
}

pub(super) async fn list_worklogs(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let all: Vec<Value> = r
        .rows(
            "SELECT * FROM worklogs WHERE issue_id = ?1 ORDER BY id",
            &[&issue],
        )
        .iter()
        .map(|row| worklog_json(&st, row, expands(&q)))
        .collect();
    let total = all.len();
    let (start, size) = page(&q, 5000);
    let worklogs = slice(all, &q, 5000);
    Ok(json(
        StatusCode::OK,
        json!({ "startAt": start, "maxResults": size, "total": total, "worklogs": worklogs }),
    ))
}

pub(super) async fn list_worklogs_by_id(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let ids: Vec<i64> = v
        .get("ids")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("ids", "Worklog ids are required."))?
        .iter()
        .filter_map(|i| {
            i.as_i64()
                .or_else(|| i.as_str().and_then(|s| s.parse().ok()))
        })
        .collect();
    if ids.len() > 1000 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "At most 1000 worklogs per request.",
        ));
    }
    let r = st.reader();
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|id| r.row("SELECT * FROM worklogs WHERE id = ?1", &[id]))
        .map(|row| worklog_json(&st, &row, false))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(out)))
}

pub(super) async fn create_link(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let mut site = st.site();
    let r = st.reader();
    let link_type = id_of(&v, "/type/id")
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| r.exists("SELECT 1 FROM issue_link_types WHERE id = ?1", &[t]))
        .or_else(|| {
            text(&v, "/type/name").and_then(|n| {
                r.int(
                    "SELECT id FROM issue_link_types WHERE name = ?1 COLLATE NOCASE",
                    &[&n],
                )
            })
        })
        .ok_or_else(|| not_found("No issue link type with this id or name."))?;
    let issue = |side: &str| {
        id_of(&v, &format!("/{side}/id"))
            .or_else(|| id_of(&v, &format!("/{side}/key")))
            .and_then(|i| r.issue_id(&i))
            .ok_or_else(|| not_found("Issue Does Not Exist"))
    };
    // Jira's `inwardIssue` is the link's source: "source blocks destination".
    let source = issue("inwardIssue")?;
    let destination = issue("outwardIssue")?;
    if r.exists(
        "SELECT 1 FROM issue_links WHERE link_type_id = ?1 AND source_issue_id = ?2
         AND destination_issue_id = ?3",
        &[&link_type, &source, &destination],
    ) {
        return Ok(StatusCode::CREATED.into_response());
    }
    let record = Record::IssueLink(IssueLink {
        id: format!("{link_type}/{source}/{destination}"),
        link_type: link_type.to_string(),
        source: source.to_string(),
        destination: destination.to_string(),
    });
    put_record(&mut site, record)?.map_err(|e| refused("issueLinks", &e))?;
    Ok(StatusCode::CREATED.into_response())
}

fn remote_link_json(base: &str, row: &Row) -> Value {
    let mut object = json!({ "url": s(row, "url"), "title": s(row, "title") });
    if let Some(summary) = opt(row, "summary") {
        object["summary"] = json!(summary);
    }
    if opt(row, "icon_url").is_some() || opt(row, "icon_title").is_some() {
        object["icon"] =
            json!({ "url16x16": opt(row, "icon_url"), "title": opt(row, "icon_title") });
    }
    let mut link = json!({
        "id": int(row, "id"),
        "self": format!(
            "{base}/rest/api/3/issue/{}/remotelink/{}",
            s(row, "issue_id"),
            s(row, "id")
        ),
        "object": object,
    });
    if let Some(global_id) = opt(row, "global_id") {
        link["globalId"] = json!(global_id);
    }
    if let Some(relationship) = opt(row, "relationship") {
        link["relationship"] = json!(relationship);
    }
    if opt(row, "application_type").is_some() || opt(row, "application_name").is_some() {
        link["application"] =
            json!({ "type": opt(row, "application_type"), "name": opt(row, "application_name") });
    }
    link
}

/// `POST …/issue/{id}/remotelink`: a link with a global id the issue has already is
/// updated (200), any other created (201); the linked object's url and title are required.
pub(super) async fn create_remote_link(State(st): S, Path(id): Path<String>, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let url = text(&v, "/object/url").unwrap_or("").trim().to_owned();
    let title = text(&v, "/object/title").unwrap_or("").trim().to_owned();
    if url.is_empty() {
        return Err(bad("object.url", "The remote link's URL is required."));
    }
    if title.is_empty() {
        return Err(bad("object.title", "The remote link's title is required."));
    }
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let global_id = text(&v, "/globalId")
        .filter(|g| !g.is_empty())
        .map(str::to_owned);
    let existed = global_id.as_ref().is_some_and(|g| {
        r.exists(
            "SELECT 1 FROM remote_links WHERE issue_id = ?1 AND global_id = ?2",
            &[&issue, g],
        )
    });
    let field = |path: &str| text(&v, path).map(str::to_owned);
    // One link per issue and global id: its natural key; others are each their own.
    let key = match &global_id {
        Some(g) => format!("{issue}/{g}"),
        None => st.synthetic_key("remotelink"),
    };
    let record = Record::RemoteLink(RemoteLink {
        id: key,
        issue: issue.to_string(),
        global_id,
        title,
        url,
        summary: field("/object/summary"),
        icon_url: field("/object/icon/url16x16"),
        icon_title: field("/object/icon/title"),
        relationship: field("/relationship"),
        application_type: field("/application/type"),
        application_name: field("/application/name"),
    });
    let link = put_record(&mut site, record)?.map_err(|e| refused("object", &e))?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(
        status,
        json!({
            "id": link.parse::<i64>().unwrap_or_default(),
            "self": format!("{}/rest/api/3/issue/{issue}/remotelink/{link}", st.base),
        }),
    ))
}

/// `GET …/issue/{id}/remotelink`: the issue's links, or (`globalId`) the one of that id.
pub(super) async fn list_remote_links(State(st): S, Path(id): Path<String>, q: Q) -> Reply {
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let rows = r.rows(
        "SELECT * FROM remote_links WHERE issue_id = ?1 ORDER BY id",
        &[&issue],
    );
    if let Some(global_id) = q.get("globalId") {
        let row = rows
            .iter()
            .find(|row| opt(row, "global_id").as_deref() == Some(global_id.as_str()))
            .ok_or_else(|| not_found("No remote link with this global ID."))?;
        return Ok(json(StatusCode::OK, remote_link_json(&st.base, row)));
    }
    let list: Vec<Value> = rows
        .iter()
        .map(|row| remote_link_json(&st.base, row))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(list)))
}

pub(super) fn attachment_json(base: &str, row: &Row) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/attachment/{}", s(row, "id")),
        "id": s(row, "id"),
        "filename": s(row, "file_name"),
        "mimeType": s(row, "mime_type"),
        "size": int(row, "size"),
        "created": int(row, "created").map(iso),
        "author": user_ref(opt(row, "author_account_id")),
    })
}

pub(super) async fn create_attachments(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Reply {
    if headers
        .get("X-Atlassian-Token")
        .and_then(|v| v.to_str().ok())
        != Some("no-check")
    {
        return Err(error(StatusCode::FORBIDDEN, "XSRF check failed"));
    }
    let mut files: Vec<(String, String, Bytes)> = Vec::new();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|_| error(StatusCode::BAD_REQUEST, "The multipart body is not valid."))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_owned();
        let mime = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let limit = st.control().attachment_limit;
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|_| error(StatusCode::BAD_REQUEST, "The multipart body is not valid."))?
        {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("The file is larger than the attachment size limit ({limit} bytes)."),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        files.push((name, mime, Bytes::from(bytes)));
    }
    if files.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "No file was attached."));
    }
    let mut site = st.site();
    let r = st.reader();
    let issue = r.issue_id(&id).ok_or_else(|| {
        not_found("Issue does not exist or you do not have permission to see it.")
    })?;
    let mut out = Vec::new();
    for (name, mime, bytes) in files {
        // Two files of one name on one issue are normal: no natural key, a counter.
        let record = Record::Attachment(Attachment {
            id: st.synthetic_key("attachment"),
            issue: issue.to_string(),
            file_name: name,
            mime_type: mime,
            size: bytes.len() as u64,
            author: None,
            created: now_ms(),
        });
        let aid = put_record(&mut site, record)?.map_err(|e| refused("file", &e))?;
        site.put_attachment_file(&aid, &mut bytes.as_ref())
            .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"))?;
        if let Some(row) = r.row("SELECT * FROM attachments WHERE id = ?1", &[&aid]) {
            out.push(attachment_json(&st.base, &row));
        }
    }
    Ok(json(StatusCode::OK, Value::Array(out)))
}

/// `GET /rest/api/3/attachment/meta`: attachments are on, up to the site's limit.
pub(super) async fn attachment_meta(State(st): S) -> Reply {
    let limit = st.control().attachment_limit;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "enabled": true, "uploadLimit": limit }),
    ))
}

pub(super) async fn get_attachment(State(st): S, Path(id): Path<String>) -> Reply {
    let r = st.reader();
    let id: i64 = id
        .parse()
        .map_err(|_| not_found("The attachment does not exist."))?;
    let row = r
        .row("SELECT * FROM attachments WHERE id = ?1", &[&id])
        .ok_or_else(|| not_found("The attachment does not exist."))?;
    Ok(json(StatusCode::OK, attachment_json(&st.base, &row)))
}
