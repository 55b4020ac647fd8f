//! App properties.

#![allow(clippy::result_large_err)]

use super::*;

pub(super) async fn put_app_property(
    State(st): S,
    Path((app, key)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let value = property_value(&key, &body)?;
    let mut site = st.site();
    let existed = st.reader().exists(
        "SELECT 1 FROM app_properties WHERE app_key = ?1 AND key = ?2",
        &[&app, &key],
    );
    site.put_app_outputs_as_given(&AppKey::new(app), &[AppOutput::AppProperty { key, value }])
        .map_err(|_| error(StatusCode::BAD_REQUEST, "The property was refused."))?;
    Ok(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
    .into_response())
}

pub(super) async fn get_app_property(
    State(st): S,
    Path((app, key)): Path<(String, String)>,
) -> Reply {
    let r = st.reader();
    let row = r
        .row(
            "SELECT value FROM app_properties WHERE app_key = ?1 AND key = ?2",
            &[&app, &key],
        )
        .ok_or_else(|| not_found("Property with key not found."))?;
    let value: Value = serde_json::from_str(&s(&row, "value")).unwrap_or(Value::Null);
    Ok(json(
        StatusCode::OK,
        json!({
            "key": key,
            "value": value,
            "self": format!("{}/rest/atlassian-connect/1/addons/{app}/properties/{key}", st.base),
        }),
    ))
}

pub(super) async fn list_app_properties(State(st): S, Path(app): Path<String>) -> Reply {
    let r = st.reader();
    let keys: Vec<Value> = r
        .rows(
            "SELECT key FROM app_properties WHERE app_key = ?1 ORDER BY key",
            &[&app],
        )
        .iter()
        .map(|row| {
            json!({
                "key": s(row, "key"),
                "self": format!("{}/rest/atlassian-connect/1/addons/{app}/properties/{}", st.base, s(row, "key")),
            })
        })
        .collect();
    Ok(json(StatusCode::OK, json!({ "keys": keys })))
}
