//! Streaming reader of `entities.xml`, Jira's core data: one element per row.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use quick_xml::events::Event;

use crate::BackupError;
use crate::xml::{RowBudget, StartTag, Tag, XmlStream};

/// One row of entities.xml: `<Issue id="10000" project="10000" …>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// The entity name (`Issue`, `Worklog`, `User`…).
    pub name: String,
    /// The line the element starts on, for messages about this row.
    pub line: u64,
    /// The fields in document order: the attributes, then the child elements (long text
    /// such as `<description>`, often CDATA), unescaped.
    pub fields: Vec<(String, String)>,
}

impl Entity {
    /// The value of a field. A child element wins over an attribute of the same name.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(name, _)| name == field)
            .map(|(_, value)| value.as_str())
    }
}

/// A streaming reader of entities.xml: yields one [`Entity`] at a time and keeps nothing
/// else, whatever the file's size. The first error ends the stream.
pub struct EntityReader<R: BufRead> {
    xml: XmlStream<R>,
    done: bool,
    /// The row the last error happened in, if it was inside one.
    broken: Option<BrokenRow>,
    /// Reading goes on after an error (see [`EntityReader::resume_after_error`]).
    resumed: bool,
}

/// The row a well-formedness error happened in: enough to name it in a report, and to
/// know its id exists (so rows referencing it are not reported a second time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenRow {
    pub entity: String,
    /// The `id` attribute, when it could still be read.
    pub id: Option<String>,
    /// The line the row starts on.
    pub line: u64,
}

const HINT_DAMAGED: &str = "The file is damaged or was not written by Jira; make a fresh backup.";

impl EntityReader<BufReader<File>> {
    /// Opens a plain entities.xml (not inside a zip). Errors name the file by its path.
    pub fn open_file(path: impl AsRef<Path>) -> Result<Self, BackupError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| BackupError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        EntityReader::new(
            BufReader::with_capacity(64 * 1024, file),
            &path.display().to_string(),
        )
    }
}

impl<R: BufRead> EntityReader<R> {
    /// Reads up to the root `<entity-engine-xml>`; `file` names the input in errors.
    /// The system-information comment before it is skipped, never kept.
    pub fn new(input: R, file: &str) -> Result<Self, BackupError> {
        let mut reader = EntityReader {
            xml: XmlStream::new(input, file),
            done: false,
            broken: None,
            resumed: false,
        };
        let top = || "at the start of the file".to_string();
        match reader.xml.next_tag(&top)? {
            Tag::Start(tag) if tag.name == "entity-engine-xml" => {}
            Tag::Empty(tag) if tag.name == "entity-engine-xml" => reader.done = true,
            Tag::Start(tag) | Tag::Empty(tag) => {
                return Err(reader.xml.invalid(
                    top(),
                    format!(
                        "the root element is <{}>, not <entity-engine-xml>",
                        tag.name
                    ),
                    "This is not Jira's core data: supply the entities.xml of a Jira XML backup.",
                ));
            }
            Tag::Eof | Tag::End | Tag::StrayText => {
                return Err(reader.xml.invalid(
                    top(),
                    "the file holds no <entity-engine-xml> element",
                    "The file is empty or truncated: make a fresh backup with Jira's \"Backup system\".",
                ));
            }
        }
        Ok(reader)
    }

    /// The next entity, or `None` at the end of the document.
    pub fn next_entity(&mut self) -> Result<Option<Entity>, BackupError> {
        self.next_entity_where(|_| true)
    }

    /// The next entity whose name `want` accepts; the others are parsed past without
    /// decoding their attributes or keeping anything.
    pub fn next_entity_where(
        &mut self,
        mut want: impl FnMut(&str) -> bool,
    ) -> Result<Option<Entity>, BackupError> {
        if self.done {
            return Ok(None);
        }
        // Set back only on success: an error ends the stream.
        self.done = true;
        let context = || "in <entity-engine-xml>".to_string();
        let decoder = self.xml.reader.decoder();
        loop {
            enum Step {
                Entity(StartTag),
                Skip(Vec<u8>),
                Next,
                EndRoot,
                Stray,
                Eof,
            }
            let step = match self.xml.read_event() {
                // After a restart the parser never saw the root open.
                Err(quick_xml::Error::IllFormed(
                    quick_xml::errors::IllFormedError::UnmatchedEndTag(name),
                )) if self.resumed && name == "entity-engine-xml" => Ok(Step::EndRoot),
                Err(e) => Err(e),
                Ok(Event::Start(e)) => {
                    let name = String::from_utf8_lossy(e.local_name().into_inner());
                    Ok(if want(&name) {
                        Step::Entity(StartTag::from_event(&e, true, decoder))
                    } else {
                        Step::Skip(e.name().as_ref().to_vec())
                    })
                }
                Ok(Event::Empty(e)) => {
                    let name = String::from_utf8_lossy(e.local_name().into_inner());
                    Ok(if want(&name) {
                        Step::Entity(StartTag::from_event(&e, false, decoder))
                    } else {
                        Step::Next
                    })
                }
                Ok(Event::End(_)) => Ok(Step::EndRoot),
                Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => Ok(Step::Next),
                Ok(Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) => Ok(Step::Stray),
                Ok(Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_)) => {
                    Ok(Step::Next)
                }
                Ok(Event::Eof) => Ok(Step::Eof),
            };
            match step {
                Err(e) => return Err(self.xml.xml_error(context(), e)),
                Ok(Step::Next) => {}
                Ok(Step::Skip(qname)) => self.xml.skip_element(&qname, &context)?,
                Ok(Step::EndRoot) => {
                    self.xml.drain()?;
                    return Ok(None);
                }
                Ok(Step::Eof) => return Err(self.xml.truncated(context())),
                Ok(Step::Stray) => {
                    return Err(self.xml.invalid(
                        context(),
                        "unexpected text between entities",
                        HINT_DAMAGED,
                    ));
                }
                Ok(Step::Entity(tag)) => {
                    let entity = self.read_entity(tag)?;
                    self.done = false;
                    return Ok(Some(entity));
                }
            }
        }
    }

    /// After an error that says the XML is not well formed ([`BackupError::Xml`] or
    /// [`BackupError::Invalid`]), goes on at the next line that starts an element, so one
    /// pass can report every broken row. False if nothing follows. I/O errors are not
    /// recoverable: the stream itself is damaged.
    pub fn resume_after_error(&mut self) -> Result<bool, BackupError> {
        let line = self.xml.line();
        let resumed =
            self.xml
                .restart_at_next_element_line()
                .map_err(|source| BackupError::Read {
                    file: self.xml.file.to_string(),
                    line,
                    source,
                })?;
        self.done = !resumed;
        self.resumed = true;
        self.broken = None;
        Ok(resumed)
    }

    /// The row the last error happened in, when it happened inside one.
    pub fn broken_row(&self) -> Option<&BrokenRow> {
        self.broken.as_ref()
    }

    fn read_entity(&mut self, tag: StartTag) -> Result<Entity, BackupError> {
        let line = self.xml.line();
        let StartTag {
            open,
            name,
            attrs,
            raw_id,
            ..
        } = tag;
        let mut fields = match attrs {
            Ok(attrs) => attrs,
            Err(e) => {
                let error = self
                    .xml
                    .attrs_error(format!("in <{name}> starting at line {line}"), &e);
                self.broken = Some(BrokenRow {
                    entity: name,
                    id: raw_id,
                    line,
                });
                return Err(error);
            }
        };
        match self.read_children(&name, line, open, &mut fields) {
            Ok(()) => Ok(Entity { name, line, fields }),
            // Named by its entity and id only now that it broke: copied up front, in case,
            // they cost two allocations for every row of the file.
            Err(error) => {
                let id = (fields.iter().find(|(k, _)| k == "id")).map(|(_, v)| v.clone());
                self.broken = Some(BrokenRow {
                    entity: name,
                    id,
                    line,
                });
                Err(error)
            }
        }
    }

    /// Reads an entity's child elements (long text, often CDATA) into `fields`, after its
    /// attributes.
    fn read_children(
        &mut self,
        name: &str,
        line: u64,
        open: bool,
        fields: &mut Vec<(String, String)>,
    ) -> Result<(), BackupError> {
        let context = || format!("in <{name}> starting at line {line}");
        // The attributes fit (the start tag is bounded, and so is their number); the
        // children add up.
        let mut room = RowBudget::new();
        for (key, value) in fields.iter() {
            room.take(key.len() + value.len());
        }
        if open {
            let mut text = String::new();
            loop {
                let tag = self.xml.next_tag(&context)?;
                let child_line = self.xml.line();
                let child = match tag {
                    Tag::Start(child) => {
                        let field_context = || format!("{}, field <{}>", context(), child.name);
                        self.xml.read_text(&mut text, &room, &field_context)?;
                        (child.name, std::mem::take(&mut text))
                    }
                    Tag::Empty(child) => (child.name, String::new()),
                    Tag::End => break,
                    Tag::Eof | Tag::StrayText => return Err(self.xml.truncated(context())),
                };
                if !room.take(child.0.len() + child.1.len()) {
                    return Err(self.xml.too_large_at(child_line, context(), room.what()));
                }
                fields.push(child);
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Iterator for EntityReader<R> {
    type Item = Result<Entity, BackupError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entity().transpose()
    }
}
