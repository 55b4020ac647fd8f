//! Answers.

#![allow(clippy::result_large_err)]

use super::*;

pub(super) fn json(status: StatusCode, v: Value) -> Response<Body> {
    (status, axum::Json(v)).into_response()
}

/// Jira's error body.
pub(super) fn jira(
    status: StatusCode,
    messages: &[&str],
    errors: &[(&str, &str)],
) -> Response<Body> {
    let errors: serde_json::Map<String, Value> = errors
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    json(
        status,
        json!({ "errorMessages": messages, "errors": errors }),
    )
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response<Body> {
    jira(status, &[message], &[])
}

pub(super) fn bad(field: &str, message: &str) -> Response<Body> {
    jira(StatusCode::BAD_REQUEST, &[], &[(field, message)])
}

pub(super) fn not_found(what: &str) -> Response<Body> {
    error(StatusCode::NOT_FOUND, what)
}

pub(super) fn refused(field: &str, e: &ItemError) -> Response<Body> {
    jira(StatusCode::BAD_REQUEST, &[], &[(field, &e.message)])
}

pub(super) fn parse(body: &Bytes) -> Result<Value, Response<Body>> {
    serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        )
    })
}

pub(super) fn text<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// A string or number at `pointer`, as text.
pub(super) fn id_of(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn s(row: &Row, col: &str) -> String {
    match row.get(col) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

pub(super) fn opt(row: &Row, col: &str) -> Option<String> {
    match row.get(col) {
        Some(Value::Null) | None => None,
        _ => Some(s(row, col)),
    }
}

pub(super) fn int(row: &Row, col: &str) -> Option<i64> {
    row.get(col).and_then(Value::as_i64)
}

/// Writes one record to the site; a site failure is a 500.
pub(super) fn put_record(
    site: &mut LocalSite,
    record: Record,
) -> Result<Result<String, ItemError>, Response<Body>> {
    let kind = record.kind();
    match site.write(kind, std::slice::from_ref(&record)) {
        Ok(mut answers) => Ok(answers.pop().unwrap_or_else(|| {
            Err(ItemError {
                code: "rejected",
                message: "no answer".into(),
            })
        })),
        Err(e) => {
            tracing::error!(%kind, "the double's site failed: {e}");
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ))
        }
    }
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(super) fn datetime(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

pub(super) fn iso(ms: i64) -> String {
    let t = datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub(super) fn day(ms: i64) -> String {
    let t = datetime(ms);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// `2021-01-17`, or `2021-01-17T12:34:56.789+0000` (also `Z` and `+00:00` offsets).
pub(super) fn parse_date(s: &str) -> Option<i64> {
    let num = |t: &str| t.parse::<i64>().ok();
    let (date, rest) = s.split_at(s.len().min(10));
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
        .ok()?;
    let mut ms = (date.midnight().assume_utc().unix_timestamp()) * 1000;
    if let Some(t) = rest.strip_prefix('T') {
        let (clock, offset) = match t.find(['+', '-', 'Z']) {
            Some(i) => t.split_at(i),
            None => (t, ""),
        };
        let mut hms = clock.split(':');
        let h = num(hms.next()?)?;
        let mi = num(hms.next().unwrap_or("0"))?;
        let sec: f64 = hms.next().unwrap_or("0").parse().ok()?;
        ms += h * 3_600_000 + mi * 60_000 + (sec * 1000.0).round() as i64;
        let offset = offset.trim_start_matches('Z').replace(':', "");
        if offset.len() == 5 {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let oh = num(&offset[1..3])?;
            let om = num(&offset[3..5])?;
            ms -= sign * (oh * 3_600_000 + om * 60_000);
        }
    } else if !rest.is_empty() {
        return None;
    }
    Some(ms)
}

/// Jira durations (`1w 2d 3h 4m`, 5-day weeks of 8-hour days) in seconds.
pub(super) fn parse_duration(s: &str) -> Option<i64> {
    let mut total = 0;
    for token in s.split_whitespace() {
        let (n, unit) = token.split_at(token.len().checked_sub(1)?);
        let n: i64 = n.parse().ok()?;
        total += n * match unit {
            "w" => 5 * 8 * 3600,
            "d" => 8 * 3600,
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
    }
    Some(total)
}

pub(super) fn page(q: &HashMap<String, String>, max: usize) -> (usize, usize) {
    let start = q.get("startAt").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size = q
        .get("maxResults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .clamp(1, max);
    (start, size)
}

/// Jira's `PageBean`.
pub(super) fn page_bean(items: Vec<Value>, q: &HashMap<String, String>) -> Value {
    let (start, size) = page(q, 100);
    let total = items.len();
    let values: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    json!({
        "startAt": start,
        "maxResults": size,
        "total": total,
        "isLast": start + values.len() >= total,
        "values": values,
    })
}

pub(super) fn slice(items: Vec<Value>, q: &HashMap<String, String>, max: usize) -> Vec<Value> {
    let (start, size) = page(q, max);
    items.into_iter().skip(start).take(size).collect()
}

/// Standard base64 (RFC 4648, padding optional); `None` if malformed.
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The email of a request's basic credentials.
pub(super) fn caller_email(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let pair = String::from_utf8(base64_decode(value.trim())?).ok()?;
    let (email, _) = pair.split_once(':')?;
    (!email.is_empty()).then(|| email.to_owned())
}

/// The caller's account, if the site has a user with the credentials' email.
pub(super) fn known_caller(r: &Reader, headers: &HeaderMap) -> Option<String> {
    let email = caller_email(headers)?;
    r.row(
        "SELECT account_id FROM users WHERE lower(email) = lower(?1) ORDER BY seq LIMIT 1",
        &[&email],
    )
    .map(|row| s(&row, "account_id"))
}

/// The caller's account: in Cloud an API token belongs to a user of the site, so one is
/// added (without a source key: not migrated) the first time an email is seen.
pub(super) fn caller(
    site: &mut LocalSite,
    r: &Reader,
    headers: &HeaderMap,
) -> Result<String, Response<Body>> {
    if let Some(account) = known_caller(r, headers) {
        return Ok(account);
    }
    let email = caller_email(headers).ok_or_else(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
    })?;
    let display = email.split('@').next().unwrap_or(&email).to_owned();
    site.add_user(Some(&email), &display).map_err(|e| {
        tracing::error!("the double could not add the caller: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    })
}
