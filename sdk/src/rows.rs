use crate::Manifest;
use crate::output::PluginError;
pub use airlock_contract::Value;
use std::cell::OnceCell;
use std::fmt;
use std::rc::Rc;

/// A column was missing or held a value of another type.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    pub column: String,
    pub row_id: Option<i64>,
    pub problem: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.problem)?;
        if let Some(id) = self.row_id {
            write!(f, " (row ID {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RowError {}

impl From<RowError> for PluginError {
    fn from(e: RowError) -> Self {
        PluginError::new("bad-row", e.to_string()).row(e.row_id)
    }
}

/// Where rows come from: their table, and the plugin's manifest, which may mark some of
/// the table's columns optional. The manifest is built only when a column turns out to
/// be absent, so a batch whose columns are all there pays nothing for it.
pub(crate) struct Origin {
    table: String,
    manifest: fn() -> Manifest,
    optional: OnceCell<Vec<String>>,
}

impl Origin {
    pub(crate) fn new(table: &str, manifest: fn() -> Manifest) -> Origin {
        Origin {
            table: table.to_owned(),
            manifest,
            optional: OnceCell::new(),
        }
    }

    fn is_optional(&self, column: &str) -> bool {
        self.optional
            .get_or_init(|| {
                (self.manifest)()
                    .optional_columns
                    .into_iter()
                    .filter(|(table, _)| *table == self.table)
                    .map(|(_, column)| column)
                    .collect()
            })
            .iter()
            .any(|c| c == column)
    }

    /// The entity name (`AO_xxxxxx_NOTE` → `NOTE`), as `Manifest::optional_column` takes it.
    fn entity(&self) -> &str {
        self.table
            .get(10..)
            .filter(|_| self.table.starts_with("AO_") && self.table.as_bytes()[9] == b'_')
            .unwrap_or(&self.table)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("table", &self.table)
            .finish()
    }
}

/// A batch of rows from one table, with its column names. Values are kept row after row
/// in one vector, as the host sends them.
#[derive(Clone, Debug)]
pub struct Rows {
    columns: Rc<[String]>,
    values: Vec<Value>,
    rows: usize,
    origin: Option<Rc<Origin>>,
}

/// Two batches are equal when their columns and values are (wherever they came from).
impl PartialEq for Rows {
    fn eq(&self, other: &Rows) -> bool {
        self.columns == other.columns && self.values == other.values && self.rows == other.rows
    }
}

impl Rows {
    /// An empty batch with these columns (upper case, as Active Objects names them).
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Rows {
        Rows {
            columns: columns.into_iter().map(Into::into).collect(),
            values: Vec::new(),
            rows: 0,
            origin: None,
        }
    }

    /// Builds a batch from its parts; each row must have one value per column.
    pub fn from_parts(columns: Vec<String>, rows: Vec<Vec<Value>>) -> Rows {
        let mut batch = Rows::new(columns);
        batch.values.reserve(rows.len() * batch.columns.len());
        for row in rows {
            batch.push(row);
        }
        batch
    }

    /// Builds a batch from row-major values (`values.len()` must be a multiple of the
    /// number of columns), as the host sends them.
    pub fn from_flat(columns: Vec<String>, values: Vec<Value>) -> Rows {
        let width = columns.len();
        // (`n.is_multiple_of(0)` holds only for 0: no columns, no values.)
        assert!(
            values.len().is_multiple_of(width),
            "row-major values must fill whole rows"
        );
        let rows = values.len().checked_div(width).unwrap_or(0);
        Rows {
            columns: columns.into(),
            values,
            rows,
            origin: None,
        }
    }

    /// Says which table of which plugin these rows are from, so their accessors know the
    /// columns the manifest marks optional and name the table in errors. The host's
    /// batches and [`crate::testing::TestHost`] do this for you; call it to test a helper
    /// on rows directly.
    pub fn in_table<M: crate::Migrator>(mut self, table: &str) -> Rows {
        self.origin = Some(Rc::new(Origin::new(table, M::manifest)));
        self
    }

    /// The table given to [`Rows::in_table`], if any.
    pub fn table(&self) -> Option<&str> {
        self.origin.as_deref().map(|o| o.table.as_str())
    }

    /// Adds a row (builder style, for tests).
    pub fn row(mut self, values: impl IntoIterator<Item = Value>) -> Rows {
        self.push(values.into_iter().collect());
        self
    }

    pub fn push(&mut self, values: Vec<Value>) {
        assert_eq!(
            values.len(),
            self.columns.len(),
            "a row must have one value per column"
        );
        self.values.extend(values);
        self.rows += 1;
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Whether the table has this column (in this backup: real tables differ across
    /// versions of an app), whatever its values.
    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| same_name(c, column))
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        (0..self.rows).map(|index| self.row_at(index))
    }

    pub fn get(&self, index: usize) -> Option<Row<'_>> {
        (index < self.rows).then(|| self.row_at(index))
    }

    fn row_at(&self, index: usize) -> Row<'_> {
        let width = self.columns.len();
        Row {
            columns: &self.columns,
            values: &self.values[index * width..(index + 1) * width],
            origin: self.origin.as_deref(),
        }
    }

    pub fn into_parts(self) -> (Vec<String>, Vec<Vec<Value>>) {
        let width = self.columns.len();
        let rows = if width == 0 {
            vec![Vec::new(); self.rows]
        } else {
            self.values.chunks(width).map(<[Value]>::to_vec).collect()
        };
        (self.columns.to_vec(), rows)
    }
}

/// Column name equality, eight bytes at a time. In Wasm, `==` on strings calls a
/// byte-at-a-time `memcmp`; column lookups are the hottest comparison a plugin makes.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x = u64::from_ne_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_ne_bytes(y.try_into().unwrap_or_default());
        if x != y {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// One row, read by column name.
///
/// A column can be absent (the table has no such column in this backup), null, or hold a
/// value. [`Row::has`] tells absent from the rest. The `opt_*` accessors read null as
/// `None`, and an absent column too when the manifest marks it optional
/// ([`Manifest::optional_column`]); otherwise an absent column is an error that names the
/// column and the table. The other accessors refuse null and absent alike.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
    origin: Option<&'a Origin>,
}

impl<'a> Row<'a> {
    /// A row without a known table (see [`Rows::in_table`]): an absent column is always an
    /// error.
    pub fn new(columns: &'a [String], values: &'a [Value]) -> Row<'a> {
        Row {
            columns,
            values,
            origin: None,
        }
    }

    pub(crate) fn with_origin(mut self, origin: &'a Origin) -> Row<'a> {
        self.origin = Some(origin);
        self
    }

    /// The raw value of a column, or `None` if the table has no such column.
    pub fn value(&self, column: &str) -> Option<&'a Value> {
        // Active Objects tables have a handful of columns: a scan beats hashing.
        let index = self.columns.iter().position(|c| same_name(c, column))?;
        self.values.get(index)
    }

    /// Whether the table has this column (null or not).
    pub fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| same_name(c, column))
    }

    /// The column names, in the order of [`Row::values`].
    pub fn columns(&self) -> &'a [String] {
        self.columns
    }

    pub fn values(&self) -> &'a [Value] {
        self.values
    }

    /// The primary key, column `ID`.
    pub fn id(&self) -> Result<i64, RowError> {
        self.i64("ID")
    }

    /// An error about one column of this row; `problem` says what is wrong with it (the
    /// error names the column and the row's `ID`).
    pub fn invalid(&self, column: &str, problem: impl Into<String>) -> RowError {
        let row_id = match self.value("ID") {
            Some(Value::Integer(id)) => Some(*id),
            _ => None,
        };
        RowError {
            column: column.to_owned(),
            row_id,
            problem: problem.into(),
        }
    }

    /// A column's value for an `opt_*` accessor: `None` for null, and for an absent
    /// column the manifest marks optional.
    fn present(&self, column: &str) -> Result<Option<&'a Value>, RowError> {
        match self.value(column) {
            None if self.origin.is_some_and(|o| o.is_optional(column)) => Ok(None),
            None => Err(self.absent(column)),
            Some(Value::Null) => Ok(None),
            Some(v) => Ok(Some(v)),
        }
    }

    /// A column's value for an accessor that needs one: null and absent are errors.
    fn required(&self, column: &str, accessor: &str) -> Result<&'a Value, RowError> {
        match self.value(column) {
            Some(Value::Null) => Err(self.invalid(column, "is null")),
            Some(v) => Ok(v),
            None => match self.origin {
                Some(origin) if origin.is_optional(column) => Err(self.invalid(
                    column,
                    format!(
                        "absent from table {} in this backup (the manifest marks it optional): \
                         read it with `opt_{accessor}`",
                        origin.table
                    ),
                )),
                _ => Err(self.absent(column)),
            },
        }
    }

    /// An absent column the manifest does not mark optional.
    fn absent(&self, column: &str) -> RowError {
        let Some(origin) = self.origin else {
            return self.invalid(
                column,
                "no such column (if some versions of the app lack it, mark it optional in the \
                 manifest and read it with an `opt_` accessor)",
            );
        };
        self.invalid(
            column,
            format!(
                "no such column in table {table}; if some versions of the app lack it, mark it \
                 optional in the manifest (`.optional_column(\"{entity}\", \"{column}\")`) and \
                 read it with an `opt_` accessor",
                table = origin.table,
                entity = origin.entity(),
            ),
        )
    }

    fn wrong(&self, column: &str, want: &str, got: &Value) -> RowError {
        self.invalid(column, format!("expected {want}, found {}", got.kind()))
    }

    pub fn str(&self, column: &str) -> Result<&'a str, RowError> {
        match self.required(column, "str")? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong(column, "string", other)),
        }
    }

    pub fn opt_str(&self, column: &str) -> Result<Option<&'a str>, RowError> {
        match self.present(column)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(column, "string", other)),
        }
    }

    pub fn i64(&self, column: &str) -> Result<i64, RowError> {
        match self.required(column, "i64")? {
            Value::Integer(i) => Ok(*i),
            other => Err(self.wrong(column, "integer", other)),
        }
    }

    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>, RowError> {
        match self.present(column)? {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(other) => Err(self.wrong(column, "integer", other)),
        }
    }

    /// A double; integers are widened, as AO's NUMERIC columns may arrive as either.
    pub fn f64(&self, column: &str) -> Result<f64, RowError> {
        self.f64_of(self.required(column, "f64")?, column)
    }

    pub fn opt_f64(&self, column: &str) -> Result<Option<f64>, RowError> {
        self.present(column)?
            .map(|v| self.f64_of(v, column))
            .transpose()
    }

    fn f64_of(&self, value: &Value, column: &str) -> Result<f64, RowError> {
        match value {
            Value::Double(d) => Ok(*d),
            Value::Integer(i) => Ok(*i as f64),
            other => Err(self.wrong(column, "double", other)),
        }
    }

    pub fn bool(&self, column: &str) -> Result<bool, RowError> {
        match self.required(column, "bool")? {
            Value::Boolean(b) => Ok(*b),
            other => Err(self.wrong(column, "boolean", other)),
        }
    }

    pub fn opt_bool(&self, column: &str) -> Result<Option<bool>, RowError> {
        match self.present(column)? {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(column, "boolean", other)),
        }
    }

    /// A date-time in milliseconds since the Unix epoch, UTC, from any of the ways Jira
    /// stores one:
    /// - an Active Objects timestamp column;
    /// - an integer: milliseconds since the epoch, as Jira Software (and many apps) keep
    ///   dates in BIGINT columns;
    /// - text in ISO 8601, `2014-09-04T06:36:33.057Z`, with or without the zone (then
    ///   UTC) or the fraction, `T` or a space between date and time.
    pub fn timestamp(&self, column: &str) -> Result<i64, RowError> {
        self.timestamp_of(self.required(column, "timestamp")?, column)
    }

    /// As [`Row::timestamp`], `None` for null (or an absent optional column).
    pub fn opt_timestamp(&self, column: &str) -> Result<Option<i64>, RowError> {
        self.present(column)?
            .map(|v| self.timestamp_of(v, column))
            .transpose()
    }

    fn timestamp_of(&self, value: &Value, column: &str) -> Result<i64, RowError> {
        match value {
            Value::Timestamp(t) | Value::Integer(t) => Ok(*t),
            Value::String(text) => {
                airlock_contract::dates::parse_iso_timestamp(text).ok_or_else(|| {
                    self.invalid(
                        column,
                        "expected timestamp, found string that is not an ISO 8601 date-time \
                         (like 2014-09-04T06:36:33.057Z)",
                    )
                })
            }
            other => Err(self.wrong(column, "timestamp", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Rows {
        Rows::new(["ID", "NAME", "CAPACITY", "OPEN", "START", "NOTE"]).row([
            7.into(),
            "Team".into(),
            Value::Integer(40),
            true.into(),
            Value::timestamp(1_000),
            Value::Null,
        ])
    }

    #[test]
    fn column_names_compare_exactly() {
        for (a, b, same) in [
            ("ID", "ID", true),
            ("TEAM_ID", "ROLE_ID", false),
            ("GLOBAL_CALENDAR_ID", "GLOBAL_CALENDAR_ID", true),
            ("GLOBAL_CALENDAR_ID", "GLOBAL_CALENDAR_IX", false),
            ("WORKLOAD_SCHEME_ID", "GLOBAL_CALENDAR_ID", false),
            ("", "", true),
            ("A", "AB", false),
        ] {
            assert_eq!(same_name(a, b), same, "{a} vs {b}");
        }
    }

    #[test]
    fn typed_access_by_column_name() {
        let rows = rows();
        let row = rows.get(0).unwrap();
        assert_eq!(row.id().unwrap(), 7);
        assert_eq!(row.str("NAME").unwrap(), "Team");
        assert_eq!(row.f64("CAPACITY").unwrap(), 40.0);
        assert!(row.bool("OPEN").unwrap());
        assert_eq!(row.timestamp("START").unwrap(), 1_000);
        assert_eq!(row.opt_str("NOTE").unwrap(), None);
    }

    #[test]
    fn errors_name_column_and_row() {
        let rows = rows();
        let row = rows.get(0).unwrap();
        let e = row.str("NOTE").unwrap_err();
        assert_eq!(e.to_string(), "column NOTE: is null (row ID 7)");
        let e = row.i64("NAME").unwrap_err();
        assert_eq!(
            e.to_string(),
            "column NAME: expected integer, found string (row ID 7)"
        );
        let e = row.str("MISSING").unwrap_err();
        assert_eq!(
            e.to_string(),
            "column MISSING: no such column (if some versions of the app lack it, mark it \
             optional in the manifest and read it with an `opt_` accessor) (row ID 7)"
        );
        let p: PluginError = e.into();
        assert_eq!(p.code, "bad-row");
        assert_eq!(p.row_id, Some(7));
    }

    /// A plugin whose `NOTE` table gained `COLOR` in a later version.
    struct Notes;

    impl crate::Migrator for Notes {
        fn manifest() -> Manifest {
            Manifest::new("com.example.notes", "Notes", "1")
                .table("NOTE")
                .optional_column("NOTE", "COLOR")
        }

        fn migrate(_: &crate::Ctx, _: &str, _: &Rows) -> Result<Vec<crate::Output>, PluginError> {
            Ok(Vec::new())
        }
    }

    fn notes(columns: &[&str], values: Vec<Value>) -> Rows {
        Rows::new(columns.iter().copied())
            .row(values)
            .in_table::<Notes>(&crate::ao_table("com.example.notes", "NOTE"))
    }

    #[test]
    fn absent_is_told_from_null() {
        let rows = notes(
            &["ID", "COLOR", "SIZE"],
            vec![1.into(), Value::Null, 3.into()],
        );
        let row = rows.get(0).unwrap();
        assert!(row.has("COLOR") && rows.has("COLOR"));
        assert!(!row.has("WEIGHT") && !rows.has("WEIGHT"));
        assert_eq!(row.value("COLOR"), Some(&Value::Null));
        assert_eq!(row.value("WEIGHT"), None);
        assert_eq!(rows.table(), Some("AO_479456_NOTE"));
    }

    #[test]
    fn an_absent_optional_column_reads_as_none() {
        let rows = notes(&["ID", "SIZE"], vec![1.into(), 3.into()]);
        let row = rows.get(0).unwrap();
        assert_eq!(row.opt_str("COLOR"), Ok(None));
        assert_eq!(row.opt_i64("COLOR"), Ok(None));
        assert_eq!(row.opt_f64("COLOR"), Ok(None));
        assert_eq!(row.opt_bool("COLOR"), Ok(None));
        assert_eq!(row.opt_timestamp("COLOR"), Ok(None));
        // An accessor that needs a value says so, and which one to use instead.
        assert_eq!(
            row.str("COLOR").unwrap_err().to_string(),
            "column COLOR: absent from table AO_479456_NOTE in this backup (the manifest marks \
             it optional): read it with `opt_str` (row ID 1)"
        );
        // Present, the column is read as any other.
        let rows = notes(&["ID", "COLOR"], vec![2.into(), "red".into()]);
        assert_eq!(rows.get(0).unwrap().opt_str("COLOR"), Ok(Some("red")));
    }

    #[test]
    fn an_absent_column_not_marked_optional_names_the_column_and_the_table() {
        let rows = notes(&["ID", "COLOR"], vec![1.into(), Value::Null]);
        let row = rows.get(0).unwrap();
        for e in [
            row.opt_str("SIZE").unwrap_err(),
            row.opt_i64("SIZE").unwrap_err(),
            row.opt_timestamp("SIZE").unwrap_err(),
            row.i64("SIZE").unwrap_err(),
        ] {
            assert_eq!(
                e.to_string(),
                "column SIZE: no such column in table AO_479456_NOTE; if some versions of the \
                 app lack it, mark it optional in the manifest \
                 (`.optional_column(\"NOTE\", \"SIZE\")`) and read it with an `opt_` accessor \
                 (row ID 1)"
            );
        }
    }

    #[test]
    fn timestamps_read_every_representation_jira_uses() {
        let iso = 1_409_812_593_057;
        let rows = Rows::new(["ID", "AT"])
            .row([1.into(), Value::timestamp(iso)])
            // Jira Software: BIGINT milliseconds since the epoch.
            .row([2.into(), Value::Integer(iso)])
            .row([3.into(), "2014-09-04T06:36:33.057Z".into()])
            .row([4.into(), "2014-09-04T08:36:33.057+02:00".into()])
            .row([5.into(), "2014-09-04T06:36:33.057".into()])
            .row([6.into(), "2014-09-04 06:36:33.057".into()])
            .row([7.into(), "2014-09-04T06:36:33Z".into()])
            .row([8.into(), Value::Null]);
        let read: Vec<Option<i64>> = rows
            .iter()
            .map(|row| row.opt_timestamp("AT").unwrap())
            .collect();
        assert_eq!(
            read,
            [
                Some(iso),
                Some(iso),
                Some(iso),
                Some(iso),
                Some(iso),
                Some(iso),
                Some(iso - 57),
                None
            ]
        );
        assert_eq!(rows.get(1).unwrap().timestamp("AT"), Ok(iso));
        assert_eq!(
            rows.get(7)
                .unwrap()
                .timestamp("AT")
                .unwrap_err()
                .to_string(),
            "column AT: is null (row ID 8)"
        );
    }

    #[test]
    fn a_timestamp_that_is_not_one_is_refused_without_echoing_it() {
        let rows = Rows::new(["ID", "AT"])
            .row([1.into(), "yesterday".into()])
            .row([2.into(), 1.5.into()]);
        let e = rows
            .get(0)
            .unwrap()
            .timestamp("AT")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "column AT: expected timestamp, found string that is not an ISO 8601 date-time \
             (like 2014-09-04T06:36:33.057Z) (row ID 1)"
        );
        assert!(!e.contains("yesterday"), "row content stays out of errors");
        assert_eq!(
            rows.get(1)
                .unwrap()
                .opt_timestamp("AT")
                .unwrap_err()
                .to_string(),
            "column AT: expected timestamp, found double (row ID 2)"
        );
    }
}
