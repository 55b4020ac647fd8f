//! The pieces both readers share: a line-counting `BufRead`, a quick-xml reader configured
//! for untrusted input, and the conversion of its errors into [`BackupError`]s.

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use quick_xml::Decoder;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::BackupError;

/// Counts the newlines in the bytes the XML parser has consumed, so errors can name a line
/// without keeping any of the text.
pub(crate) struct LineCounter<R> {
    /// `None` only while a reader is being rebuilt after an error (see
    /// [`XmlStream::restart_at_next_element_line`]).
    inner: Option<R>,
    newlines: u64,
}

impl<R: BufRead> LineCounter<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner: Some(inner),
            newlines: 0,
        }
    }

    /// The 1-based line the next unread byte is on.
    pub(crate) fn line(&self) -> u64 {
        self.newlines + 1
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some(inner) = &mut self.inner else {
            return Ok(0);
        };
        let n = inner.read(out)?;
        self.newlines += count_newlines(&out[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.inner {
            Some(inner) => inner.fill_buf(),
            None => Ok(&[]),
        }
    }

    fn consume(&mut self, amt: usize) {
        let Some(inner) = &mut self.inner else {
            return;
        };
        // `consume` follows a `fill_buf` that returned at least `amt` bytes, so asking again
        // returns the same buffered bytes without any I/O.
        if let Ok(buf) = inner.fill_buf() {
            self.newlines += count_newlines(&buf[..amt.min(buf.len())]);
        }
        inner.consume(amt);
    }
}

/// A quick-xml reader over a line-counting stream, plus the name of the file for errors.
pub(crate) struct XmlStream<R: BufRead> {
    pub(crate) reader: quick_xml::Reader<LineCounter<R>>,
    pub(crate) buf: Vec<u8>,
    pub(crate) file: Arc<str>,
}

fn configured<R: BufRead>(counter: LineCounter<R>) -> quick_xml::Reader<LineCounter<R>> {
    let mut reader = quick_xml::Reader::from_reader(counter);
    let config = reader.config_mut();
    // Whitespace inside values is data: keep it, and skip the indentation ourselves.
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    reader
}

impl<R: BufRead> XmlStream<R> {
    pub(crate) fn new(inner: R, file: &str) -> Self {
        Self {
            reader: configured(LineCounter::new(inner)),
            buf: Vec::with_capacity(4096),
            file: Arc::from(file),
        }
    }

    /// After a well-formedness error, skips the rest of the current line and every line
    /// up to the next one that starts (after indentation) with `<` and a letter or `</`,
    /// and restarts the parser there. Jira writes one element per line, so this resumes at
    /// the element after the broken one. End names are no longer checked against elements
    /// opened before the restart (the parser does not know them). False at end of file.
    pub(crate) fn restart_at_next_element_line(&mut self) -> io::Result<bool> {
        let counter = self.reader.get_mut();
        let mut at_line_start = false;
        loop {
            if !at_line_start {
                counter.skip_until(b'\n')?;
                at_line_start = true;
            }
            let buf = counter.fill_buf()?;
            let Some(&first) = buf.first() else {
                return Ok(false);
            };
            if first == b' ' || first == b'\t' || first == b'\r' {
                counter.consume(1);
                continue;
            }
            let next = buf.get(1).copied();
            if first == b'<' && next.is_none_or(|b| b.is_ascii_alphabetic() || b == b'/') {
                break;
            }
            at_line_start = false;
        }
        let newlines = counter.newlines;
        let inner = counter.inner.take();
        let mut reader = configured(LineCounter { inner, newlines });
        reader.config_mut().check_end_names = false;
        self.reader = reader;
        Ok(true)
    }

    pub(crate) fn line(&self) -> u64 {
        self.reader.get_ref().line()
    }

    /// Maps a parser error, keeping I/O failures (a truncated or corrupt zip stream) apart
    /// from XML that is not well formed.
    pub(crate) fn xml_error(
        &self,
        context: impl Into<String>,
        error: quick_xml::Error,
    ) -> BackupError {
        match error {
            quick_xml::Error::Io(io) => BackupError::Read {
                file: self.file.to_string(),
                line: self.line(),
                source: io::Error::new(io.kind(), io.to_string()),
            },
            source => BackupError::Xml {
                file: self.file.to_string(),
                line: self.line(),
                context: for_message(context.into(), 300),
                source,
            },
        }
    }

    pub(crate) fn invalid(
        &self,
        context: impl Into<String>,
        problem: impl Into<String>,
        hint: &'static str,
    ) -> BackupError {
        self.invalid_at(self.line(), context, problem, hint)
    }

    pub(crate) fn invalid_at(
        &self,
        line: u64,
        context: impl Into<String>,
        problem: impl Into<String>,
        hint: &'static str,
    ) -> BackupError {
        BackupError::Invalid {
            file: self.file.to_string(),
            line,
            context: for_message(context.into(), 300),
            problem: for_message(problem.into(), 300),
            hint,
        }
    }

    /// Reads the next structural event: an element start, empty element, end, or the end of
    /// the file. Indentation, comments, processing instructions and the declaration are
    /// skipped; text that is not whitespace is an error here. The returned element names
    /// are local names (no namespace prefix).
    pub(crate) fn next_tag(&mut self, context: &dyn Fn() -> String) -> Result<Tag, BackupError> {
        let decoder = self.reader.decoder();
        loop {
            self.buf.clear();
            let step = match self.reader.read_event_into(&mut self.buf) {
                Err(e) => Err(e),
                Ok(Event::Start(e)) => {
                    Ok(Some(Tag::Start(StartTag::from_event(&e, true, decoder))))
                }
                Ok(Event::Empty(e)) => {
                    Ok(Some(Tag::Empty(StartTag::from_event(&e, false, decoder))))
                }
                Ok(Event::End(_)) => Ok(Some(Tag::End)),
                Ok(Event::Eof) => Ok(Some(Tag::Eof)),
                Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => Ok(None),
                Ok(Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) => {
                    Ok(Some(Tag::StrayText))
                }
                // Comments (the system-info one may hold secrets: it is never kept),
                // declarations, processing instructions and a DOCTYPE (never expanded).
                Ok(Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_)) => {
                    Ok(None)
                }
            };
            match step {
                Err(e) => return Err(self.xml_error(context(), e)),
                Ok(Some(Tag::StrayText)) => {
                    return Err(self.invalid(
                        context(),
                        "unexpected text between elements",
                        "The file is damaged or was not written by Jira; make a fresh backup.",
                    ));
                }
                Ok(Some(tag)) => return Ok(tag),
                Ok(None) => {}
            }
        }
    }

    /// Skips everything up to and including the end of the element `name` just started,
    /// without keeping any of it.
    pub(crate) fn skip_element(
        &mut self,
        qname: &[u8],
        context: &dyn Fn() -> String,
    ) -> Result<(), BackupError> {
        self.buf.clear();
        let result = self
            .reader
            .read_to_end_into(quick_xml::name::QName(qname), &mut self.buf);
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(self.xml_error(context(), e)),
        }
    }

    /// Reads the text content of the element just started, up to its end tag. Text, CDATA
    /// sections and character/predefined entity references are joined; a nested element
    /// is an error. `text` is cleared first.
    pub(crate) fn read_text(
        &mut self,
        text: &mut String,
        context: &dyn Fn() -> String,
    ) -> Result<(), BackupError> {
        text.clear();
        loop {
            self.buf.clear();
            enum Step {
                More,
                Done,
                Nested(String),
                Eof,
                BadRef(String),
            }
            let step = match self.reader.read_event_into(&mut self.buf) {
                Err(e) => Err(e),
                Ok(Event::Text(t)) => t
                    .xml10_content()
                    .map(|s| {
                        text.push_str(&s);
                        Step::More
                    })
                    .map_err(Into::into),
                Ok(Event::CData(c)) => c
                    .xml10_content()
                    .map(|s| {
                        text.push_str(&s);
                        Step::More
                    })
                    .map_err(Into::into),
                Ok(Event::GeneralRef(r)) => match resolve_reference(&r) {
                    Ok(Some(ch)) => {
                        text.push(ch);
                        Ok(Step::More)
                    }
                    Ok(None) => Ok(Step::BadRef(local_name(&r))),
                    Err(e) => Err(e),
                },
                Ok(Event::End(_)) => Ok(Step::Done),
                Ok(Event::Start(e) | Event::Empty(e)) => {
                    Ok(Step::Nested(local_name(e.local_name().as_ref())))
                }
                Ok(Event::Eof) => Ok(Step::Eof),
                Ok(Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_)) => {
                    Ok(Step::More)
                }
            };
            match step {
                Err(e) => return Err(self.xml_error(context(), e)),
                Ok(Step::More) => {}
                Ok(Step::Done) => return Ok(()),
                Ok(Step::Nested(name)) => {
                    return Err(self.invalid(
                        context(),
                        format!("unexpected element <{name}> inside a value"),
                        "A value holds only text; the file is damaged or was not written by Jira.",
                    ));
                }
                Ok(Step::Eof) => return Err(self.truncated(context())),
                Ok(Step::BadRef(name)) => {
                    return Err(self.invalid(
                        context(),
                        format!("unknown entity reference &{name};"),
                        "Only the five predefined XML entities and character references are \
                         accepted (entities are never expanded); the file was not written by Jira.",
                    ));
                }
            }
        }
    }

    pub(crate) fn truncated(&self, context: String) -> BackupError {
        self.invalid(
            context,
            "the file ends in the middle of the document",
            "The backup is truncated; copy it again or make a fresh backup.",
        )
    }
}

/// Resolves `&name;`: a character reference or one of the five predefined entities.
/// Anything else is `None`: Airlock never expands entities declared in a DTD.
fn resolve_reference(r: &BytesRef<'_>) -> Result<Option<char>, quick_xml::Error> {
    if let Some(ch) = r.resolve_char_ref()? {
        return Ok(Some(ch));
    }
    Ok(match r.as_ref() {
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"amp" => Some('&'),
        b"apos" => Some('\''),
        b"quot" => Some('"'),
        _ => None,
    })
}

/// A structural event, owned.
pub(crate) enum Tag {
    Start(StartTag),
    Empty(StartTag),
    End,
    Eof,
    StrayText,
}

/// An element start with its (unescaped) attributes, names without prefixes. The qualified
/// name is kept to skip the element's content.
pub(crate) struct StartTag {
    pub(crate) name: String,
    pub(crate) qname: Vec<u8>,
    /// A start tag whose content and end are still to come (not `<x/>`).
    pub(crate) open: bool,
    pub(crate) attrs: Result<Vec<(String, String)>, quick_xml::Error>,
    /// When the attributes are malformed: the `id` attribute as written, if it can be
    /// found, so the broken row can still be named.
    pub(crate) raw_id: Option<String>,
}

impl StartTag {
    pub(crate) fn from_event(e: &BytesStart<'_>, open: bool, decoder: Decoder) -> Self {
        let attrs = attributes(e, decoder);
        let raw_id = match attrs {
            Ok(_) => None,
            Err(_) => e
                .attributes()
                .with_checks(false)
                .filter_map(Result::ok)
                .find(|a| a.key.local_name().as_ref() == b"id")
                .map(|a| String::from_utf8_lossy(&a.value).into_owned()),
        };
        Self {
            open,
            name: local_name(e.local_name().as_ref()),
            qname: e.name().as_ref().to_vec(),
            attrs,
            raw_id,
        }
    }

    /// The value of the attribute with this local name.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .as_ref()
            .ok()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// All attributes of an element, by local name, unescaped (predefined entities and
/// character references only).
pub(crate) fn attributes(
    e: &BytesStart<'_>,
    decoder: Decoder,
) -> Result<Vec<(String, String)>, quick_xml::Error> {
    let mut out = Vec::new();
    for attr in e.attributes() {
        let attr = attr?;
        let key = local_name(attr.key.local_name().as_ref());
        let value = attr.decode_and_unescape_value(decoder)?;
        out.push((key, value.into_owned()));
    }
    Ok(out)
}

/// True if the element carries `xsi:nil="true"` (any prefix bound to `nil`).
pub(crate) fn is_nil(e: &BytesStart<'_>) -> Result<bool, quick_xml::Error> {
    for attr in e.attributes() {
        let attr = attr?;
        if attr.key.local_name().as_ref() == b"nil" {
            return Ok(attr.value.as_ref() == b"true" || attr.value.as_ref() == b"1");
        }
    }
    Ok(false)
}

/// An element or attribute name as text (names are markup, so not customer data).
pub(crate) fn local_name(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Bounds and cleans text that came from the file (names of elements and tables) before
/// it goes into a message, so a hostile file cannot flood or forge log lines.
fn for_message(text: String, max_chars: usize) -> String {
    if text.chars().count() <= max_chars && !text.chars().any(char::is_control) {
        return text;
    }
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}
