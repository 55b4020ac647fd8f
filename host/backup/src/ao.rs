//! Streaming reader of `activeobjects.xml`, the apps' Active Objects tables.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use airlock_model::Value;
use quick_xml::events::Event;

use crate::BackupError;
use crate::dates::parse_ao_timestamp;
use crate::xml::{
    AttrsError, MAX_ELEMENT_BYTES, MAX_FIELDS, RowBudget, StartTag, Tag, XmlStream, is_nil,
    local_name, mib,
};

/// JDBC type codes that Active Objects declares in `sqlType` (`java.sql.Types`).
pub mod sql_type {
    /// `BIT`: booleans on most databases.
    pub const BIT: i32 = -7;
    /// `BOOLEAN`: booleans on a few databases.
    pub const BOOLEAN: i32 = 16;
    /// `TINYINT`.
    pub const TINYINT: i32 = -6;
    /// `SMALLINT`.
    pub const SMALLINT: i32 = 5;
    /// `INTEGER`.
    pub const INTEGER: i32 = 4;
    /// `BIGINT`.
    pub const BIGINT: i32 = -5;
    /// `NUMERIC`.
    pub const NUMERIC: i32 = 2;
    /// `DECIMAL`.
    pub const DECIMAL: i32 = 3;
    /// `FLOAT`.
    pub const FLOAT: i32 = 6;
    /// `REAL`.
    pub const REAL: i32 = 7;
    /// `DOUBLE`.
    pub const DOUBLE: i32 = 8;
    /// `CHAR`.
    pub const CHAR: i32 = 1;
    /// `VARCHAR`.
    pub const VARCHAR: i32 = 12;
    /// `LONGVARCHAR`.
    pub const LONGVARCHAR: i32 = -1;
    /// `NVARCHAR`.
    pub const NVARCHAR: i32 = -9;
    /// `CLOB`: long text.
    pub const CLOB: i32 = 2005;
    /// `NCLOB`.
    pub const NCLOB: i32 = 2011;
    /// `DATE`.
    pub const DATE: i32 = 91;
    /// `TIMESTAMP`.
    pub const TIMESTAMP: i32 = 93;

    /// The value element Active Objects writes for a column of this type, used to type a
    /// null (`<integer xsi:nil="true"/>`).
    pub fn value_element(sql_type: i32) -> &'static str {
        match sql_type {
            BIT | BOOLEAN => "boolean",
            TINYINT | SMALLINT | INTEGER | BIGINT => "integer",
            NUMERIC | DECIMAL | FLOAT | REAL | DOUBLE => "double",
            DATE | TIMESTAMP => "timestamp",
            _ => "string",
        }
    }
}

/// One column of an Active Objects table definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AoColumn {
    /// The column name, upper case (`ID`, `USER_KEY`).
    pub name: String,
    /// Part of the primary key (`ID` in practice).
    pub primary_key: bool,
    /// Filled in by the database on insert.
    pub auto_increment: bool,
    /// A JDBC type code, see [`sql_type`].
    pub sql_type: i32,
    /// Length of text, or digits of a number, when declared.
    pub precision: Option<i32>,
    /// Digits after the decimal point, when declared.
    pub scale: Option<i32>,
}

/// A foreign key between two Active Objects tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AoForeignKey {
    /// The referencing table.
    pub from_table: String,
    /// The referencing column.
    pub from_column: String,
    /// The referenced table.
    pub to_table: String,
    /// The referenced column (`ID` in practice).
    pub to_column: String,
}

/// A `<table>` definition: the schema of one app table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AoTable {
    /// The full table name, `AO_xxxxxx_ENTITY`.
    pub name: String,
    /// The columns in file order.
    pub columns: Vec<AoColumn>,
    /// The foreign keys from this table.
    pub foreign_keys: Vec<AoForeignKey>,
}

impl AoTable {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&AoColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column names, in definition order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }
}

/// Up to N rows of one table, in file order. A batch never spans two tables, and ends
/// early once its values hold [`MAX_ELEMENT_BYTES`](crate::MAX_ELEMENT_BYTES) (large rows
/// make smaller batches, so a batch's memory is bounded whatever N is).
#[derive(Clone, Debug, PartialEq)]
pub struct AoBatch {
    /// The full table name.
    pub table: String,
    /// The column names of the `<data>` section, shared by every batch of the table.
    pub columns: Arc<[String]>,
    /// How many rows of this table came before this batch.
    pub offset: u64,
    /// Each row holds one value per column, in column order.
    pub rows: Vec<Vec<Value>>,
}

impl AoBatch {
    /// The position of the column with this name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// A streaming reader of `activeobjects.xml`.
///
/// Creating it reads the table definitions (they come first in the file); then
/// [`AoReader::batches`] streams the `<data>` sections row by row. Memory stays bounded by
/// one batch whatever the file's size; sections the filter refuses are parsed past
/// without keeping anything. The first error ends the stream.
pub struct AoReader<R: BufRead> {
    xml: XmlStream<R>,
    database: Vec<(String, String)>,
    tables: Vec<AoTable>,
    /// What the definitions may still keep: see [`MAX_DEFINITIONS_BYTES`].
    definitions_left: usize,
    phase: Phase,
    /// Scratch for the text of one value, reused across values.
    text: String,
    /// Rows of the sections the filter refused, per table (at most
    /// [`MAX_SKIPPED_SECTIONS`] tables; the rows of any further ones are only summed).
    skipped: Vec<(String, u64)>,
    skipped_overflow_rows: u64,
}

/// How many refused sections [`AoReader::skipped_sections`] names: a hostile file may
/// hold any number of `<data>` sections, and the ledger must stay bounded.
pub const MAX_SKIPPED_SECTIONS: usize = 10_000;

enum Phase {
    /// Between sections; holds a `<data>` start already read, if any.
    Between(Option<StartTag>),
    /// Inside a wanted section.
    InData(Section),
    /// The end of `<backup>` was read, or an error ended the stream.
    Done,
}

struct Section {
    table: String,
    columns: Arc<[String]>,
    rows_read: u64,
    /// The first `<row>` was already read while looking for the end of the column list.
    row_started: Option<RowStart>,
}

#[derive(Clone, Copy)]
enum RowStart {
    Open,
    Empty,
}

#[derive(Clone, Copy)]
enum ValueKind {
    String,
    Integer,
    Double,
    Boolean,
    Timestamp,
}

impl ValueKind {
    fn from_name(name: &[u8]) -> Option<ValueKind> {
        Some(match name {
            b"string" => ValueKind::String,
            b"integer" => ValueKind::Integer,
            b"double" => ValueKind::Double,
            b"boolean" => ValueKind::Boolean,
            b"timestamp" => ValueKind::Timestamp,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Integer => "integer",
            ValueKind::Double => "double",
            ValueKind::Boolean => "boolean",
            ValueKind::Timestamp => "timestamp",
        }
    }
}

/// What the table definitions and the database metadata may keep in memory together. A
/// site with 100 apps of 50 tables of 50 columns keeps about 16 MiB of them.
const MAX_DEFINITIONS_BYTES: usize = 64 << 20;

const HINT_DAMAGED: &str = "The file is damaged or was not written by Jira; make a fresh backup.";
const HINT_VALUE: &str =
    "Correct or remove that row in the source Jira (through the app), then make a fresh backup.";

impl AoReader<BufReader<File>> {
    /// Opens a plain `activeobjects.xml` (not inside a zip), as a plugin fixture directory
    /// holds it. Errors name the file by its path.
    pub fn open_file(path: impl AsRef<Path>) -> Result<Self, BackupError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| BackupError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        AoReader::new(
            BufReader::with_capacity(64 * 1024, file),
            &path.display().to_string(),
        )
    }
}

impl<R: BufRead> AoReader<R> {
    /// Reads the header and every `<table>` definition from `input`; `file` names the
    /// input in errors (usually `activeobjects.xml`).
    pub fn new(input: R, file: &str) -> Result<Self, BackupError> {
        let mut reader = AoReader {
            xml: XmlStream::new(input, file),
            database: Vec::new(),
            tables: Vec::new(),
            definitions_left: MAX_DEFINITIONS_BYTES,
            phase: Phase::Done,
            text: String::new(),
            skipped: Vec::new(),
            skipped_overflow_rows: 0,
        };
        let result = reader.read_definitions();
        result.map(|phase| {
            reader.phase = phase;
            reader
        })
    }

    /// The table definitions, in file order.
    pub fn tables(&self) -> &[AoTable] {
        &self.tables
    }

    /// The definition of one table.
    pub fn table(&self, name: &str) -> Option<&AoTable> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The sections streamed past so far because the filter refused them: table name and
    /// row count, in file order (at most [`MAX_SKIPPED_SECTIONS`]).
    pub fn skipped_sections(&self) -> &[(String, u64)] {
        &self.skipped
    }

    /// Rows of refused sections beyond [`MAX_SKIPPED_SECTIONS`] tables.
    pub fn skipped_overflow_rows(&self) -> u64 {
        self.skipped_overflow_rows
    }

    /// The `<database>` metadata (database and driver names and versions), if present.
    pub fn database_meta(&self) -> &[(String, String)] {
        &self.database
    }

    /// Iterates over the rows of the tables `filter` accepts, in batches of at most
    /// `max_rows` rows (at least 1). The filter is asked once per `<data>` section; the
    /// sections it refuses are streamed past without being kept.
    pub fn batches<F: FnMut(&str) -> bool>(
        &mut self,
        max_rows: usize,
        filter: F,
    ) -> AoBatches<'_, R, F> {
        AoBatches {
            reader: self,
            max_rows,
            filter,
        }
    }

    /// The next batch of at most `max_rows` rows of a table `filter` accepts, or `None`
    /// at the end of the file. See [`AoReader::batches`].
    pub fn next_batch(
        &mut self,
        max_rows: usize,
        mut filter: impl FnMut(&str) -> bool,
    ) -> Result<Option<AoBatch>, BackupError> {
        let max_rows = max_rows.max(1);
        loop {
            // Taking the phase out leaves `Done` behind, so an error ends the stream.
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return Ok(None),
                Phase::Between(pending) => {
                    let start = match pending {
                        Some(start) => start,
                        None => match self.next_section()? {
                            Some(found) => found,
                            None => return Ok(None),
                        },
                    };
                    self.phase = self.enter_section(start, &mut filter)?;
                }
                Phase::InData(mut section) => {
                    let offset = section.rows_read;
                    let mut rows = Vec::with_capacity(max_rows.min(1024));
                    let mut bytes = 0usize;
                    let mut finished = false;
                    while rows.len() < max_rows && bytes < MAX_ELEMENT_BYTES {
                        match self.read_row(&mut section)? {
                            Some(row) => {
                                bytes += row_bytes(&row);
                                rows.push(row);
                            }
                            None => {
                                finished = true;
                                break;
                            }
                        }
                    }
                    let batch = AoBatch {
                        table: section.table.clone(),
                        columns: section.columns.clone(),
                        offset,
                        rows,
                    };
                    self.phase = if finished {
                        Phase::Between(None)
                    } else {
                        Phase::InData(section)
                    };
                    if !batch.rows.is_empty() {
                        return Ok(Some(batch));
                    }
                }
            }
        }
    }

    fn read_definitions(&mut self) -> Result<Phase, BackupError> {
        let top = || "at the start of the file".to_string();
        match self.xml.next_tag(&top)? {
            Tag::Start(tag) if tag.name == "backup" => {}
            Tag::Empty(tag) if tag.name == "backup" => return Ok(Phase::Done),
            Tag::Start(tag) | Tag::Empty(tag) => {
                return Err(self.xml.invalid(
                    top(),
                    format!("the root element is <{}>, not <backup>", tag.name),
                    "This is not an Active Objects backup: supply the activeobjects.xml of a Jira XML backup.",
                ));
            }
            Tag::Eof | Tag::End | Tag::StrayText => {
                return Err(self.xml.invalid(
                    top(),
                    "the file holds no <backup> element",
                    "The file is empty or truncated: make a fresh backup with Jira's \"Backup system\".",
                ));
            }
        }
        let in_backup = || "in <backup>".to_string();
        loop {
            match self.xml.next_tag(&in_backup)? {
                Tag::Start(tag) if tag.name == "database" => self.read_database()?,
                Tag::Start(tag) | Tag::Empty(tag) if tag.name == "table" => {
                    let table = self.read_table(&tag)?;
                    self.tables.push(table);
                }
                Tag::Start(tag) | Tag::Empty(tag) if tag.name == "data" => {
                    return Ok(Phase::Between(Some(tag)));
                }
                Tag::End => return Ok(Phase::Done),
                // Sections this reader does not know are skipped: they hold no table rows.
                Tag::Start(tag) => self.xml.skip_element(&tag.qname, &in_backup)?,
                Tag::Empty(_) => {}
                Tag::Eof | Tag::StrayText => return Err(self.xml.truncated(in_backup())),
            }
        }
    }

    fn read_database(&mut self) -> Result<(), BackupError> {
        let context = || "in <database>".to_string();
        loop {
            match self.xml.next_tag(&context)? {
                Tag::Empty(tag) | Tag::Start(tag) if tag.name == "meta" => {
                    let attrs = self.attrs_ok(&tag, &context)?;
                    let find = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                    if let (Some(key), Some(value)) = (find("key"), find("value")) {
                        self.keep(FIELD_BYTES + key.len() + value.len(), &context)?;
                        self.database.push((key, value));
                    }
                    self.skip_if_open(&tag, &context)?;
                }
                Tag::Start(tag) => self.xml.skip_element(&tag.qname, &context)?,
                Tag::Empty(_) => {}
                Tag::End => return Ok(()),
                Tag::Eof | Tag::StrayText => return Err(self.xml.truncated(context())),
            }
        }
    }

    fn read_table(&mut self, start: &StartTag) -> Result<AoTable, BackupError> {
        let here = || "in a <table>".to_string();
        self.attrs_ok(start, &here)?;
        let Some(name) = start.attr("name").map(str::to_owned) else {
            return Err(self
                .xml
                .invalid(here(), "a <table> without a name", HINT_DAMAGED));
        };
        self.keep(std::mem::size_of::<AoTable>() + name.len(), &here)?;
        let mut table = AoTable {
            name,
            columns: Vec::new(),
            foreign_keys: Vec::new(),
        };
        if !start.open {
            return Ok(table);
        }
        let context = || format!("in <table name=\"{}\">", table.name);
        loop {
            let tag = match self.xml.next_tag(&context)? {
                Tag::End => break,
                Tag::Eof | Tag::StrayText => return Err(self.xml.truncated(context())),
                Tag::Start(tag) | Tag::Empty(tag) => tag,
            };
            if tag.name != "column" && tag.name != "foreignKey" {
                // Index definitions and the like: not needed to read rows.
                self.skip_if_open(&tag, &context)?;
                continue;
            }
            self.attrs_ok(&tag, &context)?;
            if tag.name == "column" {
                let column = self.parse_column(&tag, &context)?;
                self.keep(
                    std::mem::size_of::<AoColumn>() + column.name.len(),
                    &context,
                )?;
                table.columns.push(column);
            } else {
                let attr = |k: &str| tag.attr(k).map(str::to_owned);
                match (
                    attr("fromTable"),
                    attr("fromColumn"),
                    attr("toTable"),
                    attr("toColumn"),
                ) {
                    (Some(from_table), Some(from_column), Some(to_table), Some(to_column)) => {
                        self.keep(
                            std::mem::size_of::<AoForeignKey>()
                                + from_table.len()
                                + from_column.len()
                                + to_table.len()
                                + to_column.len(),
                            &context,
                        )?;
                        table.foreign_keys.push(AoForeignKey {
                            from_table,
                            from_column,
                            to_table,
                            to_column,
                        })
                    }
                    _ => {
                        return Err(self.xml.invalid(
                            context(),
                            "a <foreignKey> lacks fromTable, fromColumn, toTable or toColumn",
                            HINT_DAMAGED,
                        ));
                    }
                }
            }
            self.skip_if_open(&tag, &context)?;
        }
        Ok(table)
    }

    fn parse_column(
        &self,
        tag: &StartTag,
        context: &dyn Fn() -> String,
    ) -> Result<AoColumn, BackupError> {
        let Some(name) = tag.attr("name") else {
            return Err(self
                .xml
                .invalid(context(), "a <column> without a name", HINT_DAMAGED));
        };
        let column_context = || format!("{}, column {name}", context());
        let number = |attr: &str| -> Result<Option<i32>, BackupError> {
            match tag.attr(attr) {
                None => Ok(None),
                Some(text) => text.trim().parse::<i32>().map(Some).map_err(|_| {
                    self.xml.invalid(
                        column_context(),
                        format!("the {attr} attribute is not a whole number"),
                        HINT_DAMAGED,
                    )
                }),
            }
        };
        let Some(sql_type) = number("sqlType")? else {
            return Err(self.xml.invalid(
                column_context(),
                "the column has no sqlType",
                HINT_DAMAGED,
            ));
        };
        let flag = |attr: &str| tag.attr(attr).is_some_and(|v| v.trim() == "true");
        Ok(AoColumn {
            name: name.to_owned(),
            primary_key: flag("primaryKey"),
            auto_increment: flag("autoIncrement"),
            sql_type,
            precision: number("precision")?,
            scale: number("scale")?,
        })
    }

    /// Finds the next `<data>` start between sections; `None` at the end of `<backup>`.
    fn next_section(&mut self) -> Result<Option<StartTag>, BackupError> {
        let context = || "in <backup>, between <data> sections".to_string();
        loop {
            match self.xml.next_tag(&context)? {
                Tag::Start(tag) | Tag::Empty(tag) if tag.name == "data" => return Ok(Some(tag)),
                Tag::Start(tag) | Tag::Empty(tag) if tag.name == "table" => {
                    return Err(self.xml.invalid(
                        context(),
                        "a <table> definition after the data sections",
                        "Jira writes every table definition before the data; the file was re-ordered \
                         or not written by Jira. Make a fresh backup.",
                    ));
                }
                Tag::Start(tag) => self.xml.skip_element(&tag.qname, &context)?,
                Tag::Empty(_) => {}
                Tag::End => {
                    self.xml.drain()?;
                    return Ok(None);
                }
                Tag::Eof | Tag::StrayText => return Err(self.xml.truncated(context())),
            }
        }
    }

    /// Reads a `<data>` start: skips the section if unwanted or empty, else reads its
    /// column list and returns the phase to read its rows in.
    fn enter_section(
        &mut self,
        start: StartTag,
        filter: &mut impl FnMut(&str) -> bool,
    ) -> Result<Phase, BackupError> {
        let here = || "in a <data> section".to_string();
        self.attrs_ok(&start, &here)?;
        let Some(table) = start.attr("tableName").map(str::to_owned) else {
            return Err(self.xml.invalid(
                here(),
                "a <data> section without a tableName",
                HINT_DAMAGED,
            ));
        };
        let context = || format!("in <data tableName=\"{table}\">");
        if !start.open {
            return Ok(Phase::Between(None));
        }
        if !filter(&table) {
            let rows = self
                .xml
                .skip_element_counting(&start.qname, b"row", &context)?;
            if self.skipped.len() < MAX_SKIPPED_SECTIONS {
                self.skipped.push((table, rows));
            } else {
                self.skipped_overflow_rows += rows;
            }
            return Ok(Phase::Between(None));
        }
        let mut columns = Vec::new();
        let mut room = RowBudget::new();
        let row_started = loop {
            match self.xml.next_tag(&context)? {
                Tag::Start(tag) | Tag::Empty(tag) if tag.name == "column" => {
                    self.attrs_ok(&tag, &context)?;
                    let Some(name) = tag.attr("name") else {
                        return Err(self.xml.invalid(
                            context(),
                            "a <column> without a name",
                            HINT_DAMAGED,
                        ));
                    };
                    if !room.take(FIELD_BYTES + name.len()) {
                        return Err(self.xml.too_large_at(
                            self.xml.line(),
                            context(),
                            format!(
                                "a <data> section listing more than {MAX_FIELDS} columns, or more than {} of column names",
                                mib(MAX_ELEMENT_BYTES)
                            ),
                        ));
                    }
                    columns.push(name.to_owned());
                    self.skip_if_open(&tag, &context)?;
                }
                Tag::Start(tag) if tag.name == "row" => break Some(RowStart::Open),
                Tag::Empty(tag) if tag.name == "row" => break Some(RowStart::Empty),
                Tag::End => break None,
                Tag::Start(tag) | Tag::Empty(tag) => {
                    return Err(self.xml.invalid(
                        context(),
                        format!("unexpected element <{}> before the rows", tag.name),
                        HINT_DAMAGED,
                    ));
                }
                Tag::Eof | Tag::StrayText => return Err(self.xml.truncated(context())),
            }
        };
        if row_started.is_none() {
            return Ok(Phase::Between(None));
        }
        Ok(Phase::InData(Section {
            table,
            columns: columns.into(),
            rows_read: 0,
            row_started,
        }))
    }

    /// Reads the next row of the section; `None` at `</data>`.
    fn read_row(&mut self, section: &mut Section) -> Result<Option<Vec<Value>>, BackupError> {
        let start = match section.row_started.take() {
            Some(start) => start,
            None => {
                let context = || {
                    format!(
                        "in <data tableName=\"{}\">, after row {}",
                        section.table, section.rows_read
                    )
                };
                match self.xml.next_tag(&context)? {
                    Tag::Start(tag) if tag.name == "row" => RowStart::Open,
                    Tag::Empty(tag) if tag.name == "row" => RowStart::Empty,
                    Tag::End => return Ok(None),
                    Tag::Start(tag) | Tag::Empty(tag) => {
                        return Err(self.xml.invalid(
                            context(),
                            format!("unexpected element <{}> among the rows", tag.name),
                            HINT_DAMAGED,
                        ));
                    }
                    Tag::Eof | Tag::StrayText => return Err(self.xml.truncated(context())),
                }
            }
        };
        section.rows_read += 1;
        let row_number = section.rows_read;
        let mut values = Vec::with_capacity(section.columns.len());
        let count = match start {
            RowStart::Open => self.read_values(section, row_number, &mut values)?,
            RowStart::Empty => 0,
        };
        if count != section.columns.len() {
            return Err(self.xml.invalid(
                format!(
                    "in <data tableName=\"{}\">, row {row_number}",
                    section.table
                ),
                format!(
                    "the row holds {count} values but the section lists {} columns",
                    section.columns.len()
                ),
                HINT_DAMAGED,
            ));
        }
        Ok(Some(values))
    }

    /// Reads the values of a row up to its end into `values`, at most one per column (the
    /// values beyond are read past, not kept), and returns how many the row holds.
    fn read_values(
        &mut self,
        section: &Section,
        row: u64,
        values: &mut Vec<Value>,
    ) -> Result<usize, BackupError> {
        enum Step {
            Value(ValueKind, bool, bool),
            Unknown(String),
            EndRow,
            Skip,
            Text,
            Eof,
        }
        let context = |index: usize| {
            let column = section.columns.get(index).map_or("(none)", String::as_str);
            format!(
                "in <data tableName=\"{}\">, row {row}, value {} (column {column})",
                section.table,
                index + 1
            )
        };
        let mut room = RowBudget::new();
        let mut count = 0;
        loop {
            let step = match self.xml.read_event() {
                Err(e) => Err(AttrsError::Xml(e)),
                Ok(Event::Start(e)) => match ValueKind::from_name(e.local_name().as_ref()) {
                    Some(kind) => is_nil(&e).map(|nil| Step::Value(kind, nil, false)),
                    None => Ok(Step::Unknown(local_name(e.local_name().as_ref()))),
                },
                Ok(Event::Empty(e)) => match ValueKind::from_name(e.local_name().as_ref()) {
                    Some(kind) => is_nil(&e).map(|nil| Step::Value(kind, nil, true)),
                    None => Ok(Step::Unknown(local_name(e.local_name().as_ref()))),
                },
                Ok(Event::End(_)) => Ok(Step::EndRow),
                Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => Ok(Step::Skip),
                Ok(Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) => Ok(Step::Text),
                Ok(Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_)) => {
                    Ok(Step::Skip)
                }
                Ok(Event::Eof) => Ok(Step::Eof),
            };
            let index = count;
            match step {
                Err(e) => return Err(self.xml.attrs_error(context(index), &e)),
                Ok(Step::Skip) => {}
                Ok(Step::EndRow) => return Ok(count),
                Ok(Step::Eof) => return Err(self.xml.truncated(context(index))),
                Ok(Step::Text) => {
                    return Err(self.xml.invalid(
                        context(index),
                        "text directly inside <row>, outside a value element",
                        HINT_DAMAGED,
                    ));
                }
                Ok(Step::Unknown(name)) => {
                    return Err(self.xml.invalid(
                        context(index),
                        format!("unknown value element <{name}>"),
                        "Active Objects values are <string>, <integer>, <double>, <boolean> and \
                         <timestamp>; this file was written by a Jira or Active Objects version \
                         Airlock does not know. Report the Jira version to the Airlock team.",
                    ));
                }
                Ok(Step::Value(_, _, empty)) if count >= section.columns.len() => {
                    // More values than columns: read, not kept (the row is refused at its
                    // end, with the count).
                    count += 1;
                    if !empty {
                        self.xml
                            .read_text(&mut self.text, &room, &|| context(index))?;
                    }
                }
                Ok(Step::Value(kind, nil, empty)) => {
                    count += 1;
                    let line = self.xml.line();
                    if empty {
                        self.text.clear();
                    } else {
                        self.xml
                            .read_text(&mut self.text, &room, &|| context(index))?;
                    }
                    if !room.take(self.text.len()) {
                        return Err(self.xml.too_large_at(line, context(index), room.what()));
                    }
                    let value = if nil {
                        Value::Null
                    } else {
                        match parse_value(kind, &self.text, empty) {
                            Ok(value) => value,
                            Err(problem) => {
                                return Err(self.xml.invalid_at(
                                    line,
                                    context(index),
                                    problem,
                                    HINT_VALUE,
                                ));
                            }
                        }
                    };
                    values.push(value);
                }
            }
        }
    }

    fn attrs_ok<'t>(
        &self,
        tag: &'t StartTag,
        context: &dyn Fn() -> String,
    ) -> Result<&'t [(String, String)], BackupError> {
        match &tag.attrs {
            Ok(attrs) => Ok(attrs),
            Err(e) => Err(self.xml.attrs_error(context(), e)),
        }
    }

    /// Counts `bytes` more of table definitions kept in memory; over
    /// [`MAX_DEFINITIONS_BYTES`] reading stops.
    fn keep(&mut self, bytes: usize, context: &dyn Fn() -> String) -> Result<(), BackupError> {
        match self.definitions_left.checked_sub(bytes) {
            Some(left) => {
                self.definitions_left = left;
                Ok(())
            }
            None => Err(self.xml.too_large_at(
                self.xml.line(),
                context(),
                format!(
                    "table definitions holding more than {} together",
                    mib(MAX_DEFINITIONS_BYTES)
                ),
            )),
        }
    }

    /// Skips the content of an element the caller only needed the attributes of.
    fn skip_if_open(
        &mut self,
        tag: &StartTag,
        context: &dyn Fn() -> String,
    ) -> Result<(), BackupError> {
        if tag.open {
            self.xml.skip_element(&tag.qname, context)?;
        }
        Ok(())
    }
}

/// What one kept field costs besides its text: a `(String, String)` or a `String` and a
/// little more.
const FIELD_BYTES: usize = std::mem::size_of::<(String, String)>();

/// What a row's values take in memory, roughly: the cells and their text.
fn row_bytes(row: &[Value]) -> usize {
    row.iter()
        .map(|v| {
            std::mem::size_of::<Value>()
                + match v {
                    Value::String(s) => s.len(),
                    _ => 0,
                }
        })
        .sum()
}

fn parse_value(kind: ValueKind, text: &str, empty: bool) -> Result<Value, String> {
    if let ValueKind::String = kind {
        return Ok(Value::String(text.to_owned()));
    }
    let trimmed = text.trim();
    if empty || trimmed.is_empty() {
        return Err(format!(
            "an empty <{}> without xsi:nil=\"true\"",
            kind.name()
        ));
    }
    match kind {
        ValueKind::String => unreachable!("handled above"),
        ValueKind::Integer => trimmed
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| "an <integer> value that is not a whole number within 64 bits".to_owned()),
        ValueKind::Double => parse_double(trimmed)
            .map(Value::Double)
            .ok_or_else(|| "a <double> value that is not a number".to_owned()),
        ValueKind::Boolean => match trimmed {
            "true" | "1" => Ok(Value::Boolean(true)),
            "false" | "0" => Ok(Value::Boolean(false)),
            _ => Err("a <boolean> value that is neither true nor false".to_owned()),
        },
        ValueKind::Timestamp => parse_ao_timestamp(trimmed)
            .map(Value::Timestamp)
            .ok_or_else(|| {
                "a <timestamp> value that is not a date like 2014-09-04T06:36:33.057Z".to_owned()
            }),
    }
}

/// Java's `Double.toString` forms, including `NaN` and `Infinity`.
fn parse_double(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        // Rust would also take "inf" or "nan" in any case: Java never writes those.
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            None
        }
        _ => text.parse::<f64>().ok(),
    }
}

/// Iterator over the batches of the wanted tables; see [`AoReader::batches`].
pub struct AoBatches<'a, R: BufRead, F> {
    reader: &'a mut AoReader<R>,
    max_rows: usize,
    filter: F,
}

impl<R: BufRead, F: FnMut(&str) -> bool> Iterator for AoBatches<'_, R, F> {
    type Item = Result<AoBatch, BackupError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader
            .next_batch(self.max_rows, &mut self.filter)
            .transpose()
    }
}
