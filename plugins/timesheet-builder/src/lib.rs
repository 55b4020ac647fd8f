//! Airlock data migrator for Timesheet Builder (`com.actonic.jira.timesheet-builder`).
//!
//! Reads the app's nine Active Objects tables (`AO_09EAEF_*`) and turns them into cloud
//! outputs, as `SCHEMA.md` specifies: app documents for teams, periods, roles, members,
//! calendars, workload schemes, non-working days and user labels; an app property naming
//! the default workload scheme; an entity property on each approved (or rejected, or
//! pending) cloud worklog.
//!
//! Every batch resolves its server ids in bulk (one host call per namespace) and looks up
//! each referenced row of another app table once. `analyze` and `migrate` run the same
//! checks in the same order, so `migrate` refuses exactly the batches analysis would flag
//! as fatal, with the first fatal finding's code and row.
//!
//! The crate builds as the plugin component (`wasm32-wasip2`) and as a native `rlib`, so
//! the same code can be unit-tested and benchmarked natively.

mod batch;
mod docs;
mod iso;
mod tables;

#[cfg(test)]
mod tests;

use airlock_sdk::{
    Ctx, DataScope, Finding, Manifest, Migrator, Namespace, Output, OutputKind, PluginError, Rows,
};

pub use iso::iso8601;

/// The app's Data Center plugin key.
pub const APP_KEY: &str = "com.actonic.jira.timesheet-builder";

/// The app's Active Objects table prefix (`AO_` and the last six hex digits of the key's
/// MD5), with the separating underscore.
pub const TABLE_PREFIX: &str = "AO_09EAEF_";

/// The entity property key set on cloud worklogs.
pub const APPROVAL_PROPERTY_KEY: &str = "timesheet-builder.approval";

/// The app property naming the default workload scheme.
pub const DEFAULT_SCHEME_PROPERTY_KEY: &str = "default-workload-scheme";

/// One of the app's Active Objects entities (tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    Team,
    TeamPeriod,
    TeamRole,
    TeamMember,
    GlobalCalendar,
    WorkloadScheme,
    NonWorkingDay,
    UserLabel,
    WorklogApproval,
}

impl Entity {
    /// All entities, in the manifest's order.
    pub const ALL: [Entity; 9] = [
        Entity::Team,
        Entity::TeamPeriod,
        Entity::TeamRole,
        Entity::TeamMember,
        Entity::GlobalCalendar,
        Entity::WorkloadScheme,
        Entity::NonWorkingDay,
        Entity::UserLabel,
        Entity::WorklogApproval,
    ];

    /// The entity name, as in the table name after the prefix (`TEAM_MEMBER`).
    pub const fn name(self) -> &'static str {
        match self {
            Entity::Team => "TEAM",
            Entity::TeamPeriod => "TEAM_PERIOD",
            Entity::TeamRole => "TEAM_ROLE",
            Entity::TeamMember => "TEAM_MEMBER",
            Entity::GlobalCalendar => "GLOBAL_CALENDAR",
            Entity::WorkloadScheme => "WORKLOAD_SCHEME",
            Entity::NonWorkingDay => "NON_WORKING_DAY",
            Entity::UserLabel => "USER_LABEL",
            Entity::WorklogApproval => "WORKLOG_APPROVAL",
        }
    }

    /// The full Active Objects table name (`AO_09EAEF_TEAM_MEMBER`).
    pub const fn table(self) -> &'static str {
        match self {
            Entity::Team => "AO_09EAEF_TEAM",
            Entity::TeamPeriod => "AO_09EAEF_TEAM_PERIOD",
            Entity::TeamRole => "AO_09EAEF_TEAM_ROLE",
            Entity::TeamMember => "AO_09EAEF_TEAM_MEMBER",
            Entity::GlobalCalendar => "AO_09EAEF_GLOBAL_CALENDAR",
            Entity::WorkloadScheme => "AO_09EAEF_WORKLOAD_SCHEME",
            Entity::NonWorkingDay => "AO_09EAEF_NON_WORKING_DAY",
            Entity::UserLabel => "AO_09EAEF_USER_LABEL",
            Entity::WorklogApproval => "AO_09EAEF_WORKLOG_APPROVAL",
        }
    }

    /// The table's columns, `ID` first, in `SCHEMA.md`'s order.
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            Entity::Team => &["ID", "NAME", "DESCRIPTION", "LEAD_USER_KEY", "CREATED"],
            Entity::TeamPeriod => &[
                "ID",
                "TEAM_ID",
                "START_DATE",
                "END_DATE",
                "CAPACITY_HOURS",
                "STATUS",
            ],
            Entity::TeamRole => &["ID", "NAME", "DESCRIPTION", "DEFAULT_ROLE"],
            Entity::TeamMember => &[
                "ID",
                "TEAM_ID",
                "USER_KEY",
                "ROLE_ID",
                "JOIN_DATE",
                "LEAVE_DATE",
                "GROUPS",
                "GLOBAL_CALENDAR_ID",
                "WORKLOAD_SCHEME_ID",
            ],
            Entity::GlobalCalendar => &["ID", "NAME", "TIME_ZONE", "DESCRIPTION"],
            Entity::WorkloadScheme => &[
                "ID",
                "NAME",
                "MONDAY",
                "TUESDAY",
                "WEDNESDAY",
                "THURSDAY",
                "FRIDAY",
                "SATURDAY",
                "SUNDAY",
                "DEFAULT_SCHEME",
            ],
            Entity::NonWorkingDay => &["ID", "CALENDAR_ID", "DAY", "LEGEND", "COLOR"],
            Entity::UserLabel => &["ID", "USER_KEY", "LABEL", "COLOR"],
            Entity::WorklogApproval => &[
                "ID",
                "WORKLOG_ID",
                "ISSUE_ID",
                "APPROVER_KEY",
                "STATUS",
                "DECIDED_AT",
                "PERIOD_ID",
            ],
        }
    }

    /// The entity a full table name denotes, if it is one of this app's tables.
    pub fn of_table(table: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.table() == table)
    }
}

/// The Timesheet Builder migrator.
pub struct TimesheetBuilder;

impl Migrator for TimesheetBuilder {
    fn manifest() -> Manifest {
        let manifest = Manifest::new(APP_KEY, "Timesheet Builder", env!("CARGO_PKG_VERSION"));
        Entity::ALL
            .into_iter()
            .fold(manifest, |m, e| m.table(e.name()))
            .namespace(Namespace::USER)
            .namespace(Namespace::ISSUE)
            .namespace(Namespace::WORKLOG)
            .scope(DataScope::AppDataUgc)
            .scope(DataScope::AppDataPii)
            .scope(DataScope::ProductDataOther)
            .scope(DataScope::MigrationTracingIdentity)
            .output(OutputKind::AppDocument)
            .output(OutputKind::AppProperty)
            .output(OutputKind::EntityProperty)
    }

    fn analyze(ctx: &Ctx, table: &str, rows: &Rows) -> Vec<Finding> {
        let Some(entity) = Entity::of_table(table) else {
            return vec![Finding::fatal("unknown-table", unknown_table(table))];
        };
        let mut batch = batch::Batch::analyze();
        if let Err(e) = tables::run(ctx, entity, rows, &mut batch) {
            // Analysis never refuses; keep whatever stopped it as a finding.
            batch
                .findings
                .push(Finding::fatal(e.code, e.message).row(e.row_id));
        }
        batch.findings
    }

    fn migrate(ctx: &Ctx, table: &str, rows: &Rows) -> Result<Vec<Output>, PluginError> {
        let Some(entity) = Entity::of_table(table) else {
            return Err(PluginError::new("unknown-table", unknown_table(table)));
        };
        let mut batch = batch::Batch::migrate(rows.len());
        tables::run(ctx, entity, rows, &mut batch)?;
        Ok(batch.outputs)
    }
}

fn unknown_table(table: &str) -> String {
    format!("{table} is not one of Timesheet Builder's tables")
}

airlock_sdk::export_migrator!(TimesheetBuilder);
