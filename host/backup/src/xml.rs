//! The pieces both readers share: a line-counting `BufRead`, a quick-xml reader configured
//! for untrusted input, and the conversion of its errors into [`BackupError`]s.

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use quick_xml::Decoder;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::BackupError;

/// The most bytes of one element the reader holds in memory: one start tag with its
/// attributes, one text or CDATA node (or comment, DOCTYPE…), one value, and the text of
/// all the values of one row together.
///
/// quick-xml gathers a whole start tag or text node into one buffer before it returns
/// it, so without this a single 2 GiB attribute (2 MB zipped) costs gigabytes. Real rows
/// carry big text — workflow descriptors, long descriptions and comments, app blobs — of a
/// few MB at most (Jira's text fields stop at 32,767 characters unless an administrator
/// raises the limit), so 32 MiB is generous; and a reader then holds at most a few times
/// this (the parser's buffer, one row's text, one Active Objects batch), far below what
/// `airlock check` may use.
pub const MAX_ELEMENT_BYTES: usize = 32 << 20;

/// The most attributes one element may carry. Jira's entities have a few dozen, Active
/// Objects elements fewer; checking an element's attribute names for duplicates takes time
/// growing with the square of their number.
pub(crate) const MAX_ATTRIBUTES: usize = 256;

/// The most fields of one row (an entity's attributes and child elements) and columns of
/// one Active Objects table or `<data>` section. Active Objects supports Oracle and SQL
/// Server, whose tables stop at 1,000 and 1,024 columns; Jira's entities have a few dozen.
pub(crate) const MAX_FIELDS: usize = 1024;

/// A size as messages give it, in whole MiB.
pub(crate) fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

/// Counts the newlines in the bytes the XML parser has consumed, so errors can name a line
/// without keeping any of the text; and bounds the bytes one parser event may take (see
/// [`XmlStream::read_event`]), so the parser never buffers more than
/// [`MAX_ELEMENT_BYTES`] of one element.
pub(crate) struct LineCounter<R> {
    /// `None` only while a reader is being rebuilt after an error (see
    /// [`XmlStream::restart_at_next_element_line`]).
    inner: Option<R>,
    newlines: u64,
    /// While the parser reads one event: the line it starts on. `None` between events and
    /// while skipping lines after an error, when nothing is buffered.
    event_line: Option<u64>,
    /// The bytes consumed since the current event started.
    event_bytes: usize,
    /// The line of the event that grew past [`MAX_ELEMENT_BYTES`]: `fill_buf` refused it.
    too_large: Option<u64>,
}

impl<R: BufRead> LineCounter<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self::resumed(Some(inner), 0)
    }

    fn resumed(inner: Option<R>, newlines: u64) -> Self {
        Self {
            inner,
            newlines,
            event_line: None,
            event_bytes: 0,
            too_large: None,
        }
    }

    /// The 1-based line the next unread byte is on.
    pub(crate) fn line(&self) -> u64 {
        self.newlines + 1
    }

    /// The parser starts reading one event: from here on `fill_buf` hands it at most
    /// [`MAX_ELEMENT_BYTES`] bytes, then fails.
    fn start_event(&mut self) {
        self.event_line = Some(self.line());
        self.event_bytes = 0;
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The parser reads through `fill_buf` and `consume` only; `read` (for `Read`'s sake)
/// counts lines but is not bounded.
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
        let Some(inner) = &mut self.inner else {
            return Ok(&[]);
        };
        let buf = inner.fill_buf()?;
        let Some(line) = self.event_line else {
            return Ok(buf);
        };
        // Handing over no more than the event may still take bounds the parser's buffer
        // exactly, whatever the size of the inner reader's chunks.
        let left = MAX_ELEMENT_BYTES.saturating_sub(self.event_bytes);
        if left == 0 && !buf.is_empty() {
            self.too_large = Some(line);
            return Err(io::Error::other(format!(
                "an element larger than {}",
                mib(MAX_ELEMENT_BYTES)
            )));
        }
        Ok(&buf[..buf.len().min(left)])
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
        self.event_bytes = self.event_bytes.saturating_add(amt);
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

    /// Reads whatever follows the end of the document, to the end of the input: a zip
    /// entry checks its CRC only there, so damage that still parses as XML (a corrupted
    /// deflate block between intact ones) is caught instead of passing as a short read.
    pub(crate) fn drain(&mut self) -> Result<(), BackupError> {
        let line = self.line();
        let counter = self.reader.get_mut();
        loop {
            let n = match counter.fill_buf() {
                Ok([]) => return Ok(()),
                Ok(buf) => buf.len(),
                Err(source) => {
                    return Err(BackupError::Read {
                        file: self.file.to_string(),
                        line,
                        source,
                    });
                }
            };
            counter.consume(n);
        }
    }

    /// After a well-formedness error, skips the rest of the current line and every line
    /// up to the next one that starts (after indentation) with `<` and a letter or `</`,
    /// and restarts the parser there. Jira writes one element per line, so this resumes at
    /// the element after the broken one. End names are no longer checked against elements
    /// opened before the restart (the parser does not know them). False at end of file.
    pub(crate) fn restart_at_next_element_line(&mut self) -> io::Result<bool> {
        let counter = self.reader.get_mut();
        // Skipping keeps nothing: no bound on how far.
        counter.event_line = None;
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
        let mut reader = configured(LineCounter::resumed(inner, newlines));
        reader.config_mut().check_end_names = false;
        self.reader = reader;
        Ok(true)
    }

    pub(crate) fn line(&self) -> u64 {
        self.reader.get_ref().line()
    }

    /// Reads the next event into `buf` (cleared first), at most [`MAX_ELEMENT_BYTES`] of
    /// it: a larger one fails with an I/O error that [`XmlStream::xml_error`] turns into
    /// [`BackupError::TooLarge`]. Every event goes through here.
    pub(crate) fn read_event(&mut self) -> Result<Event<'_>, quick_xml::Error> {
        self.buf.clear();
        self.reader.get_mut().start_event();
        self.reader.read_event_into(&mut self.buf)
    }

    /// Maps a parser error, keeping I/O failures (a truncated or corrupt zip stream) apart
    /// from XML that is not well formed, and an element over [`MAX_ELEMENT_BYTES`] apart
    /// from both.
    pub(crate) fn xml_error(
        &self,
        context: impl Into<String>,
        error: quick_xml::Error,
    ) -> BackupError {
        match error {
            quick_xml::Error::Io(_) if let Some(line) = self.reader.get_ref().too_large => {
                let what = format!(
                    "an element (a start tag with its attributes, or a text node) larger than {}",
                    mib(MAX_ELEMENT_BYTES)
                );
                self.too_large_at(line, context, what)
            }
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

    /// An element, value, row or definitions over a limit: see [`BackupError::TooLarge`].
    pub(crate) fn too_large_at(
        &self,
        line: u64,
        context: impl Into<String>,
        what: String,
    ) -> BackupError {
        BackupError::TooLarge {
            file: self.file.to_string(),
            line,
            context: for_message(context.into(), 300),
            what,
        }
    }

    /// A start tag's attributes could not be read: see [`StartTag::attrs`].
    pub(crate) fn attrs_error(
        &self,
        context: impl Into<String>,
        error: &AttrsError,
    ) -> BackupError {
        match error {
            AttrsError::Xml(e) => self.xml_error(context, e.clone()),
            AttrsError::TooMany => self.too_large_at(
                self.line(),
                context,
                format!("an element with more than {MAX_ATTRIBUTES} attributes"),
            ),
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
            let step = match self.read_event() {
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
    /// without keeping any of it (one event at a time, each bounded like every other).
    pub(crate) fn skip_element(
        &mut self,
        qname: &[u8],
        context: &dyn Fn() -> String,
    ) -> Result<(), BackupError> {
        self.skip_element_counting(qname, b"", context).map(|_| ())
    }

    /// As [`XmlStream::skip_element`], counting the elements inside whose local name is
    /// `child` (the rows of an Active Objects table streamed past, for the coverage
    /// ledger). An empty `child` counts nothing.
    pub(crate) fn skip_element_counting(
        &mut self,
        qname: &[u8],
        child: &[u8],
        context: &dyn Fn() -> String,
    ) -> Result<u64, BackupError> {
        // As quick-xml's `read_to_end_into`: only elements of the same name are counted,
        // the parser checks that the others nest.
        let mut depth = 0u64;
        let mut children = 0u64;
        loop {
            let step = match self.read_event() {
                Err(e) => Err(e),
                Ok(Event::Start(e)) if e.name().as_ref() == qname => {
                    depth += 1;
                    Ok(false)
                }
                Ok(Event::Start(e) | Event::Empty(e))
                    if !child.is_empty() && e.local_name().as_ref() == child =>
                {
                    children += 1;
                    Ok(false)
                }
                Ok(Event::End(e)) if e.name().as_ref() == qname => match depth.checked_sub(1) {
                    None => Ok(true),
                    Some(d) => {
                        depth = d;
                        Ok(false)
                    }
                },
                Ok(Event::Eof) => Err(quick_xml::Error::IllFormed(
                    quick_xml::errors::IllFormedError::MissingEndTag(local_name(qname)),
                )),
                Ok(_) => Ok(false),
            };
            match step {
                Ok(true) => return Ok(children),
                Ok(false) => {}
                Err(e) => return Err(self.xml_error(context(), e)),
            }
        }
    }

    /// Reads the text content of the element just started, up to its end tag. Text, CDATA
    /// sections and character/predefined entity references are joined; a nested element
    /// is an error. `text` is cleared first. `room` is what the row this value belongs to
    /// may still hold: text beyond it is [`BackupError::TooLarge`] (the caller counts the
    /// value into the row).
    pub(crate) fn read_text(
        &mut self,
        text: &mut String,
        room: &RowBudget,
        context: &dyn Fn() -> String,
    ) -> Result<(), BackupError> {
        text.clear();
        let line = self.line();
        let limit = room.left;
        loop {
            enum Step {
                More,
                Done,
                Nested(String),
                Eof,
                BadRef(String),
                TooLarge,
            }
            let mut push = |s: &str| {
                if text.len() + s.len() > limit {
                    Step::TooLarge
                } else {
                    text.push_str(s);
                    Step::More
                }
            };
            let step = match self.read_event() {
                Err(e) => Err(e),
                Ok(Event::Text(t)) => t.xml10_content().map(|s| push(&s)).map_err(Into::into),
                Ok(Event::CData(c)) => c.xml10_content().map(|s| push(&s)).map_err(Into::into),
                Ok(Event::GeneralRef(r)) => match resolve_reference(&r) {
                    Ok(Some(ch)) => Ok(push(ch.encode_utf8(&mut [0; 4]))),
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
                Ok(Step::TooLarge) => {
                    return Err(self.too_large_at(line, context(), room.what()));
                }
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
    pub(crate) attrs: Result<Vec<(String, String)>, AttrsError>,
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

/// Why an element's attributes could not be read.
#[derive(Clone, Debug)]
pub(crate) enum AttrsError {
    Xml(quick_xml::Error),
    /// More than [`MAX_ATTRIBUTES`].
    TooMany,
}

impl<E: Into<quick_xml::Error>> From<E> for AttrsError {
    fn from(error: E) -> Self {
        AttrsError::Xml(error.into())
    }
}

/// All attributes of an element, by local name, unescaped (predefined entities and
/// character references only). Their text is no longer than the start tag, which
/// [`MAX_ELEMENT_BYTES`] bounds; their number is bounded by [`MAX_ATTRIBUTES`].
pub(crate) fn attributes(
    e: &BytesStart<'_>,
    decoder: Decoder,
) -> Result<Vec<(String, String)>, AttrsError> {
    let mut out = Vec::new();
    for attr in e.attributes() {
        if out.len() == MAX_ATTRIBUTES {
            return Err(AttrsError::TooMany);
        }
        let attr = attr?;
        let key = local_name(attr.key.local_name().as_ref());
        let value = attr.decode_and_unescape_value(decoder)?;
        out.push((key, value.into_owned()));
    }
    Ok(out)
}

/// True if the element carries `xsi:nil="true"` (any prefix bound to `nil`).
pub(crate) fn is_nil(e: &BytesStart<'_>) -> Result<bool, AttrsError> {
    for (n, attr) in e.attributes().enumerate() {
        if n == MAX_ATTRIBUTES {
            return Err(AttrsError::TooMany);
        }
        let attr = attr?;
        if attr.key.local_name().as_ref() == b"nil" {
            return Ok(attr.value.as_ref() == b"true" || attr.value.as_ref() == b"1");
        }
    }
    Ok(false)
}

/// What one row may still keep in memory: [`MAX_FIELDS`] fields (values) holding
/// [`MAX_ELEMENT_BYTES`] of text together.
pub(crate) struct RowBudget {
    pub(crate) fields: usize,
    pub(crate) left: usize,
}

impl RowBudget {
    pub(crate) fn new() -> Self {
        RowBudget {
            fields: 0,
            left: MAX_ELEMENT_BYTES,
        }
    }

    /// Counts one more field of `bytes`; false when the row is over a limit.
    pub(crate) fn take(&mut self, bytes: usize) -> bool {
        self.fields += 1;
        match self.left.checked_sub(bytes) {
            Some(left) if self.fields <= MAX_FIELDS => {
                self.left = left;
                true
            }
            _ => false,
        }
    }

    /// What went over, for [`BackupError::TooLarge`].
    pub(crate) fn what(&self) -> String {
        if self.fields > MAX_FIELDS {
            format!("a row with more than {MAX_FIELDS} fields")
        } else {
            format!(
                "a row whose values hold more than {} of text",
                mib(MAX_ELEMENT_BYTES)
            )
        }
    }
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
