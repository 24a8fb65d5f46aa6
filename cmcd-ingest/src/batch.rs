//! Columnar row buffers: a [`Batch`] holds rows of one table, column by column, in the types of
//! the schema. The Parquet encoder turns a batch into a row group; tests read it directly.

use crate::field::Field;
use crate::schema::{ColumnType, Datum, RowOrder, Source, Table};
use crate::text::TextCells;

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per column of a batch, made once: size does not matter
pub enum ColumnData {
    /// Text: its cells and validity.
    Str(StrColumn),
    /// BIGINT.
    Int(Values<i64>),
    /// DOUBLE.
    Float(Values<f64>),
    /// BOOLEAN.
    Bool(Values<bool>),
    /// TIMESTAMP (epoch ms).
    Millis(Values<i64>),
}

/// A fixed-width column: the values (the type's default where null) and a validity flag per
/// cell, the layout Arrow arrays have, so the encoder copies slices instead of cells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Values<T> {
    values: Vec<T>,
    valid: Vec<bool>,
}

impl<T: Copy + Default> Values<T> {
    fn with_capacity(capacity: usize) -> Self {
        Self { values: Vec::with_capacity(capacity), valid: Vec::with_capacity(capacity) }
    }

    fn push(&mut self, v: Option<T>) {
        self.values.push(v.unwrap_or_default());
        self.valid.push(v.is_some());
    }

    /// Appends `typed(datum)` for each datum: null where the datum is not of this type.
    fn fill<'a>(
        &mut self,
        datums: impl Iterator<Item = Datum<'a>>,
        typed: fn(Datum<'a>) -> Option<T>,
    ) {
        for datum in datums {
            self.push(typed(datum));
        }
    }

    fn clear(&mut self) {
        self.values.clear();
        self.valid.clear();
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Cell `i`.
    pub fn get(&self, i: usize) -> Option<T> {
        self.valid.get(i).copied().unwrap_or(false).then(|| self.values.get(i).copied())?
    }

    /// The values; a null cell holds the type's default.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// Moves the values out, leaving an empty buffer of the same capacity for the next rows:
    /// the encoder hands them to Arrow without a copy.
    #[cfg(feature = "parquet")]
    pub(crate) fn take_values(&mut self) -> Vec<T> {
        let capacity = self.values.capacity();
        std::mem::replace(&mut self.values, Vec::with_capacity(capacity))
    }

    /// Whether each cell holds a value.
    pub fn validity(&self) -> &[bool] {
        &self.valid
    }

    /// Whether some cell is null.
    pub fn has_nulls(&self) -> bool {
        self.valid.contains(&false)
    }

    /// The cells in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<T>> + '_ {
        self.values.iter().zip(&self.valid).map(|(&v, &ok)| ok.then_some(v))
    }
}

/// A text column without one allocation per cell: the cells' text (the crate's `text` module: a
/// dictionary or plain with the `parquet` feature) and a validity flag per cell.
#[derive(Debug, Clone)]
pub struct StrColumn {
    cells: TextCells,
    valid: Vec<bool>,
}

impl Default for StrColumn {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl PartialEq for StrColumn {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl StrColumn {
    fn with_capacity(capacity: usize) -> Self {
        Self { cells: TextCells::with_capacity(capacity), valid: Vec::with_capacity(capacity) }
    }

    /// Appends cells; returns the bytes of text appended.
    fn extend<'t>(&mut self, texts: impl IntoIterator<Item = Option<&'t str>>) -> usize {
        self.cells.extend(texts, &mut self.valid)
    }

    fn clear(&mut self) {
        if !self.valid.is_empty() {
            self.cells = TextCells::with_capacity(self.valid.len());
        }
        self.valid.clear();
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.valid.len()
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.valid.is_empty()
    }

    /// Cell `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        if self.valid.get(i).copied().unwrap_or(false) { Some(self.cells.get(i)) } else { None }
    }

    /// The cells in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Bytes of text held (a text repeated in a dictionary column counts once).
    pub fn text_bytes(&self) -> usize {
        self.cells.text_bytes()
    }

    /// Moves the cells out as an Arrow array (dictionary or plain string-view), in `order`
    /// (row indices; `None`: input order) or, for plain cells, in input order with the order
    /// left to the page writer; leaves the column empty.
    ///
    /// # Errors
    ///
    /// Arrow's message if it rejects the array.
    #[cfg(feature = "parquet")]
    pub(crate) fn take_arrow(
        &mut self,
        order: Option<&[u32]>,
    ) -> Result<crate::text::Taken, String> {
        let array = self.cells.take_arrow(&self.valid, order);
        self.valid.clear();
        array
    }

    /// The group of each cell, numbered in order of first appearance, and the number of
    /// groups; a null cell is in the last group, after every text.
    fn first_appearance_groups(&self) -> (Vec<u32>, usize) {
        #[cfg(feature = "parquet")]
        if let Some(groups) = self.cells.dictionary_groups(&self.valid) {
            return groups;
        }
        let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut groups = Vec::with_capacity(self.len());
        let mut nulls = Vec::new();
        for (i, text) in self.iter().enumerate() {
            match text {
                Some(text) => {
                    let next = u32::try_from(seen.len()).unwrap_or(u32::MAX);
                    groups.push(*seen.entry(text).or_insert(next));
                }
                None => {
                    nulls.push(i);
                    groups.push(0);
                }
            }
        }
        let null_group = u32::try_from(seen.len()).unwrap_or(u32::MAX);
        for i in nulls {
            if let Some(g) = groups.get_mut(i) {
                *g = null_group;
            }
        }
        (groups, seen.len() + 1)
    }
}

/// The rows grouped by `groups` (each row's group, below `count`): the groups in increasing
/// order, the rows of a group in input order; `None` when that is input order.
fn grouped_order(groups: &[u32], count: usize) -> Option<Vec<u32>> {
    if groups.windows(2).all(|w| w.first() <= w.get(1)) {
        return None;
    }
    // A counting sort: each group's first slot, then the rows in input order.
    let mut next = vec![0u32; count];
    for &g in groups {
        if let Some(n) = next.get_mut(g as usize) {
            *n += 1;
        }
    }
    let mut start = 0;
    for n in &mut next {
        let rows = *n;
        *n = start;
        start += rows;
    }
    let mut order = vec![0u32; groups.len()];
    for (row, &g) in groups.iter().enumerate() {
        if let Some(at) = next.get_mut(g as usize)
            && let Some(slot) = order.get_mut(*at as usize)
        {
            *slot = u32::try_from(row).unwrap_or(u32::MAX);
            *at += 1;
        }
    }
    Some(order)
}

impl ColumnData {
    fn new(ty: ColumnType, capacity: usize) -> Self {
        match ty {
            ColumnType::String => Self::Str(StrColumn::with_capacity(capacity)),
            ColumnType::BigInt => Self::Int(Values::with_capacity(capacity)),
            ColumnType::Double => Self::Float(Values::with_capacity(capacity)),
            ColumnType::Boolean => Self::Bool(Values::with_capacity(capacity)),
            ColumnType::Timestamp => Self::Millis(Values::with_capacity(capacity)),
        }
    }

    /// Row `i` as a datum.
    pub fn get(&self, i: usize) -> Datum<'_> {
        match self {
            Self::Str(c) => Datum::str(c.get(i)),
            Self::Int(c) => c.get(i).map_or(Datum::Null, Datum::Int),
            Self::Float(c) => c.get(i).map_or(Datum::Null, Datum::Float),
            Self::Bool(c) => c.get(i).map_or(Datum::Null, Datum::Bool),
            Self::Millis(c) => c.get(i).map_or(Datum::Null, Datum::Millis),
        }
    }
}

/// Rows of one table, column-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    table: &'static Table,
    columns: Vec<ColumnData>,
    rows: usize,
    approx_bytes: usize,
}

impl Batch {
    /// An empty batch for `table`.
    pub fn new(table: &'static Table, capacity: usize) -> Self {
        Self {
            table,
            columns: table.columns.iter().map(|c| ColumnData::new(c.ty, capacity)).collect(),
            rows: 0,
            approx_bytes: 0,
        }
    }

    /// The table.
    pub fn table(&self) -> &'static Table {
        self.table
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Approximate in-memory size of the values, bytes.
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes
    }

    /// The columns, in schema order.
    pub fn columns(&self) -> &[ColumnData] {
        &self.columns
    }

    /// The columns, for an encoder that moves values out (it must [`Batch::clear`] after).
    #[cfg(feature = "parquet")]
    pub(crate) fn columns_mut(&mut self) -> &mut [ColumnData] {
        &mut self.columns
    }

    /// The order the rows are written in under the table's [`RowOrder`], as row indices;
    /// `None` when that is input order (always for [`RowOrder::Input`], and when the rows are
    /// already grouped).
    pub fn write_order(&self) -> Option<Vec<u32>> {
        let RowOrder::GroupedBy(source) = self.table.row_order else { return None };
        let i = self.table.columns.iter().position(|c| c.source == source)?;
        let Some(ColumnData::Str(column)) = self.columns.get(i) else { return None };
        let (groups, count) = column.first_appearance_groups();
        grouped_order(&groups, count)
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnData> {
        let i = self.table.columns.iter().position(|c| c.name == name)?;
        self.columns.get(i)
    }

    /// Removes every row, keeping the allocated buffers for the next row group.
    pub fn clear(&mut self) {
        for c in &mut self.columns {
            match c {
                ColumnData::Str(s) => s.clear(),
                ColumnData::Int(v) | ColumnData::Millis(v) => v.clear(),
                ColumnData::Float(v) => v.clear(),
                ColumnData::Bool(v) => v.clear(),
            }
        }
        self.rows = 0;
        self.approx_bytes = 0;
    }

    /// Appends one row per item of `rows`, column by column. Filling one column at a time
    /// keeps the writes sequential, which a row at a time across a hundred columns is not; the
    /// column's source and type are matched once per column, not once per cell.
    pub fn push_rows<T: Row>(&mut self, rows: &[T]) {
        let mut bytes = 9 * rows.len() * self.columns.len();
        for (col, data) in self.table.columns.iter().zip(&mut self.columns) {
            bytes += T::append_column(rows, col.source, data);
        }
        self.rows += rows.len();
        self.approx_bytes += bytes;
    }

    /// Appends one row: `value(column)` gives its datum in that column.
    pub fn push_row<'a>(&mut self, mut value: impl FnMut(&crate::schema::Column) -> Datum<'a>) {
        let mut bytes = 9 * self.columns.len();
        for (col, data) in self.table.columns.iter().zip(&mut self.columns) {
            bytes += append(data, std::iter::once(value(col)));
        }
        self.rows += 1;
        self.approx_bytes += bytes;
    }
}

/// A row [`Batch::push_rows`] appends: its datum in each column.
pub trait Row {
    /// The datum of the column fed by `source`.
    fn datum(&self, source: Source) -> Datum<'_>;

    /// The datum of the column of CloudFront field `field` (most columns of `requests`): a row
    /// holding its fields as cells answers without matching the source again for every cell.
    fn field(&self, field: Field) -> Datum<'_> {
        self.datum(Source::Field(field))
    }

    /// Appends the datum of each of `rows` in the column fed by `source`; returns the bytes of
    /// text appended. The default reads fields through [`Row::field`] and other columns
    /// through [`Row::datum`]; a row type can pick each column's getter once instead.
    fn append_column(rows: &[Self], source: Source, data: &mut ColumnData) -> usize
    where
        Self: Sized,
    {
        match source {
            Source::Field(f) => append(data, rows.iter().map(|row| row.field(f))),
            source => append(data, rows.iter().map(|row| row.datum(source))),
        }
    }
}

/// Appends `datums` to a column (a datum of another type than the column's is stored as null:
/// the schema getters never produce one); returns the bytes of text appended.
pub(crate) fn append<'a>(data: &mut ColumnData, datums: impl Iterator<Item = Datum<'a>>) -> usize {
    match data {
        ColumnData::Str(c) => return c.extend(datums.map(|d| d.as_str())),
        ColumnData::Int(c) => c.fill(datums, Datum::as_int),
        ColumnData::Float(c) => c.fill(datums, Datum::as_float),
        ColumnData::Bool(c) => c.fill(datums, Datum::as_bool),
        ColumnData::Millis(c) => c.fill(datums, Datum::as_millis),
    }
    0
}
