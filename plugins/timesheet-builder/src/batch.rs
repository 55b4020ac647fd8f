//! One pass over a batch, shared by `analyze` (collect findings) and `migrate` (collect
//! outputs, refuse at the first fatal problem).

use airlock_sdk::{Ctx, FastSet, Finding, Output, PluginError, Row, RowError, Rows};

/// Why processing of a row stopped early.
pub(crate) enum Stop {
    /// A column was missing or mistyped: a `bad-row` problem.
    BadRow(RowError),
    /// Migration refuses the batch.
    Refuse(PluginError),
}

impl From<RowError> for Stop {
    fn from(e: RowError) -> Self {
        Stop::BadRow(e)
    }
}

pub(crate) struct Batch {
    migrate: bool,
    pub(crate) findings: Vec<Finding>,
    pub(crate) outputs: Vec<Output>,
}

impl Batch {
    pub(crate) fn analyze() -> Batch {
        Batch {
            migrate: false,
            findings: Vec::new(),
            outputs: Vec::new(),
        }
    }

    pub(crate) fn migrate(rows: usize) -> Batch {
        Batch {
            migrate: true,
            findings: Vec::new(),
            outputs: Vec::with_capacity(rows),
        }
    }

    /// Runs `f` on every row, in order. A bad row is a finding when analysing and refuses
    /// the batch when migrating.
    pub(crate) fn each(
        &mut self,
        rows: &Rows,
        mut f: impl FnMut(&mut Batch, usize, Row<'_>) -> Result<(), Stop>,
    ) -> Result<(), PluginError> {
        for (index, row) in rows.iter().enumerate() {
            match f(self, index, row) {
                Ok(()) => {}
                Err(Stop::Refuse(e)) => return Err(e),
                Err(Stop::BadRow(e)) => {
                    if self.migrate {
                        return Err(e.into());
                    }
                    let message = e.to_string();
                    self.findings
                        .push(Finding::fatal("bad-row", message).row(e.row_id));
                }
            }
        }
        Ok(())
    }

    /// A fatal problem with a row: a finding when analysing (the row's other checks go
    /// on), a refusal of the whole batch when migrating.
    pub(crate) fn fatal(&mut self, code: &str, message: &str, row_id: i64) -> Result<(), Stop> {
        if self.migrate {
            Err(Stop::Refuse(PluginError::new(code, message).row(row_id)))
        } else {
            self.findings
                .push(Finding::fatal(code, message).row(row_id));
            Ok(())
        }
    }

    /// A warning: reported by analysis; migration goes on.
    pub(crate) fn warning(&mut self, code: &str, message: &str, row_id: i64) {
        if !self.migrate {
            self.findings
                .push(Finding::warning(code, message).row(row_id));
        }
    }

    /// Adds an output when migrating; the closure is not called when analysing.
    pub(crate) fn emit(&mut self, output: impl FnOnce() -> Output) {
        if self.migrate {
            self.outputs.push(output());
        }
    }
}

/// Which rows of another app table a batch refers to exist: one host call per batch for
/// all the ids in one column.
pub(crate) struct Exists(FastSet<i64>);

impl Exists {
    /// Checks every integer value of `column` in `rows` against `table`.
    pub(crate) fn of(ctx: &Ctx, table: &str, rows: &Rows, column: &str) -> Exists {
        Exists(ctx.existing(table, rows.iter().filter_map(|row| row.i64(column).ok())))
    }

    pub(crate) fn contains(&self, id: i64) -> bool {
        self.0.contains(&id)
    }
}
