//! Custom fields and options.

#![allow(clippy::result_large_err)]

use super::*;

pub(super) fn field_json(row: &Row) -> Value {
    json!({
        "id": format!("customfield_{}", s(row, "id")),
        "name": s(row, "name"),
        "custom": true,
        "description": s(row, "description"),
        "schema": { "type": "any", "custom": s(row, "type_key"), "customId": int(row, "id") },
    })
}

pub(super) async fn create_field(State(st): S, body: Bytes) -> Reply {
    let v = parse(&body)?;
    let name = text(&v, "/name").unwrap_or("").to_owned();
    let type_key = text(&v, "/type").unwrap_or("").to_owned();
    if name.trim().is_empty() {
        return Err(bad("name", "The custom field name is required."));
    }
    if !type_key.contains(':') {
        return Err(bad("type", "The custom field type is required."));
    }
    let mut site = st.site();
    // Cloud allows two fields of one name: the double keeps the natural key as source
    // key, so a field created twice shows as a duplicate.
    let record = Record::CustomField(CustomField {
        id: format!("{}|{type_key}", name.to_lowercase()),
        name,
        type_key,
        description: text(&v, "/description").unwrap_or("").to_owned(),
    });
    let id = put_record(&mut site, record)?.map_err(|e| refused("name", &e))?;
    let r = st.reader();
    let n = r.field_id(&id).unwrap_or(0);
    let row = r
        .row("SELECT * FROM fields WHERE id = ?1", &[&n])
        .unwrap_or_default();
    Ok(json(StatusCode::CREATED, field_json(&row)))
}

pub(super) async fn search_fields(State(st): S, q: Q) -> Reply {
    let r = st.reader();
    let query = q.get("query").map(|n| n.to_lowercase());
    let list: Vec<Value> = r
        .rows("SELECT * FROM fields ORDER BY id", &[])
        .iter()
        .filter(|row| {
            query
                .as_ref()
                .is_none_or(|n| s(row, "name").to_lowercase().contains(n))
        })
        .map(field_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) fn option_json(row: &Row) -> Value {
    let mut o = json!({
        "id": s(row, "id"),
        "value": s(row, "value"),
        "disabled": int(row, "disabled") == Some(1),
    });
    if let Some(p) = opt(row, "parent_id") {
        o["optionId"] = json!(p);
    }
    o
}

pub(super) async fn list_options(
    State(st): S,
    Path((field, ctx)): Path<(String, String)>,
    q: Q,
) -> Reply {
    let r = st.reader();
    let (_, ctx) = context_field(&r, &field, &ctx)?;
    let list: Vec<Value> = r
        .rows(
            "SELECT * FROM field_options WHERE context_id = ?1 ORDER BY id",
            &[&ctx],
        )
        .iter()
        .map(option_json)
        .collect();
    Ok(json(StatusCode::OK, page_bean(list, &q)))
}

pub(super) async fn create_options(
    State(st): S,
    Path((field, ctx)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let v = parse(&body)?;
    let list = v
        .get("options")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("options", "At least one option is required."))?;
    let mut site = st.site();
    let r = st.reader();
    let (_, ctx) = context_field(&r, &field, &ctx)?;
    let mut created = Vec::new();
    for o in list {
        let value = text(o, "/value").unwrap_or("").to_owned();
        let parent = id_of(o, "/optionId");
        let parent_n = parent.as_deref().and_then(|p| p.parse::<i64>().ok());
        // A child's parent is a top option of the same context.
        if let Some(p) = &parent
            && !parent_n.is_some_and(|p| {
                r.exists(
                    "SELECT 1 FROM field_options WHERE id = ?1 AND context_id = ?2
                     AND parent_id IS NULL",
                    &[&p, &ctx],
                )
            })
        {
            return Err(bad(
                "options",
                &format!("The parent option with ID '{p}' is not an option of this context."),
            ));
        }
        // Values are unique among the context's options of one parent, not in the field.
        let same = r.exists(
            "SELECT 1 FROM field_options WHERE context_id = ?1 AND value = ?2
             AND parent_id IS ?3",
            &[&ctx, &value, &parent_n],
        );
        if same {
            return Err(bad("options", "An option with this value already exists."));
        }
        let record = Record::CustomFieldOption(CustomFieldOption {
            id: format!("{field}/{ctx}/{}/{value}", parent.as_deref().unwrap_or("")),
            field: field.clone(),
            context: Some(ctx.to_string()),
            value,
            parent,
            disabled: o.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        });
        let id = put_record(&mut site, record)?.map_err(|e| refused("options", &e))?;
        created.push(id);
    }
    let out: Vec<Value> = created
        .iter()
        .filter_map(|id| r.row("SELECT * FROM field_options WHERE id = ?1", &[id]))
        .map(|row| option_json(&row))
        .collect();
    Ok(json(StatusCode::OK, json!({ "options": out })))
}
