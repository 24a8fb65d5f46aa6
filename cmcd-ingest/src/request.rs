//! A `requests` row: the typed record, its CMCD and the SMD session id.

use crate::Reason;
use crate::batch::{ColumnData, append};
use crate::extract::{self, Cmcd};
use crate::field::{Field, FieldSet};
use crate::line::{self, Cell, DecodeMemo, Record};
use crate::partition::Partition;
use crate::schema::{CmcdKey, Datum, Meta, Source};

/// The closure unchanged: declared through this bound, its result borrows from the request it
/// is given (a closure's own signature cannot say so).
fn getter<F: for<'r> Fn(&'r Request<'_>) -> Datum<'r>>(getter: F) -> F {
    getter
}

/// Binds `$get` to the getter of a column that is not a CloudFront field (CMCD keys, the
/// derived columns) and evaluates `$then` with it; every column's getter is a closure of its
/// own type, so each use is compiled for that column. The one place that says which request
/// value fills which of these columns.
macro_rules! getter {
    ($source:expr, |$get:ident| $then:expr) => {
        getter!(@arms $source, $get, $then;
            Source::Cmcd(CmcdKey::Br) => |r| Datum::int(r.cmcd.br),
            Source::Cmcd(CmcdKey::Bl) => |r| Datum::int(r.cmcd.bl),
            Source::Cmcd(CmcdKey::Bs) => |r| Datum::bool(r.cmcd.bs),
            Source::Cmcd(CmcdKey::Cid) => |r| Datum::str(r.cmcd.cid.as_deref()),
            Source::Cmcd(CmcdKey::D) => |r| Datum::int(r.cmcd.d),
            Source::Cmcd(CmcdKey::Dl) => |r| Datum::int(r.cmcd.dl),
            Source::Cmcd(CmcdKey::Mtp) => |r| Datum::int(r.cmcd.mtp),
            Source::Cmcd(CmcdKey::Nor) => |r| Datum::str(r.cmcd.nor.as_deref()),
            Source::Cmcd(CmcdKey::Nrr) => |r| Datum::str(r.cmcd.nrr.as_deref()),
            Source::Cmcd(CmcdKey::Ot) => |r| Datum::str(r.cmcd.ot.map(|t| t.as_str())),
            Source::Cmcd(CmcdKey::Pr) => |r| Datum::float(r.cmcd.pr),
            Source::Cmcd(CmcdKey::Rtp) => |r| Datum::int(r.cmcd.rtp),
            Source::Cmcd(CmcdKey::Sf) => |r| Datum::str(r.cmcd.sf.map(|t| t.as_str())),
            Source::Cmcd(CmcdKey::Sid) => |r| Datum::str(r.cmcd.sid.as_deref()),
            Source::Cmcd(CmcdKey::St) => |r| Datum::str(r.cmcd.st.map(|t| t.as_str())),
            Source::Cmcd(CmcdKey::Su) => |r| Datum::bool(r.cmcd.su),
            Source::Cmcd(CmcdKey::Tb) => |r| Datum::int(r.cmcd.tb),
            Source::Cmcd(CmcdKey::V) => |r| Datum::int(r.cmcd.v),
            Source::Cmcd(CmcdKey::Pt) => |r| Datum::int(r.cmcd.pt),
            Source::Cmcd(CmcdKey::Sta) => |r| Datum::str(r.cmcd.sta.map(|t| t.as_str())),
            Source::Cmcd(CmcdKey::Ltc) => |r| Datum::int(r.cmcd.ltc),
            Source::Cmcd(CmcdKey::Msd) => |r| Datum::int(r.cmcd.msd),
            Source::Cmcd(CmcdKey::Bsa) => |r| Datum::int(r.cmcd.bsa),
            Source::Cmcd(CmcdKey::Bsd) => |r| Datum::int(r.cmcd.bsd),
            Source::Cmcd(CmcdKey::Bsda) => |r| Datum::int(r.cmcd.bsda),
            Source::Cmcd(CmcdKey::Pb) => |r| Datum::int(r.cmcd.pb),
            Source::Cmcd(CmcdKey::Sn) => |r| Datum::int(r.cmcd.sn),
            Source::Cmcd(CmcdKey::Ec) => |r| Datum::str(r.cmcd.ec.as_deref()),
            Source::Cmcd(CmcdKey::Dfa) => |r| Datum::int(r.cmcd.dfa),
            Source::Meta(Meta::SmdSessionId) => |r| Datum::str(r.smd_session_id.as_deref()),
            Source::Meta(Meta::CmcdRaw) => |r| Datum::str(r.cmcd.raw.as_deref()),
            Source::Meta(Meta::CmcdSource) => |r| Datum::str(r.cmcd.origin.map(|o| o.code())),
            Source::Meta(Meta::CmcdError) => |r| Datum::str(r.cmcd.error),
            Source::Meta(Meta::CmcdDropped) => |r| Datum::Int(r.cmcd.dropped),
            Source::Meta(Meta::CmcdLenient) => |r| Datum::Int(r.cmcd.lenient),
            Source::Meta(Meta::CmcdHeadersTruncated) => |r| Datum::Bool(r.cmcd.headers_truncated),
            // A `sessions` column, or a field (callers match fields first).
            Source::Session(_) | Source::Field(_) => |_| Datum::Null,
        )
    };
    // One arm per column: `$get` bound to that column's getter, then `$then`.
    (@arms $source:expr, $get:ident, $then:expr; $($column:pat => $value:expr,)*) => {
        match $source {
            $($column => {
                let $get = getter($value);
                $then
            })*
        }
    };
}

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

    /// The column's getter is chosen once per column block (a closure per column, inlined
    /// into the block's loop), not by matching the source again for every cell.
    fn append_column(rows: &[Self], source: Source, data: &mut ColumnData) -> usize {
        match source {
            Source::Field(f) => append(data, rows.iter().map(|r| cell_datum(f, r.record.get(f)))),
            source => getter!(source, |get| append(data, rows.iter().map(get))),
        }
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
        match source {
            Source::Field(f) => cell_datum(f, self.record.get(f)),
            source => getter!(source, |get| get(self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{Batch, Row};
    use crate::generate::{Config, Generator};
    use crate::schema;

    /// Rows appended a column block at a time (each column's getter chosen once) equal the
    /// same rows appended one at a time through [`Request::datum`], for every column of
    /// `requests`, on generated traffic with CMCD in cells, query and headers, SMD tokens and
    /// bad payloads.
    #[test]
    fn column_blocks_equal_rows_appended_one_by_one() {
        let fields = FieldSet::all();
        let config = Config { sessions: 40, minutes: 3, bad_line_every: 0, ..Default::default() };
        let lines: Vec<String> = Generator::new(config).take(600).collect();
        let requests: Vec<Request<'_>> =
            lines.iter().filter_map(|l| Request::parse(&fields, l.as_bytes()).ok()).collect();
        assert!(requests.len() > 500);
        let mut by_block = Batch::new(schema::requests(), requests.len());
        for block in requests.chunks(256) {
            by_block.push_rows(block);
        }
        let mut by_row = Batch::new(schema::requests(), requests.len());
        for request in &requests {
            by_row.push_row(|c| request.datum(c.source));
        }
        for ((column, a), b) in
            schema::requests().columns.iter().zip(by_block.columns()).zip(by_row.columns())
        {
            for (i, request) in requests.iter().enumerate() {
                assert_eq!(a.get(i), b.get(i), "{} row {i}", column.name);
                assert_eq!(a.get(i), request.datum(column.source), "{}", column.name);
            }
        }
        // The default of the trait (a row type that does not pick getters) agrees too.
        struct Plain<'r>(&'r Request<'r>);
        impl Row for Plain<'_> {
            fn datum(&self, source: Source) -> Datum<'_> {
                self.0.datum(source)
            }
        }
        let plain: Vec<Plain<'_>> = requests.iter().map(Plain).collect();
        let mut by_default = Batch::new(schema::requests(), requests.len());
        by_default.push_rows(&plain);
        assert_eq!(by_default, by_block);
    }
}
