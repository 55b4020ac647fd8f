//! The cloud documents, serialised straight from these structs (no intermediate JSON
//! tree: far fewer allocations per row). Fields are in alphabetical order, so the JSON
//! keys come out sorted, as SCHEMA.md's examples show them.

use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TeamDoc<'a> {
    pub created: String,
    pub description: Option<&'a str>,
    pub id: i64,
    pub lead_account_id: Option<&'a str>,
    pub name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PeriodDoc<'a> {
    pub capacity_hours: f64,
    pub end: String,
    pub id: i64,
    pub start: String,
    pub status: &'a str,
    pub team_id: i64,
}

#[derive(Serialize)]
pub(crate) struct RoleDoc<'a> {
    pub default: bool,
    pub description: Option<&'a str>,
    pub id: i64,
    pub name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MemberDoc<'a> {
    pub account_id: Option<&'a str>,
    pub global_calendar_id: Option<i64>,
    pub groups: Vec<&'a str>,
    pub id: i64,
    pub joined: String,
    pub left: Option<String>,
    pub role_id: Option<i64>,
    pub team_id: i64,
    pub workload_scheme_id: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CalendarDoc<'a> {
    pub description: Option<&'a str>,
    pub id: i64,
    pub name: &'a str,
    pub time_zone: &'a str,
}

#[derive(Serialize)]
pub(crate) struct Hours {
    pub friday: f64,
    pub monday: f64,
    pub saturday: f64,
    pub sunday: f64,
    pub thursday: f64,
    pub tuesday: f64,
    pub wednesday: f64,
}

#[derive(Serialize)]
pub(crate) struct SchemeDoc<'a> {
    pub default: bool,
    pub hours: Hours,
    pub id: i64,
    pub name: &'a str,
}

#[derive(Serialize)]
pub(crate) struct IdDoc {
    pub id: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DayDoc<'a> {
    pub calendar_id: i64,
    pub color: Option<&'a str>,
    pub day: String,
    pub id: i64,
    pub legend: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabelDoc<'a> {
    pub account_id: Option<&'a str>,
    pub color: Option<&'a str>,
    pub id: i64,
    pub label: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApprovalDoc<'a> {
    pub approver_account_id: Option<&'a str>,
    pub decided_at: Option<String>,
    pub issue_id: Option<&'a str>,
    pub period_id: Option<i64>,
    pub status: &'a str,
}
