//! One function per table: read and check each row, then (when migrating) build its
//! output. Checks run in the same order in both modes.

use crate::batch::{Batch, Exists};
use crate::docs::*;
use crate::iso::iso8601;
use crate::{APPROVAL_PROPERTY_KEY, DEFAULT_SCHEME_PROPERTY_KEY, Entity};
use airlock_sdk::{Ctx, EntityKind, Namespace, Output, PluginError, Resolved, Row, RowError, Rows};

pub(crate) fn run(
    ctx: &Ctx,
    entity: Entity,
    rows: &Rows,
    batch: &mut Batch,
) -> Result<(), PluginError> {
    match entity {
        Entity::Team => teams(ctx, rows, batch),
        Entity::TeamPeriod => team_periods(ctx, rows, batch),
        Entity::TeamRole => team_roles(rows, batch),
        Entity::TeamMember => team_members(ctx, rows, batch),
        Entity::GlobalCalendar => calendars(rows, batch),
        Entity::WorkloadScheme => workload_schemes(rows, batch),
        Entity::NonWorkingDay => non_working_days(ctx, rows, batch),
        Entity::UserLabel => user_labels(ctx, rows, batch),
        Entity::WorklogApproval => worklog_approvals(ctx, rows, batch),
    }
}

/// Resolves the user keys in one string column of the batch, in one host call.
fn resolve_users<'r>(ctx: &Ctx, rows: &'r Rows, column: &str) -> Resolved<'r> {
    ctx.resolve(
        Namespace::USER,
        rows.iter()
            .filter_map(|row| row.opt_str(column).ok().flatten()),
    )
}

/// Each row's integer column as a server id string (`None` where it is not an integer),
/// in row order.
fn id_strings(rows: &Rows, column: &str) -> Vec<Option<String>> {
    rows.iter()
        .map(|row| row.i64(column).ok().map(|id| id.to_string()))
        .collect()
}

/// Resolves server id strings in one host call.
fn resolve_ids<'i>(ctx: &Ctx, namespace: Namespace, ids: &'i [Option<String>]) -> Resolved<'i> {
    ctx.resolve(namespace, ids.iter().flatten().map(String::as_str))
}

fn iso_opt(millis: Option<i64>) -> Option<String> {
    millis.map(iso8601)
}

/// A string column holding one of a fixed set of values, compared case-insensitively;
/// returns the canonical (upper-case) value.
fn one_of(
    row: &Row<'_>,
    id: i64,
    column: &str,
    allowed: &[&'static str],
) -> Result<&'static str, RowError> {
    let value = row.str(column)?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .ok_or_else(|| RowError {
            column: column.to_owned(),
            row_id: Some(id),
            problem: format!("expected one of {}", allowed.join(", ")),
        })
}

fn teams(ctx: &Ctx, rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    let leads = resolve_users(ctx, rows, "LEAD_USER_KEY");
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let name = row.str("NAME")?;
        let description = row.opt_str("DESCRIPTION")?;
        let lead_key = row.opt_str("LEAD_USER_KEY")?;
        let created = row.timestamp("CREATED")?;

        let lead = lead_key.and_then(|key| leads.get(key));
        if lead_key.is_some() && lead.is_none() {
            batch.warning(
                "unknown-team-lead",
                "the team lead's user (LEAD_USER_KEY) has no identity:user mapping; the team \
                 is migrated without a lead",
                id,
            );
        }
        batch.emit(|| {
            Output::app_document(
                "teams",
                id,
                TeamDoc {
                    created: iso8601(created),
                    description,
                    id,
                    lead_account_id: lead,
                    name,
                },
            )
        });
        Ok(())
    })
}

fn team_periods(ctx: &Ctx, rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    let teams = Exists::of(ctx, Entity::Team.table(), rows, "TEAM_ID");
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let team_id = row.i64("TEAM_ID")?;
        let start = row.timestamp("START_DATE")?;
        let end = row.timestamp("END_DATE")?;
        let capacity = row.f64("CAPACITY_HOURS")?;
        let status = match one_of(&row, id, "STATUS", &["OPEN", "CLOSED"])? {
            "OPEN" => "open",
            _ => "closed",
        };

        if !teams.contains(team_id) {
            batch.fatal(
                "period-of-missing-team",
                "the period's TEAM_ID names no TEAM row; delete the period or restore its team",
                id,
            )?;
        }
        if end < start {
            batch.fatal(
                "period-ends-before-start",
                "the period's END_DATE is before its START_DATE; correct the dates",
                id,
            )?;
        }
        if capacity < 0.0 {
            batch.warning(
                "negative-capacity",
                "the period's CAPACITY_HOURS is negative; it is migrated as is",
                id,
            );
        }
        batch.emit(|| {
            Output::app_document(
                "team-periods",
                id,
                PeriodDoc {
                    capacity_hours: capacity,
                    end: iso8601(end),
                    id,
                    start: iso8601(start),
                    status,
                    team_id,
                },
            )
        });
        Ok(())
    })
}

fn team_roles(rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let name = row.str("NAME")?;
        let description = row.opt_str("DESCRIPTION")?;
        let default = row.bool("DEFAULT_ROLE")?;
        batch.emit(|| {
            Output::app_document(
                "team-roles",
                id,
                RoleDoc {
                    default,
                    description,
                    id,
                    name,
                },
            )
        });
        Ok(())
    })
}

fn team_members(ctx: &Ctx, rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    let users = resolve_users(ctx, rows, "USER_KEY");
    let teams = Exists::of(ctx, Entity::Team.table(), rows, "TEAM_ID");
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let team_id = row.i64("TEAM_ID")?;
        let user_key = row.str("USER_KEY")?;
        let role_id = row.opt_i64("ROLE_ID")?;
        let joined = row.timestamp("JOIN_DATE")?;
        let left = row.opt_timestamp("LEAVE_DATE")?;
        let groups = row.opt_str("GROUPS")?;
        let calendar_id = row.opt_i64("GLOBAL_CALENDAR_ID")?;
        let scheme_id = row.opt_i64("WORKLOAD_SCHEME_ID")?;

        if !teams.contains(team_id) {
            batch.fatal(
                "member-of-missing-team",
                "the member's TEAM_ID names no TEAM row; delete the membership or restore its team",
                id,
            )?;
        }
        let account = users.get(user_key);
        if account.is_none() {
            batch.fatal(
                "unknown-user",
                "the member's user (USER_KEY) has no identity:user mapping; migrate the user \
                 first or delete the membership",
                id,
            )?;
        }
        if left.is_some_and(|left| left < joined) {
            batch.fatal(
                "member-leaves-before-joining",
                "the member's LEAVE_DATE is before their JOIN_DATE; correct the dates",
                id,
            )?;
        }
        batch.emit(|| {
            let groups: Vec<&str> = groups
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .collect();
            Output::app_document(
                "team-members",
                id,
                MemberDoc {
                    account_id: account,
                    global_calendar_id: calendar_id,
                    groups,
                    id,
                    joined: iso8601(joined),
                    left: iso_opt(left),
                    role_id,
                    team_id,
                    workload_scheme_id: scheme_id,
                },
            )
        });
        Ok(())
    })
}

fn calendars(rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let name = row.str("NAME")?;
        let time_zone = row.str("TIME_ZONE")?;
        let description = row.opt_str("DESCRIPTION")?;
        batch.emit(|| {
            Output::app_document(
                "calendars",
                id,
                CalendarDoc {
                    description,
                    id,
                    name,
                    time_zone,
                },
            )
        });
        Ok(())
    })
}

fn workload_schemes(rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let name = row.str("NAME")?;
        let hours = [
            row.f64("MONDAY")?,
            row.f64("TUESDAY")?,
            row.f64("WEDNESDAY")?,
            row.f64("THURSDAY")?,
            row.f64("FRIDAY")?,
            row.f64("SATURDAY")?,
            row.f64("SUNDAY")?,
        ];
        let default = row.bool("DEFAULT_SCHEME")?;
        batch.emit(|| {
            let [
                monday,
                tuesday,
                wednesday,
                thursday,
                friday,
                saturday,
                sunday,
            ] = hours;
            Output::app_document(
                "workload-schemes",
                id,
                SchemeDoc {
                    default,
                    hours: Hours {
                        friday,
                        monday,
                        saturday,
                        sunday,
                        thursday,
                        tuesday,
                        wednesday,
                    },
                    id,
                    name,
                },
            )
        });
        if default {
            batch.emit(|| Output::app_property(DEFAULT_SCHEME_PROPERTY_KEY, IdDoc { id }));
        }
        Ok(())
    })
}

fn non_working_days(ctx: &Ctx, rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    let calendars = Exists::of(ctx, Entity::GlobalCalendar.table(), rows, "CALENDAR_ID");
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let calendar_id = row.i64("CALENDAR_ID")?;
        let day = row.timestamp("DAY")?;
        let legend = row.str("LEGEND")?;
        let color = row.opt_str("COLOR")?;

        if !calendars.contains(calendar_id) {
            batch.fatal(
                "day-of-missing-calendar",
                "the non-working day's CALENDAR_ID names no GLOBAL_CALENDAR row; delete the day \
                 or restore its calendar",
                id,
            )?;
        }
        batch.emit(|| {
            Output::app_document(
                "non-working-days",
                id,
                DayDoc {
                    calendar_id,
                    color,
                    day: iso8601(day),
                    id,
                    legend,
                },
            )
        });
        Ok(())
    })
}

fn user_labels(ctx: &Ctx, rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    let users = resolve_users(ctx, rows, "USER_KEY");
    batch.each(rows, |batch, _, row| {
        let id = row.id()?;
        let user_key = row.str("USER_KEY")?;
        let label = row.str("LABEL")?;
        let color = row.opt_str("COLOR")?;

        let account = users.get(user_key);
        if account.is_none() {
            batch.fatal(
                "unknown-user",
                "the label's user (USER_KEY) has no identity:user mapping; migrate the user \
                 first or delete the label",
                id,
            )?;
        }
        batch.emit(|| {
            Output::app_document(
                "user-labels",
                id,
                LabelDoc {
                    account_id: account,
                    color,
                    id,
                    label,
                },
            )
        });
        Ok(())
    })
}

fn worklog_approvals(ctx: &Ctx, rows: &Rows, batch: &mut Batch) -> Result<(), PluginError> {
    let worklog_ids = id_strings(rows, "WORKLOG_ID");
    let issue_ids = id_strings(rows, "ISSUE_ID");
    let worklogs = resolve_ids(ctx, Namespace::WORKLOG, &worklog_ids);
    let issues = resolve_ids(ctx, Namespace::ISSUE, &issue_ids);
    let approvers = resolve_users(ctx, rows, "APPROVER_KEY");
    batch.each(rows, |batch, index, row| {
        let id = row.id()?;
        row.i64("WORKLOG_ID")?;
        row.i64("ISSUE_ID")?;
        let approver_key = row.str("APPROVER_KEY")?;
        let status = one_of(&row, id, "STATUS", &["APPROVED", "REJECTED", "PENDING"])?;
        let decided_at = row.opt_timestamp("DECIDED_AT")?;
        let period_id = row.opt_i64("PERIOD_ID")?;

        let worklog = worklog_ids[index].as_deref().and_then(|w| worklogs.get(w));
        if worklog.is_none() {
            batch.fatal(
                "unknown-worklog",
                "the approval's worklog (WORKLOG_ID) was not migrated; migrate it first or \
                 delete the approval",
                id,
            )?;
        }
        let issue = issue_ids[index].as_deref().and_then(|i| issues.get(i));
        if issue.is_none() {
            batch.fatal(
                "unknown-issue",
                "the approval's issue (ISSUE_ID) was not migrated; migrate it first or delete \
                 the approval",
                id,
            )?;
        }
        let approver = approvers.get(approver_key);
        if approver.is_none() {
            batch.fatal(
                "unknown-user",
                "the approver (APPROVER_KEY) has no identity:user mapping; migrate the user \
                 first or delete the approval",
                id,
            )?;
        }
        batch.emit(|| {
            Output::entity_property(
                EntityKind::Worklog,
                worklog.unwrap_or_default(),
                APPROVAL_PROPERTY_KEY,
                ApprovalDoc {
                    approver_account_id: approver,
                    decided_at: iso_opt(decided_at),
                    issue_id: issue,
                    period_id,
                    status,
                },
            )
        });
        Ok(())
    })
}
