//! Jira Software's data, from activeobjects.xml (`AO_60DB71_*`): boards, their sprints,
//! columns, column statuses, swimlanes and quick filters, and issues' ranks. Core data, as
//! Atlassian's migration assistant treats it (not an app's): its rows become typed
//! [`Record`]s staged per kind beside entities.xml's, on the thread that reads
//! activeobjects.xml, and go through the same checks and load. (Issues' sprints are the
//! Sprint custom field's values, in entities.xml: see the extraction there.)

use std::collections::BTreeMap;

use airlock_backup::AoBatch;
use airlock_model::jira::{
    Board, BoardColumn, BoardQuery, CardColor, CardColorValue, CardField, CardMode, ColumnStatus,
    FieldId, IssueRank, Kind, Record, Sprint, SprintState,
};
use airlock_model::{Severity, Value};
use airlock_staging::Staging;

use crate::EngineError;
use crate::extract::IdSet;
use crate::findings::{Finding, Findings};
use crate::records::{RecordWriter, object_name};

/// Jira Software's Active Objects prefix.
pub const PREFIX: &str = "AO_60DB71_";

/// The records of every Jira Software kind that the target's rules refuse, with their
/// position in their kind (as [`crate::records::REFUSED_OBJECT`] for entities.xml's).
pub const REFUSED_SOFTWARE_OBJECT: &str = "core/refused-software.rec";

/// The kind a Jira Software table's rows become, for the tables Airlock migrates.
pub fn kind_of_table(table: &str) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .find(|k| k.is_active_objects() && k.entity() == table)
}

/// What the tables gave: the staged kinds' counts and ids, and rows' problems.
#[derive(Default)]
pub struct SoftwareExtracted {
    pub counts: BTreeMap<Kind, u64>,
    pub ids: BTreeMap<Kind, IdSet>,
    pub findings: Findings,
    /// Rows taken into a record, per table (for the coverage ledger).
    pub taken: BTreeMap<String, u64>,
}

/// Turns the rows of Jira Software's tables into staged records.
pub struct SoftwareExtractor<'s> {
    staging: &'s dyn Staging,
    writers: BTreeMap<Kind, RecordWriter>,
    refused: RecordWriter,
    out: SoftwareExtracted,
}

/// One row's values by column name, with the problems found reading them.
struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
    problems: Vec<(&'static str, Severity, String)>,
}

impl Row<'_> {
    fn value(&self, column: &str) -> &Value {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .unwrap_or(&Value::Null)
    }

    fn opt(&self, column: &str) -> Option<String> {
        match self.value(column) {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Integer(i) | Value::Timestamp(i) => Some(i.to_string()),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 9e15 => Some((*d as i64).to_string()),
            Value::Double(d) => Some(d.to_string()),
            Value::Boolean(b) => Some(b.to_string()),
        }
    }

    fn text(&self, column: &str) -> String {
        self.opt(column).unwrap_or_default()
    }

    fn required(&mut self, column: &str) -> String {
        self.opt(column).unwrap_or_else(|| {
            self.problems.push((
                "missing-field",
                Severity::Fatal,
                format!("the required column {column} is missing or empty; fix it in Jira Software and make a new backup"),
            ));
            String::new()
        })
    }

    fn flag(&self, column: &str) -> bool {
        match self.value(column) {
            Value::Boolean(b) => *b,
            Value::Integer(i) => *i != 0,
            Value::String(s) => matches!(s.trim(), "1" | "true" | "TRUE" | "Y" | "y"),
            _ => false,
        }
    }

    /// A card setting Jira Software does not know: left behind, said.
    fn unknown_setting(&mut self, what: String) {
        self.problems.push((
            "unknown-card-setting",
            Severity::Warning,
            format!("{what}: it is not migrated; set the board's cards up again on the target"),
        ));
    }

    /// A whole number (a date in epoch millis, a position, a limit).
    fn number(&mut self, column: &str) -> Option<i64> {
        match self.value(column) {
            Value::Null => None,
            Value::Integer(i) | Value::Timestamp(i) => Some(*i),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 9e15 => Some(*d as i64),
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            _ => {
                self.problems.push((
                    "invalid-number",
                    Severity::Warning,
                    format!("{column} is not a whole number; it will be left empty on the target"),
                ));
                None
            }
        }
    }
}

impl<'s> SoftwareExtractor<'s> {
    pub fn new(staging: &'s dyn Staging) -> Result<SoftwareExtractor<'s>, EngineError> {
        Ok(SoftwareExtractor {
            staging,
            writers: BTreeMap::new(),
            refused: RecordWriter::create(staging, REFUSED_SOFTWARE_OBJECT)?,
            out: SoftwareExtracted::default(),
        })
    }

    /// Stages the rows of a batch of a table [`kind_of_table`] names (others are ignored).
    pub fn batch(&mut self, batch: &AoBatch) -> Result<(), EngineError> {
        let Some(kind) = kind_of_table(&batch.table) else {
            return Ok(());
        };
        for values in &batch.rows {
            let mut row = Row {
                columns: &batch.columns,
                values,
                problems: Vec::new(),
            };
            let record = record(kind, &mut row);
            let id = match &record {
                Some(record) => record.id().to_owned(),
                None => row.text("ID"),
            };
            for (check, severity, message) in std::mem::take(&mut row.problems) {
                self.finding(kind, &id, check, severity, message);
            }
            if let Some(record) = record {
                self.stage(kind, record)?;
            }
        }
        Ok(())
    }

    fn finding(&mut self, kind: Kind, id: &str, check: &str, severity: Severity, message: String) {
        self.out.findings.push(Finding {
            check: check.into(),
            severity,
            file: kind.file().into(),
            entity: kind.entity().into(),
            id: id.to_owned(),
            line: None,
            message,
        });
    }

    fn stage(&mut self, kind: Kind, record: Record) -> Result<(), EngineError> {
        *self.out.counts.entry(kind).or_default() += 1;
        let id = record.id().to_owned();
        if !id.is_empty() && !self.out.ids.entry(kind).or_default().insert(&id) {
            let message = format!(
                "another {} row has the same ID; remove the duplicate in the database and make a new backup",
                kind.entity()
            );
            self.finding(kind, &id, "duplicate-id", Severity::Fatal, message);
            return Ok(());
        }
        *self.out.taken.entry(kind.entity().to_owned()).or_default() += 1;
        let writer = match self.writers.entry(kind) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(RecordWriter::create(self.staging, &object_name(kind))?)
            }
        };
        if airlock_site::rules::check(&record).is_err() {
            self.refused.push(writer.count(), &record)?;
        }
        // Active Objects rows have no line: the record's number in its table stands in.
        writer.push(0, &record)
    }

    /// Finishes every kind's object (an empty one for a kind without rows).
    pub fn finish(self) -> Result<SoftwareExtracted, EngineError> {
        let SoftwareExtractor {
            staging,
            mut writers,
            refused,
            out,
        } = self;
        refused.finish()?;
        for kind in Kind::ALL.into_iter().filter(|k| k.is_active_objects()) {
            match writers.remove(&kind) {
                Some(writer) => writer.finish()?,
                None => RecordWriter::create(staging, &object_name(kind))?.finish()?,
            };
        }
        Ok(out)
    }
}

/// The record one row of `kind`'s table gives; none for a row Jira Software itself could
/// not read (the problem said).
fn record(kind: Kind, row: &mut Row<'_>) -> Option<Record> {
    Some(match kind {
        Kind::Board => Record::Board(Board {
            id: row.required("ID"),
            name: row.required("NAME"),
            owner: row.opt("OWNER_USER_NAME"),
            filter: row.required("SAVED_FILTER_ID"),
            sprints_enabled: row.flag("SPRINTS_ENABLED"),
            kanban_backlog: row.flag("KAN_PLAN_ENABLED"),
            swimlane_strategy: row.text("SWIMLANE_STRATEGY"),
        }),
        Kind::Sprint => Record::Sprint(Sprint {
            id: row.required("ID"),
            board: row.required("RAPID_VIEW_ID"),
            name: row.required("NAME"),
            goal: row.text("GOAL"),
            state: SprintState::of(row.flag("STARTED"), row.flag("CLOSED")),
            start: row.number("START_DATE"),
            end: row.number("END_DATE"),
            completed: row.number("COMPLETE_DATE"),
            sequence: row.number("SEQUENCE"),
        }),
        Kind::BoardColumn => Record::BoardColumn(BoardColumn {
            id: row.required("ID"),
            board: row.required("RAPID_VIEW_ID"),
            name: row.required("NAME"),
            position: row.number("POS").unwrap_or(0),
            min: row.number("MINIM"),
            max: row.number("MAXIM"),
        }),
        Kind::ColumnStatus => Record::ColumnStatus(ColumnStatus {
            id: row.required("ID"),
            column: row.required("COLUMN_ID"),
            status: row.required("STATUS_ID"),
            position: row.number("POS").unwrap_or(0),
        }),
        Kind::Swimlane | Kind::QuickFilter => {
            // A long query is kept apart from the short column.
            let jql = row.opt("LONG_QUERY").unwrap_or_else(|| row.text("QUERY"));
            let query = BoardQuery {
                id: row.required("ID"),
                board: row.required("RAPID_VIEW_ID"),
                name: row.required("NAME"),
                description: row.text("DESCRIPTION"),
                jql,
                position: row.number("POS").unwrap_or(0),
            };
            if kind == Kind::Swimlane {
                Record::Swimlane(query)
            } else {
                Record::QuickFilter(query)
            }
        }
        Kind::IssueRank => Record::IssueRank(IssueRank {
            id: row.required("ID"),
            issue: row.required("ISSUE_ID"),
            field: row.required("FIELD_ID"),
            rank: row.required("RANK"),
        }),
        Kind::CardField => {
            let mode = row.text("MODE");
            let Some(mode) = CardMode::parse(&mode) else {
                row.unknown_setting(format!(
                    "a card field for mode \"{mode}\" (Jira Software has PLAN and WORK)"
                ));
                return None;
            };
            Record::CardField(CardField {
                id: row.required("ID"),
                board: row.required("RAPID_VIEW_ID"),
                field: FieldId::parse(&row.required("FIELD_ID")),
                mode,
                position: row.number("POS").unwrap_or(0),
            })
        }
        Kind::CardColor => {
            let strategy = row.text("STRATEGY");
            let Some(value) = CardColorValue::parse(&strategy, row.text("VAL")) else {
                row.unknown_setting(format!("a card colour by \"{strategy}\" (Jira Software colours cards by issue type, priority, assignee or a query)"));
                return None;
            };
            Record::CardColor(CardColor {
                id: row.required("ID"),
                board: row.required("RAPID_VIEW_ID"),
                color: row.required("COLOR"),
                position: row.number("POS").unwrap_or(0),
                value,
            })
        }
        other => unreachable!("{other} is not a Jira Software table's kind"),
    })
}

#[cfg(test)]
mod tests {
    use airlock_backup::AoBatch;

    use super::*;

    fn batch(table: &str, columns: &[&str], rows: Vec<Vec<Value>>) -> AoBatch {
        AoBatch {
            table: table.into(),
            columns: columns
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .into(),
            offset: 0,
            rows,
        }
    }

    fn text(s: &str) -> Value {
        Value::String(s.into())
    }

    /// Card fields and colours become records (a custom field a reference, a colour by
    /// query a query); a mode or strategy Jira Software lacks is said and left behind.
    #[test]
    fn card_settings_are_read_and_unknown_ones_said() {
        let dir = tempfile::tempdir().unwrap();
        let staging = airlock_staging::SealedStaging::ephemeral(dir.path().join("s")).unwrap();
        let mut x = SoftwareExtractor::new(&staging).unwrap();
        let fields = batch(
            "AO_60DB71_CARDLAYOUT",
            &["ID", "RAPID_VIEW_ID", "FIELD_ID", "MODE", "POS"],
            vec![
                vec![
                    Value::Integer(1),
                    Value::Integer(7),
                    text("customfield_10002"),
                    text("PLAN"),
                    Value::Integer(0),
                ],
                vec![
                    Value::Integer(2),
                    Value::Integer(7),
                    text("labels"),
                    text("DETAIL"),
                    Value::Integer(1),
                ],
            ],
        );
        let colors = batch(
            "AO_60DB71_CARDCOLOR",
            &["ID", "RAPID_VIEW_ID", "STRATEGY", "VAL", "COLOR", "POS"],
            vec![
                vec![
                    Value::Integer(1),
                    Value::Integer(7),
                    text("custom"),
                    text("priority = 2"),
                    text("#d04437"),
                    Value::Integer(0),
                ],
                vec![
                    Value::Integer(2),
                    Value::Integer(7),
                    text("component"),
                    text("10000"),
                    text("#ffffff"),
                    Value::Integer(1),
                ],
            ],
        );
        x.batch(&fields).unwrap();
        x.batch(&colors).unwrap();
        let out = x.finish().unwrap();
        assert_eq!(out.counts[&Kind::CardField], 1);
        assert_eq!(out.counts[&Kind::CardColor], 1);
        assert_eq!(out.findings.count_of("unknown-card-setting"), 2);
        let field: Vec<Record> = crate::records::RecordReader::open_kind(&staging, Kind::CardField)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            field,
            [Record::CardField(CardField {
                id: "1".into(),
                board: "7".into(),
                field: FieldId::Custom("10002".into()),
                mode: CardMode::Plan,
                position: 0,
            })]
        );
        let color: Vec<Record> = crate::records::RecordReader::open_kind(&staging, Kind::CardColor)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let Record::CardColor(c) = &color[0] else {
            panic!()
        };
        assert_eq!(c.value, CardColorValue::Query("priority = 2".into()));
        assert_eq!(crate::queries::query_of(&color[0]), Some("priority = 2"));
    }
}
