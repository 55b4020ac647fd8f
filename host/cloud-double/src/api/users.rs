//! Users and groups.

#![allow(clippy::result_large_err)]

use super::*;

pub(super) fn user_json(base: &str, row: &Row) -> Value {
    let mut u = json!({
        "self": format!("{base}/rest/api/3/user?accountId={}", s(row, "account_id")),
        "accountId": s(row, "account_id"),
        "accountType": "atlassian",
        "displayName": s(row, "display_name"),
        "active": int(row, "active") == Some(1),
    });
    if let Some(email) = opt(row, "email").filter(|e| !e.is_empty()) {
        u["emailAddress"] = json!(email);
    }
    u
}

pub(super) async fn create_user(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let email = text(&v, "/emailAddress")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| bad("emailAddress", "Email address is required."))?
        .to_owned();
    if !email.contains('@') {
        return Err(bad("emailAddress", "Email address is not valid."));
    }
    let display = text(&v, "/displayName")
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(&email))
        .to_owned();
    let mut site = st.site();
    let r = st.reader();
    if r.exists(
        "SELECT 1 FROM users WHERE lower(email) = lower(?1)",
        &[&email],
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "A user with that email address already exists.",
        ));
    }
    let record = Record::User(User {
        key: email.to_lowercase(),
        user_name: email.to_lowercase(),
        display_name: display,
        email: email.clone(),
        active: true,
        directory: "cloud".into(),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("emailAddress", &e))?;
    let row = r
        .row("SELECT * FROM users WHERE account_id = ?1", &[&id])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, user_json(&st.base, &row)))
}

pub(super) async fn search_user(State(st): S, q: Q) -> Reply {
    let query = q.get("query").cloned().unwrap_or_default().to_lowercase();
    let r = st.reader();
    let users: Vec<Value> = r
        .rows("SELECT * FROM users ORDER BY seq", &[])
        .iter()
        .filter(|u| {
            query.is_empty()
                || s(u, "email").to_lowercase().contains(&query)
                || s(u, "display_name").to_lowercase().contains(&query)
        })
        .map(|u| user_json(&st.base, u))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(slice(users, &q, 1000))))
}

pub(super) async fn list_users(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let users: Vec<Value> = r
        .rows("SELECT * FROM users ORDER BY seq", &[])
        .iter()
        .map(|u| user_json(&st.base, u))
        .collect();
    Ok(json(StatusCode::OK, Value::Array(slice(users, &q, 1000))))
}

pub(super) fn group_json(row: &Row) -> Value {
    json!({ "name": s(row, "name"), "groupId": s(row, "id") })
}

pub(super) async fn create_group(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("name", "You must specify a group name."))?
        .to_owned();
    let mut site = st.site();
    let record = Record::Group(Group {
        name: name.clone(),
        active: true,
    });
    put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let r = st.reader();
    let row = r
        .row("SELECT * FROM groups WHERE name = ?1", &[&name])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, group_json(&row)))
}

pub(super) async fn list_groups(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let name = q.get("groupName").map(|n| n.to_lowercase());
    let groups: Vec<Value> = r
        .rows("SELECT * FROM groups ORDER BY id", &[])
        .iter()
        .filter(|g| {
            name.as_ref()
                .is_none_or(|n| s(g, "name").to_lowercase() == *n)
        })
        .map(group_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(groups, &q)))
}

pub(super) fn find_group(r: &Reader, q: &HashMap<String, String>) -> Option<Row> {
    if let Some(name) = q.get("groupname") {
        r.row(
            "SELECT * FROM groups WHERE name = ?1 COLLATE NOCASE",
            &[name],
        )
    } else {
        let id: i64 = q.get("groupId")?.parse().ok()?;
        r.row("SELECT * FROM groups WHERE id = ?1", &[&id])
    }
}

pub(super) async fn add_member(State(st): S, q: Q, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let account = text(&v, "/accountId")
        .ok_or_else(|| bad("accountId", "You must specify an account id."))?
        .to_owned();
    let mut site = st.site();
    let r = st.reader();
    let group = find_group(&r, &q).ok_or_else(|| not_found("Specified group does not exist."))?;
    if !r.user_exists(&account) {
        return Err(bad("accountId", "The user does not exist."));
    }
    let gid = int(&group, "id").unwrap_or(0);
    if r.exists(
        "SELECT 1 FROM group_members WHERE group_id = ?1 AND account_id = ?2",
        &[&gid, &account],
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Cannot add user. User is already a member of this group.",
        ));
    }
    let name = s(&group, "name");
    let record = Record::Membership(Membership {
        id: format!("{name}/{account}"),
        group: name,
        user_name: account,
    });
    put_record(&mut site, record)?.map_err(|e| refused("accountId", &e))?;
    Ok(json(StatusCode::CREATED, group_json(&group)))
}

pub(super) async fn list_members(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let group = find_group(&r, &q).ok_or_else(|| not_found("Specified group does not exist."))?;
    let gid = int(&group, "id").unwrap_or(0);
    let members: Vec<Value> = r
        .rows(
            "SELECT u.* FROM group_members m JOIN users u ON u.account_id = m.account_id
             WHERE m.group_id = ?1 ORDER BY m.id",
            &[&gid],
        )
        .iter()
        .map(|u| user_json(&st.base, u))
        .collect();
    Ok(json(StatusCode::OK, page_bean(members, &q)))
}

/// `GET /rest/api/3/myself`: the user the credentials belong to.
pub(super) async fn get_myself(State(st): S, headers: HeaderMap) -> Reply {
    let mut site = st.site();
    let r = st.reader();
    let account = caller(&mut site, &r, &headers)?;
    let row = r
        .row("SELECT * FROM users WHERE account_id = ?1", &[&account])
        .unwrap_or_default();
    Ok(json(StatusCode::OK, user_json(&st.base, &row)))
}
