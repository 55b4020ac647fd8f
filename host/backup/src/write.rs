//! Writers of both backup files, used by the fixture generator (and by tests).
//!
//! They write in the shape Jira does (indentation included) so that fixtures look like the
//! real thing, and they refuse what XML 1.0 cannot hold instead of writing a broken file.

use std::borrow::Cow;
use std::io::Write;

use airlock_model::Value;

use crate::ao::{AoTable, sql_type};
use crate::dates::format_ao_timestamp;
use crate::{ACTIVE_OBJECTS_XML, BackupError, ENTITIES_XML};

/// A character XML 1.0 cannot hold, even escaped.
#[derive(Debug)]
struct Unrepresentable(u32);

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for element content (`attribute == false`) or a double-quoted attribute.
/// Carriage returns, and in attributes tabs and newlines, become character references so
/// that a reader's end-of-line and attribute normalisation give back the same text.
fn escape(text: &str, attribute: bool) -> Result<Cow<'_, str>, Unrepresentable> {
    let needs = |c: char| {
        matches!(c, '<' | '>' | '&' | '\r')
            || (attribute && matches!(c, '"' | '\n' | '\t'))
            || !is_xml_char(c)
    };
    if !text.chars().any(needs) {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if !is_xml_char(c) => return Err(Unrepresentable(u32::from(c))),
            c => out.push(c),
        }
    }
    Ok(Cow::Owned(out))
}

/// Element and attribute names come from code, but a typo must not produce broken XML.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn unrepresentable(
    file: &'static str,
    context: impl Into<String>,
    bad: Unrepresentable,
) -> BackupError {
    BackupError::Unwritable {
        file,
        context: context.into(),
        problem: format!("U+{:04X} cannot be written in XML 1.0", bad.0),
    }
}

fn bad_name(file: &'static str, context: impl Into<String>, name: &str) -> BackupError {
    BackupError::Unwritable {
        file,
        context: context.into(),
        problem: format!("`{name}` is not a valid XML name"),
    }
}

/// Writes an `activeobjects.xml`: the header, optional database metadata, every table
/// definition, then one `<data>` section per table.
///
/// The order is enforced: [`AoWriter::table`] after [`AoWriter::begin_data`] is an error.
/// Nulls are written with the element of the column's `sqlType`, as Active Objects does.
pub struct AoWriter<W: Write> {
    out: W,
    tables: Vec<Defined>,
    state: AoState,
    line: String,
}

/// A table already defined: its column names and, per column, the element a null is
/// written with.
struct Defined {
    name: String,
    columns: Vec<String>,
    nulls: Vec<&'static str>,
}

enum AoState {
    Definitions { meta_allowed: bool },
    Data { table: usize, rows: u64 },
    NoData,
}

impl<W: Write> AoWriter<W> {
    /// Starts the document.
    pub fn new(out: W) -> Result<Self, BackupError> {
        let mut writer = AoWriter {
            out,
            tables: Vec::new(),
            state: AoState::Definitions { meta_allowed: true },
            line: String::with_capacity(256),
        };
        writer.put(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <backup xmlns=\"http://www.atlassian.com/ao\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n",
        )?;
        Ok(writer)
    }

    /// Writes the `<database>` metadata (e.g. `database.name` = `PostgreSQL`); only
    /// before the first table.
    pub fn database_meta(&mut self, meta: &[(&str, &str)]) -> Result<(), BackupError> {
        if !matches!(self.state, AoState::Definitions { meta_allowed: true }) {
            return Err(self.order(
                "<database>",
                "the database metadata must come before every table",
            ));
        }
        self.state = AoState::Definitions {
            meta_allowed: false,
        };
        let mut text = String::from("    <database>\n");
        for (key, value) in meta {
            let key = escape(key, true)
                .map_err(|e| unrepresentable(ACTIVE_OBJECTS_XML, "<database>", e))?;
            let value = escape(value, true)
                .map_err(|e| unrepresentable(ACTIVE_OBJECTS_XML, "<database>", e))?;
            text.push_str(&format!(
                "        <meta key=\"{key}\" value=\"{value}\"/>\n"
            ));
        }
        text.push_str("    </database>\n");
        self.put(&text)
    }

    /// Writes one `<table>` definition.
    pub fn table(&mut self, table: &AoTable) -> Result<(), BackupError> {
        if !matches!(self.state, AoState::Definitions { .. }) {
            return Err(self.order(
                &format!("<table name=\"{}\">", table.name),
                "every table definition must come before the first data section",
            ));
        }
        self.state = AoState::Definitions {
            meta_allowed: false,
        };
        let context = || format!("<table name=\"{}\">", table.name);
        let attr = |text: &str| -> Result<String, BackupError> {
            escape(text, true)
                .map(Cow::into_owned)
                .map_err(|e| unrepresentable(ACTIVE_OBJECTS_XML, context(), e))
        };
        if self.tables.iter().any(|t| t.name == table.name) {
            return Err(BackupError::Unwritable {
                file: ACTIVE_OBJECTS_XML,
                context: context(),
                problem: "the table is defined twice".into(),
            });
        }
        let mut text = format!("    <table name=\"{}\">\n", attr(&table.name)?);
        for column in &table.columns {
            text.push_str(&format!(
                "        <column name=\"{}\" primaryKey=\"{}\" autoIncrement=\"{}\" sqlType=\"{}\"",
                attr(&column.name)?,
                column.primary_key,
                column.auto_increment,
                column.sql_type
            ));
            if let Some(precision) = column.precision {
                text.push_str(&format!(" precision=\"{precision}\""));
            }
            if let Some(scale) = column.scale {
                text.push_str(&format!(" scale=\"{scale}\""));
            }
            text.push_str("/>\n");
        }
        for fk in &table.foreign_keys {
            text.push_str(&format!(
                "        <foreignKey fromTable=\"{}\" fromColumn=\"{}\" toTable=\"{}\" toColumn=\"{}\"/>\n",
                attr(&fk.from_table)?,
                attr(&fk.from_column)?,
                attr(&fk.to_table)?,
                attr(&fk.to_column)?
            ));
        }
        text.push_str("    </table>\n");
        self.put(&text)?;
        self.tables.push(Defined {
            name: table.name.clone(),
            columns: table.columns.iter().map(|c| c.name.clone()).collect(),
            nulls: table
                .columns
                .iter()
                .map(|c| sql_type::value_element(c.sql_type))
                .collect(),
        });
        Ok(())
    }

    /// Starts the `<data>` section of a defined table, listing its columns in definition
    /// order; ends the previous section.
    pub fn begin_data(&mut self, table: &str) -> Result<(), BackupError> {
        let Some(index) = self.tables.iter().position(|t| t.name == table) else {
            return Err(BackupError::Unwritable {
                file: ACTIVE_OBJECTS_XML,
                context: format!("<data tableName=\"{table}\">"),
                problem: "the table has no definition".into(),
            });
        };
        self.end_data()?;
        let mut text = format!("    <data tableName=\"{}\">\n", self.attr_text(table)?);
        for column in &self.tables[index].columns {
            // Escaped without error: the same text was escaped when the table was defined.
            let column = escape(column, true).unwrap_or_default();
            text.push_str(&format!("        <column name=\"{column}\"/>\n"));
        }
        self.put(&text)?;
        self.state = AoState::Data {
            table: index,
            rows: 0,
        };
        Ok(())
    }

    /// Writes one row of the current section: one value per column.
    pub fn row(&mut self, values: &[Value]) -> Result<(), BackupError> {
        let AoState::Data { table, rows } = &mut self.state else {
            return Err(self.order("<row>", "a row must follow begin_data"));
        };
        *rows += 1;
        let Defined { name, nulls, .. } = &self.tables[*table];
        let context = || format!("<data tableName=\"{name}\">, row {rows}");
        if values.len() != nulls.len() {
            return Err(BackupError::Unwritable {
                file: ACTIVE_OBJECTS_XML,
                context: context(),
                problem: format!("{} values for {} columns", values.len(), nulls.len()),
            });
        }
        let line = &mut self.line;
        line.clear();
        line.push_str("        <row>\n");
        for (value, null) in values.iter().zip(nulls) {
            let (element, text): (&str, Cow<'_, str>) = match value {
                Value::Null => {
                    line.push_str(&format!("            <{null} xsi:nil=\"true\"/>\n"));
                    continue;
                }
                Value::String(s) => (
                    "string",
                    escape(s, false)
                        .map_err(|e| unrepresentable(ACTIVE_OBJECTS_XML, context(), e))?,
                ),
                Value::Integer(i) => ("integer", Cow::Owned(i.to_string())),
                Value::Double(d) => ("double", Cow::Owned(format_double(*d))),
                Value::Boolean(b) => ("boolean", Cow::Owned(b.to_string())),
                Value::Timestamp(ms) => match format_ao_timestamp(*ms) {
                    Some(text) => ("timestamp", Cow::Owned(text)),
                    None => {
                        return Err(BackupError::Unwritable {
                            file: ACTIVE_OBJECTS_XML,
                            context: context(),
                            problem: "a timestamp outside the years 0 to 9999".into(),
                        });
                    }
                },
            };
            if text.is_empty() {
                line.push_str(&format!("            <{element}/>\n"));
            } else {
                line.push_str(&format!("            <{element}>{text}</{element}>\n"));
            }
        }
        line.push_str("        </row>\n");
        let line = std::mem::take(&mut self.line);
        let result = self.put(&line);
        self.line = line;
        result
    }

    /// Ends the document and hands back the writer (flushed).
    pub fn finish(mut self) -> Result<W, BackupError> {
        self.end_data()?;
        self.put("</backup>\n")?;
        self.out.flush().map_err(|source| BackupError::Write {
            file: ACTIVE_OBJECTS_XML,
            source,
        })?;
        Ok(self.out)
    }

    fn end_data(&mut self) -> Result<(), BackupError> {
        if let AoState::Data { .. } = self.state {
            self.put("    </data>\n")?;
        }
        self.state = AoState::NoData;
        Ok(())
    }

    fn attr_text(&self, text: &str) -> Result<String, BackupError> {
        escape(text, true)
            .map(Cow::into_owned)
            .map_err(|e| unrepresentable(ACTIVE_OBJECTS_XML, "<data>", e))
    }

    fn order(&self, context: &str, problem: &str) -> BackupError {
        BackupError::Unwritable {
            file: ACTIVE_OBJECTS_XML,
            context: context.to_owned(),
            problem: problem.to_owned(),
        }
    }

    fn put(&mut self, text: &str) -> Result<(), BackupError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|source| BackupError::Write {
                file: ACTIVE_OBJECTS_XML,
                source,
            })
    }
}

/// Java's `Double.toString` spellings for the special values; Rust's shortest round-trip
/// form otherwise (`8.0`, `0.1`, `1e300`), which Java parses too.
fn format_double(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "Infinity".into()
    } else if value == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        format!("{value:?}")
    }
}

/// Writes an `entities.xml`: the declaration, a comment, and `<entity-engine-xml>` with one
/// element per row, streamed as given.
pub struct EntitiesWriter<W: Write> {
    out: W,
    text: String,
}

impl<W: Write> EntitiesWriter<W> {
    /// Starts the document; `comment` is the system-information comment Jira puts first
    /// (`--` in it is defused, as XML comments cannot hold it).
    pub fn new(out: W, comment: &str) -> Result<Self, BackupError> {
        let mut writer = EntitiesWriter {
            out,
            text: String::with_capacity(1024),
        };
        let mut comment = comment.to_owned();
        while comment.contains("--") {
            comment = comment.replace("--", "- -");
        }
        if comment.ends_with('-') {
            comment.push(' ');
        }
        if let Some(c) = comment.chars().find(|&c| !is_xml_char(c)) {
            return Err(unrepresentable(
                ENTITIES_XML,
                "the header comment",
                Unrepresentable(u32::from(c)),
            ));
        }
        let header = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!--\n{comment}\n-->\n<entity-engine-xml>\n"
        );
        writer.put(&header)?;
        Ok(writer)
    }

    /// Writes one row as an empty element whose attributes are the fields:
    /// `<Issue id="10000" summary="…"/>`.
    pub fn entity(&mut self, name: &str, attrs: &[(&str, &str)]) -> Result<(), BackupError> {
        self.entity_with_text(name, attrs, &[])
    }

    /// Writes one row whose long-text fields are child elements, as Jira writes
    /// descriptions and bodies: `<Action …><body><![CDATA[…]]></body></Action>`.
    pub fn entity_with_text(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        texts: &[(&str, &str)],
    ) -> Result<(), BackupError> {
        if !is_xml_name(name) {
            return Err(bad_name(ENTITIES_XML, "an entity", name));
        }
        let context = || format!("<{name}>");
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        text.push_str("    <");
        text.push_str(name);
        for (key, value) in attrs {
            if !is_xml_name(key) {
                return Err(bad_name(ENTITIES_XML, context(), key));
            }
            let value =
                escape(value, true).map_err(|e| unrepresentable(ENTITIES_XML, context(), e))?;
            text.push(' ');
            text.push_str(key);
            text.push_str("=\"");
            text.push_str(&value);
            text.push('"');
        }
        if texts.is_empty() {
            text.push_str("/>\n");
        } else {
            text.push_str(">\n");
            for (key, value) in texts {
                if !is_xml_name(key) {
                    return Err(bad_name(ENTITIES_XML, context(), key));
                }
                text.push_str("        <");
                text.push_str(key);
                text.push('>');
                if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
                    return Err(unrepresentable(
                        ENTITIES_XML,
                        context(),
                        Unrepresentable(u32::from(c)),
                    ));
                }
                if value.contains('\r') {
                    // CDATA cannot keep a carriage return from end-of-line normalisation.
                    let escaped = escape(value, false)
                        .map_err(|e| unrepresentable(ENTITIES_XML, context(), e))?;
                    text.push_str(&escaped);
                } else {
                    text.push_str("<![CDATA[");
                    text.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
                    text.push_str("]]>");
                }
                text.push_str("</");
                text.push_str(key);
                text.push_str(">\n");
            }
            text.push_str("    </");
            text.push_str(name);
            text.push_str(">\n");
        }
        let result = self.put(&text);
        self.text = text;
        result
    }

    /// Writes `text` exactly as given: no check, no escaping. Only for planting malformed
    /// XML in test fixtures; end it with a newline to keep one row per line.
    pub fn write_raw(&mut self, text: &str) -> Result<(), BackupError> {
        self.put(text)
    }

    /// The underlying writer, which has received every row written so far (e.g. to count
    /// the lines written).
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Ends the document and hands back the writer (flushed).
    pub fn finish(mut self) -> Result<W, BackupError> {
        self.put("</entity-engine-xml>\n")?;
        self.out.flush().map_err(|source| BackupError::Write {
            file: ENTITIES_XML,
            source,
        })?;
        Ok(self.out)
    }

    fn put(&mut self, text: &str) -> Result<(), BackupError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|source| BackupError::Write {
                file: ENTITIES_XML,
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_what_readers_would_normalise() {
        assert_eq!(escape("a<b>&c", false).unwrap(), "a&lt;b&gt;&amp;c");
        assert_eq!(
            escape("x\"y\n\tz\r", true).unwrap(),
            "x&quot;y&#10;&#9;z&#13;"
        );
        assert_eq!(escape("x\"y\n", false).unwrap(), "x\"y\n");
        assert!(matches!(escape("nul\0", false), Err(Unrepresentable(0))));
        assert!(matches!(
            escape("\u{FFFF}", true),
            Err(Unrepresentable(0xFFFF))
        ));
        assert!(matches!(escape("emoji 🎉 ok", false), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn names_are_checked() {
        assert!(is_xml_name("Issue"));
        assert!(is_xml_name("OSPropertyEntry"));
        assert!(is_xml_name("entity-engine.xml_2"));
        assert!(!is_xml_name(""));
        assert!(!is_xml_name("1abc"));
        assert!(!is_xml_name("a b"));
        assert!(!is_xml_name("a\"b"));
    }
}
