//! Project role actors: who plays a role in a project (`…/project/{id}/role/{id}`), and a
//! role's default actors (`…/role/{id}/actors`), with Cloud's rules: an unknown project or
//! role is 404, an unknown user or group 400, and so is an actor the role has already.

#![allow(clippy::result_large_err)]

use airlock_model::jira::{GROUP_ROLE_ACTOR, ProjectRoleActor, RoleActor, USER_ROLE_ACTOR};

use super::*;

fn no_project() -> Response<Body> {
    not_found("No project could be found with this key or id.")
}

fn no_role() -> Response<Body> {
    not_found("The project role does not exist.")
}

/// The role's row, by id.
fn role_row(r: &Reader, id: &str) -> Option<Row> {
    let id = id.parse::<i64>().ok()?;
    r.row("SELECT * FROM project_roles WHERE id = ?1", &[&id])
}

/// The role's actors in `project` (`None`: its default actors), as Jira answers them.
fn actors_json(r: &Reader, project: Option<i64>, role: i64) -> Vec<Value> {
    r.rows(
        "SELECT a.*, u.display_name FROM project_role_actors a
         LEFT JOIN users u ON u.account_id = a.account_id
         WHERE a.role_id = ?1 AND a.project_id IS ?2 ORDER BY a.id",
        &[&role, &project],
    )
    .iter()
    .map(|a| {
        if s(a, "actor_type") == "user" {
            json!({
                "id": int(a, "id"),
                "displayName": s(a, "display_name"),
                "type": USER_ROLE_ACTOR,
                "actorUser": { "accountId": s(a, "account_id") },
            })
        } else {
            let name = s(a, "group_name");
            json!({
                "id": int(a, "id"),
                "displayName": name,
                "type": GROUP_ROLE_ACTOR,
                "name": name,
                "actorGroup": { "name": name, "displayName": name },
            })
        }
    })
    .collect()
}

/// The role as Jira answers it, with its actors in `project` (or its default actors).
fn role_with_actors(st: &Shared, r: &Reader, role: &Row, project: Option<i64>) -> Value {
    let mut v = role_json(&st.base, role);
    let id = int(role, "id").unwrap_or_default();
    v["actors"] = Value::Array(actors_json(r, project, id));
    v
}

/// `GET /rest/api/3/project/{id}/role/{id}`: the role with its actors in the project.
pub(super) async fn get_project_role(
    State(st): S,
    Path((project, role)): Path<(String, String)>,
) -> Reply {
    let r = st.reader();
    let project = r.project_id(&project).ok_or_else(no_project)?;
    let role = role_row(&r, &role).ok_or_else(no_role)?;
    Ok(json(
        StatusCode::OK,
        role_with_actors(&st, &r, &role, Some(project)),
    ))
}

/// `POST /rest/api/3/project/{id}/role/{id}`: `{"user": [accountId…]}` and/or
/// `{"group": [name…]}`; 200 with the role and its actors.
pub(super) async fn add_project_role_actors(
    State(st): S,
    Path((project, role)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    add_actors(&st, Some(&project), &role, &body)
}

/// `GET /rest/api/3/role/{id}/actors`: the role's default actors.
pub(super) async fn get_default_actors(State(st): S, Path(role): Path<String>) -> Reply {
    let r = st.reader();
    let role = role_row(&r, &role).ok_or_else(no_role)?;
    let id = int(&role, "id").unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        json!({ "actors": actors_json(&r, None, id) }),
    ))
}

/// `POST /rest/api/3/role/{id}/actors`: default actors, as for a project's; 200 with the
/// role and its default actors.
pub(super) async fn add_default_actors(
    State(st): S,
    Path(role): Path<String>,
    body: Bytes,
) -> Reply {
    add_actors(&st, None, &role, &body)
}

/// Adds the body's users and groups to the role, in the project or by default: all of them
/// or, if one is refused, none.
fn add_actors(st: &Shared, project: Option<&str>, role: &str, body: &Bytes) -> Reply {
    let v = parse(body)?;
    let mut site = st.site();
    let r = st.reader();
    let project = match project {
        Some(p) => Some(r.project_id(p).ok_or_else(no_project)?),
        None => None,
    };
    let role_row = role_row(&r, role).ok_or_else(no_role)?;
    let role = int(&role_row, "id").unwrap_or_default();
    let list = |key: &str| -> Result<Vec<String>, Response<Body>> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .ok_or_else(|| bad(key, "Each item must be a non-empty string."))
                })
                .collect(),
            Some(_) => Err(bad(key, "A list of strings is expected.")),
        }
    };
    let users = list("user")?;
    let groups = list("group")?;
    if v.get("groupId").is_some_and(|g| !g.is_null()) {
        return Err(bad("groupId", "This double takes groups by name (group)."));
    }
    if users.is_empty() && groups.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "You must specify a user or a group to add to the project role.",
        ));
    }
    // Every actor is checked before any is added.
    let mut actors = Vec::new();
    for account in users {
        if !r.user_exists(&account) {
            return Err(error(StatusCode::BAD_REQUEST, "The user does not exist."));
        }
        actors.push(RoleActor::User(account));
    }
    for name in groups {
        let group = r
            .row(
                "SELECT name FROM groups WHERE name = ?1 COLLATE NOCASE",
                &[&name],
            )
            .ok_or_else(|| error(StatusCode::BAD_REQUEST, "The group does not exist."))?;
        actors.push(RoleActor::Group(s(&group, "name")));
    }
    for actor in &actors {
        let (column, kind, who) = match actor {
            RoleActor::User(a) => ("account_id", "user", a),
            RoleActor::Group(g) => ("group_name", "group", g),
        };
        let there = r.exists(
            &format!(
                "SELECT 1 FROM project_role_actors WHERE role_id = ?1 AND project_id IS ?2
                 AND actor_type = ?3 AND {column} = ?4 COLLATE NOCASE"
            ),
            &[&role, &project, &kind, who],
        );
        if there {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "The actor is already a member of the project role.",
            ));
        }
    }
    for actor in actors {
        let scope = project.map_or_else(|| "default".to_owned(), |p| p.to_string());
        let record = Record::ProjectRoleActor(ProjectRoleActor {
            id: format!("{scope}/{role}/{}:{}", actor.role_type(), actor.name()),
            project: project.map(|p| p.to_string()),
            role: role.to_string(),
            actor,
        });
        put_record(&mut site, record)?.map_err(|e| refused("actor", &e))?;
    }
    Ok(json(
        StatusCode::OK,
        role_with_actors(st, &r, &role_row, project),
    ))
}
