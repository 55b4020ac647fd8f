//! Staged core records: one object per kind (`core/issue.rec`…), a sequence of frames
//! (u32 little-endian length, then the record in postcard). Compact and quick to re-read,
//! which the integrity check and the load both do.

use std::io::{self, Read, Write};

use airlock_model::jira::{Kind, Record};
use airlock_staging::{StagedWrite, Staging, StagingError};

use crate::EngineError;

/// The records of every kind that the target's rules refuse, staged by extraction: each
/// frame's number is the record's position in its kind's object (not a line).
pub const REFUSED_OBJECT: &str = "core/refused.rec";

/// The filters whose query names ids that will have no cloud id (not in the backup, or of
/// kinds not migrated), staged by the integrity check: each frame's number is the filter's
/// position among the filters. The load refuses them; the plan lists them.
pub const REFUSED_QUERIES_OBJECT: &str = "core/refused-queries.rec";

/// The staged object holding the records of `kind`.
pub fn object_name(kind: Kind) -> String {
    format!("core/{}.rec", kind.name())
}

/// Appends records to one staged object.
pub struct RecordWriter {
    out: Box<dyn StagedWrite>,
    buf: Vec<u8>,
    count: u64,
}

impl RecordWriter {
    pub fn create(staging: &dyn Staging, name: &str) -> Result<RecordWriter, StagingError> {
        Ok(RecordWriter {
            out: staging.create(name)?,
            buf: Vec::with_capacity(1024),
            count: 0,
        })
    }

    /// Appends a record and the line of entities.xml it came from (for reports).
    pub fn push(&mut self, line: u64, record: &Record) -> Result<(), EngineError> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        let buf = std::mem::take(&mut self.buf);
        let mut buf = postcard::to_extend(&(line, record), buf).map_err(EngineError::encode)?;
        let len = (buf.len() - 4) as u32;
        buf[..4].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&buf).map_err(EngineError::staging_io)?;
        self.buf = buf;
        self.count += 1;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn finish(self) -> Result<u64, EngineError> {
        self.out.finish()?;
        Ok(self.count)
    }
}

/// Reads the records of one staged object in order.
pub struct RecordReader {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    name: String,
    index: u64,
}

impl RecordReader {
    pub fn open(staging: &dyn Staging, name: &str) -> Result<RecordReader, StagingError> {
        Ok(RecordReader {
            input: staging.open(name)?,
            buf: Vec::with_capacity(1024),
            name: name.to_owned(),
            index: 0,
        })
    }

    /// The records of `kind`, or none if that kind was never staged.
    pub fn open_kind(staging: &dyn Staging, kind: Kind) -> Result<RecordReader, EngineError> {
        let name = object_name(kind);
        match RecordReader::open(staging, &name) {
            Ok(r) => Ok(r),
            Err(StagingError::Missing { .. }) => Ok(RecordReader {
                input: Box::new(io::empty()),
                buf: Vec::new(),
                name,
                index: 0,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The next record, or `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record>, EngineError> {
        Ok(self.next_located()?.map(|(_, record)| record))
    }

    /// The next record with the line of entities.xml it came from.
    pub fn next_located(&mut self) -> Result<Option<(u64, Record)>, EngineError> {
        let mut len = [0u8; 4];
        match read_full(&mut self.input, &mut len) {
            Ok(0) => return Ok(None),
            Ok(4) => {}
            Ok(_) => return Err(self.damaged("a frame header is cut short")),
            Err(e) => return Err(EngineError::staging_io(e)),
        }
        let len = u32::from_le_bytes(len) as usize;
        self.buf.resize(len, 0);
        self.input
            .read_exact(&mut self.buf)
            .map_err(|_| self.damaged("a record is cut short"))?;
        let record: (u64, Record) = postcard::from_bytes(&self.buf)
            .map_err(|_| self.damaged("a record does not decode"))?;
        self.index += 1;
        Ok(Some(record))
    }

    /// Skips `n` records (a resumed load starts after its checkpoint).
    pub fn skip_records(&mut self, n: u64) -> Result<(), EngineError> {
        for _ in 0..n {
            let mut len = [0u8; 4];
            if read_full(&mut self.input, &mut len).map_err(EngineError::staging_io)? != 4 {
                return Err(self.damaged("it holds fewer records than the checkpoint says"));
            }
            let len = u32::from_le_bytes(len) as u64;
            let skipped = io::copy(&mut (&mut self.input).take(len), &mut io::sink())
                .map_err(EngineError::staging_io)?;
            if skipped != len {
                return Err(self.damaged("a record is cut short"));
            }
            self.index += 1;
        }
        Ok(())
    }

    fn damaged(&self, what: &str) -> EngineError {
        EngineError::Staged {
            name: self.name.clone(),
            problem: format!("{what} (record {})", self.index + 1),
        }
    }
}

impl Iterator for RecordReader {
    type Item = Result<Record, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Stages `records` as the records of `kind`, numbered from line 1 (for tests).
#[cfg(test)]
pub(crate) fn stage(staging: &dyn Staging, kind: Kind, records: &[Record]) {
    let mut writer = RecordWriter::create(staging, &object_name(kind)).unwrap();
    for (line, r) in records.iter().enumerate() {
        writer.push(line as u64 + 1, r).unwrap();
    }
    writer.finish().unwrap();
}
