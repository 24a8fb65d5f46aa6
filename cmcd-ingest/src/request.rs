//! A `requests` row: the typed record, its CMCD and the SMD session id.

use crate::Reason;
use crate::extract::{self, Cmcd};
use crate::field::{Field, FieldSet};
use crate::line::{self, Cell, DecodeMemo, Record};
use crate::partition::Partition;
use crate::schema::{CmcdKey, Datum, Meta, Source};

/// One request: a parsed log line with its CMCD.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request<'a> {
    /// The typed CloudFront fields.
    pub record: Record<'a>,
    /// The typed CMCD.
    pub cmcd: Cmcd,
    /// The SMD token session id of the path, if the URL carries a session token.
    pub smd_session_id: Option<String>,
}

impl<'a> Request<'a> {
    /// Parses and types one line.
    ///
    /// # Errors
    ///
    /// The quarantine [`Reason`].
    pub fn parse(fields: &FieldSet, line: &'a [u8]) -> Result<Self, Reason> {
        line::parse(fields, line).map(|record| Self::from_record(fields, record))
    }

    /// [`Request::parse`] into an existing request, reusing its storage (a request is about
    /// 2 KB; see [`line::parse_into`]). After an error its content is unspecified.
    ///
    /// # Errors
    ///
    /// The quarantine [`Reason`].
    pub fn parse_into(&mut self, fields: &FieldSet, line: &'a [u8]) -> Result<(), Reason> {
        self.parse_into_with(fields, line, &mut DecodeMemo::default())
    }

    /// [`Request::parse_into`], reusing decoded cells from `memo` (see [`DecodeMemo`]).
    ///
    /// # Errors
    ///
    /// The quarantine [`Reason`].
    pub fn parse_into_with(
        &mut self,
        fields: &FieldSet,
        line: &'a [u8],
        memo: &mut DecodeMemo,
    ) -> Result<(), Reason> {
        line::parse_into_with(fields, line, &mut self.record, memo)?;
        extract::extract_into(fields, &self.record, &mut self.cmcd);
        // The previous row's id buffer takes this row's id.
        let mut spare = self.smd_session_id.take();
        self.smd_session_id = self
            .record
            .text(Field::CsUriStem)
            .and_then(extract::smd_session_id)
            .map(|sid| extract::reuse(&mut spare, sid));
        Ok(())
    }

    /// Types the CMCD of a parsed record.
    pub fn from_record(fields: &FieldSet, record: Record<'a>) -> Self {
        let cmcd = extract::extract(fields, &record);
        let smd_session_id =
            record.text(Field::CsUriStem).and_then(extract::smd_session_id).map(str::to_owned);
        Self { record, cmcd, smd_session_id }
    }

    /// The timestamp, epoch milliseconds.
    pub fn timestamp_ms(&self) -> i64 {
        self.record.timestamp_ms()
    }

    /// The Hive partition (UTC date and hour of the timestamp).
    pub fn partition(&self) -> Partition {
        Partition::of_millis(self.timestamp_ms())
    }
}

impl crate::batch::Row for Request<'_> {
    fn datum(&self, source: Source) -> Datum<'_> {
        Request::datum(self, source)
    }

    #[inline]
    fn field(&self, field: Field) -> Datum<'_> {
        cell_datum(field, self.record.get(field))
    }
}

/// The datum of `field`'s cell.
#[inline]
fn cell_datum<'c>(field: Field, cell: &'c Cell<'_>) -> Datum<'c> {
    match cell {
        Cell::Null => Datum::Null,
        Cell::Text(t) => Datum::Str(t),
        Cell::Int(n) => Datum::Int(*n),
        Cell::Millis(ms) if field == Field::Timestamp => Datum::Millis(*ms),
        #[allow(clippy::cast_precision_loss)] // ms durations are far below 2^53
        Cell::Millis(ms) => Datum::Float(*ms as f64 / 1000.0),
    }
}

impl Request<'_> {
    /// The value of a `requests` column.
    pub fn datum(&self, source: Source) -> Datum<'_> {
        use CmcdKey as K;
        let c = &self.cmcd;
        match source {
            Source::Field(f) => cell_datum(f, self.record.get(f)),
            Source::Cmcd(key) => match key {
                K::Br => Datum::int(c.br),
                K::Bl => Datum::int(c.bl),
                K::Bs => Datum::bool(c.bs),
                K::Cid => Datum::str(c.cid.as_deref()),
                K::D => Datum::int(c.d),
                K::Dl => Datum::int(c.dl),
                K::Mtp => Datum::int(c.mtp),
                K::Nor => Datum::str(c.nor.as_deref()),
                K::Nrr => Datum::str(c.nrr.as_deref()),
                K::Ot => Datum::str(c.ot.map(|t| t.as_str())),
                K::Pr => Datum::float(c.pr),
                K::Rtp => Datum::int(c.rtp),
                K::Sf => Datum::str(c.sf.map(|t| t.as_str())),
                K::Sid => Datum::str(c.sid.as_deref()),
                K::St => Datum::str(c.st.map(|t| t.as_str())),
                K::Su => Datum::bool(c.su),
                K::Tb => Datum::int(c.tb),
                K::V => Datum::int(c.v),
                K::Pt => Datum::int(c.pt),
                K::Sta => Datum::str(c.sta.map(|t| t.as_str())),
                K::Ltc => Datum::int(c.ltc),
                K::Msd => Datum::int(c.msd),
                K::Bsa => Datum::int(c.bsa),
                K::Bsd => Datum::int(c.bsd),
                K::Bsda => Datum::int(c.bsda),
                K::Pb => Datum::int(c.pb),
                K::Sn => Datum::int(c.sn),
                K::Ec => Datum::str(c.ec.as_deref()),
                K::Dfa => Datum::int(c.dfa),
            },
            Source::Meta(m) => match m {
                Meta::SmdSessionId => Datum::str(self.smd_session_id.as_deref()),
                Meta::CmcdRaw => Datum::str(c.raw.as_deref()),
                Meta::CmcdSource => Datum::str(c.origin.map(|o| o.code())),
                Meta::CmcdError => Datum::str(c.error),
                Meta::CmcdDropped => Datum::Int(c.dropped),
                Meta::CmcdLenient => Datum::Int(c.lenient),
                Meta::CmcdHeadersTruncated => Datum::Bool(c.headers_truncated),
            },
            Source::Session(_) => Datum::Null,
        }
    }
}
