use crate::output::PluginError;
pub use airlock_contract::Value;
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

/// A batch of rows from one table, with its column names. Values are kept row after row
/// in one vector, as the host sends them.
#[derive(Clone, Debug, PartialEq)]
pub struct Rows {
    columns: Rc<[String]>,
    values: Vec<Value>,
    rows: usize,
}

impl Rows {
    /// An empty batch with these columns (upper case, as Active Objects names them).
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Rows {
        Rows {
            columns: columns.into_iter().map(Into::into).collect(),
            values: Vec::new(),
            rows: 0,
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
        }
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
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    pub fn new(columns: &'a [String], values: &'a [Value]) -> Row<'a> {
        Row { columns, values }
    }

    /// The raw value of a column, or `None` if the table has no such column.
    pub fn value(&self, column: &str) -> Option<&'a Value> {
        // Active Objects tables have a handful of columns: a scan beats hashing.
        let index = self.columns.iter().position(|c| same_name(c, column))?;
        self.values.get(index)
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

    fn error(&self, column: &str, problem: String) -> RowError {
        let row_id = match self.value("ID") {
            Some(Value::Integer(id)) => Some(*id),
            _ => None,
        };
        RowError {
            column: column.to_owned(),
            row_id,
            problem,
        }
    }

    fn present(&self, column: &str) -> Result<Option<&'a Value>, RowError> {
        match self.value(column) {
            None => Err(self.error(column, "no such column".into())),
            Some(Value::Null) => Ok(None),
            Some(v) => Ok(Some(v)),
        }
    }

    fn required(&self, column: &str) -> Result<&'a Value, RowError> {
        self.present(column)?
            .ok_or_else(|| self.error(column, "is null".into()))
    }

    fn wrong(&self, column: &str, want: &str, got: &Value) -> RowError {
        self.error(column, format!("expected {want}, found {}", got.kind()))
    }

    pub fn str(&self, column: &str) -> Result<&'a str, RowError> {
        self.opt_str(column)?
            .ok_or_else(|| self.error(column, "is null".into()))
    }

    pub fn opt_str(&self, column: &str) -> Result<Option<&'a str>, RowError> {
        match self.present(column)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(column, "string", other)),
        }
    }

    pub fn i64(&self, column: &str) -> Result<i64, RowError> {
        match self.required(column)? {
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
        match self.required(column)? {
            Value::Double(d) => Ok(*d),
            Value::Integer(i) => Ok(*i as f64),
            other => Err(self.wrong(column, "double", other)),
        }
    }

    pub fn bool(&self, column: &str) -> Result<bool, RowError> {
        match self.required(column)? {
            Value::Boolean(b) => Ok(*b),
            other => Err(self.wrong(column, "boolean", other)),
        }
    }

    /// A timestamp in milliseconds since the Unix epoch, UTC.
    pub fn timestamp(&self, column: &str) -> Result<i64, RowError> {
        self.opt_timestamp(column)?
            .ok_or_else(|| self.error(column, "is null".into()))
    }

    pub fn opt_timestamp(&self, column: &str) -> Result<Option<i64>, RowError> {
        match self.present(column)? {
            None => Ok(None),
            Some(Value::Timestamp(t)) => Ok(Some(*t)),
            Some(other) => Err(self.wrong(column, "timestamp", other)),
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
        assert_eq!(e.to_string(), "column MISSING: no such column (row ID 7)");
        let p: PluginError = e.into();
        assert_eq!(p.code, "bad-row");
        assert_eq!(p.row_id, Some(7));
    }
}
