//! The text of a string column, stored so that the Parquet encoder gets it in the shape it
//! writes.
//!
//! With the `parquet` feature a column starts as a **dictionary**: each distinct text is stored
//! once, in order of first appearance, and each cell holds the index of its text. Most columns
//! of a log (edge location, status text, protocol, content type, country, user agent, …) take
//! a few hundred values in a row group, so a cell costs one hash and one probe instead of a
//! copy, and the encoder writes the dictionary as it is instead of hashing every cell again to
//! build one. A column whose values are mostly distinct (request ids, CMCD-bearing URLs and
//! headers) turns **plain** as soon as a check finds more than three distinct texts in four
//! cells (checks at 1,024 cells and each doubling after), and is written plain, without
//! dictionary attempt. That is the rule polars' writer applies to a whole column chunk, here
//! decided while the rows arrive. The next row group starts as a dictionary again.
//!
//! A dictionary taken in a write order (a table whose rows are grouped, see
//! [`crate::schema::RowOrder`]) is renumbered on the way out: its texts in order of first
//! appearance in the written rows, its keys following. Consecutive written rows then mostly
//! get equal or consecutive keys, and ZSTD codes the key pages smaller.
//!
//! Without the feature the text is one string with end offsets.

#[cfg(feature = "parquet")]
pub(crate) use dictionary::{Taken, TextCells, gather};
#[cfg(not(feature = "parquet"))]
pub(crate) use offsets::TextCells;

#[cfg(feature = "parquet")]
mod dictionary {
    use std::hash::{BuildHasher, RandomState};

    use foldhash::fast::FixedState;
    use hashbrown::HashTable;
    use polars_arrow::array::{
        Array, DictionaryArray, MutableArray, MutablePlString, PrimitiveArray,
    };
    use polars_arrow::bitmap::Bitmap;
    use polars_arrow::datatypes::{ArrowDataType, IntegerType};

    /// A dictionary with more distinct texts than this share of its cells is not worth keeping:
    /// `distinct × DENSE_DEN > cells × DENSE_NUM` (3/4, polars' own threshold).
    const DENSE_NUM: usize = 3;
    const DENSE_DEN: usize = 4;

    /// First cell count at which a dictionary's density is checked; then at every doubling
    /// (every power of two from here).
    const FIRST_CHECK: usize = 1024;

    /// Whether `a` and `b` are the same bytes. Texts of 8 to 64 bytes (most repeated log
    /// cells: host names, ciphers, addresses, status texts, 36-byte CMCD session ids) are
    /// compared eight bytes at a time inline, the last word overlapping; others with `==` (a
    /// `memcmp` call, which for these short texts cost more than the comparison: it was 4 % of
    /// an ingest's cycles). Used for the previous row's text and for the hash table's
    /// candidates.
    #[inline(always)]
    pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
        let n = a.len();
        if n != b.len() {
            return false;
        }
        if !(8..=64).contains(&n) {
            return a == b;
        }
        let word = |s: &[u8], at: usize| s.get(at..).and_then(|w| w.first_chunk::<8>()).copied();
        let mut at = 0;
        while at + 8 < n {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        word(a, n - 8) == word(b, n - 8)
    }

    /// Whether `distinct` texts over `cells` cells make too dense a dictionary.
    fn too_dense(distinct: usize, cells: usize) -> bool {
        distinct * DENSE_DEN > cells * DENSE_NUM
    }

    /// The cells of a text column: a dictionary with one key per cell, or the texts in order.
    #[derive(Debug, Clone)]
    pub(crate) enum TextCells {
        /// Distinct texts and, per cell, the index of its text (0 for a null cell).
        Dictionary(Dictionary),
        /// Each cell's text (empty for a null cell).
        Plain(MutablePlString),
    }

    /// Distinct texts in order of first appearance, a hash index over them, a key per cell.
    #[derive(Debug, Clone)]
    pub(crate) struct Dictionary {
        texts: MutablePlString,
        /// The hash of each distinct text, by key: the index grows without hashing the texts
        /// again (request URLs and headers are hundreds of bytes).
        hashes: Vec<u64>,
        index: HashTable<u32>,
        keys: Vec<u32>,
        /// Seeded per process: log text is untrusted, and the hash only finds texts — the
        /// dictionary's order is first appearance, so the bytes written do not depend on it.
        hasher: FixedState,
        /// Key of the last text interned or found: log columns often repeat the previous
        /// row's value, which is then found with one comparison instead of a hash and probe.
        last: Option<u32>,
    }

    impl Dictionary {
        fn with_capacity(capacity: usize) -> Self {
            Self {
                texts: MutablePlString::new(),
                hashes: Vec::new(),
                index: HashTable::new(),
                keys: Vec::with_capacity(capacity),
                hasher: FixedState::with_seed(RandomState::new().hash_one(0x5eed_u64)),
                last: None,
            }
        }

        /// The key of `text`, interning it when new. The repeat of the previous row's text
        /// (the common case) is decided in the column loop; the hash path is a call.
        #[inline(always)]
        fn intern(&mut self, text: &str) -> u32 {
            if let Some(key) = self.last
                && same_bytes(self.texts.value(key as usize).as_bytes(), text.as_bytes())
            {
                return key;
            }
            self.find_or_insert(text)
        }

        #[inline(never)]
        fn find_or_insert(&mut self, text: &str) -> u32 {
            let Self { texts, hashes, index, hasher, last, .. } = self;
            let hash = hasher.hash_one(text);
            let same = |&k: &u32| same_bytes(texts.value(k as usize).as_bytes(), text.as_bytes());
            let key = if let Some(&key) = index.find(hash, same) {
                key
            } else {
                // A row group has far fewer than 2^32 cells (rows are capped per row group).
                let key = u32::try_from(texts.len()).unwrap_or(u32::MAX);
                texts.push_value(text);
                hashes.push(hash);
                index.insert_unique(hash, key, |&k| hashes.get(k as usize).copied().unwrap_or(0));
                key
            };
            *last = Some(key);
            key
        }

        fn text(&self, i: usize) -> &str {
            let key = self.keys.get(i).copied().unwrap_or(0);
            if (key as usize) < self.texts.len() { self.texts.value(key as usize) } else { "" }
        }

        /// The keys of the cells in `order` (row indices) and the texts they index, both
        /// renumbered so that the texts are in order of first appearance in `order` (null cells
        /// get key 0). Written in that order, consecutive rows mostly get equal or consecutive
        /// keys, which ZSTD codes in fewer bytes than the input order's numbers: the `requests`
        /// table of the benchmark's generated traffic was 6 % smaller.
        fn renumbered(&self, valid: &[bool], order: &[u32]) -> (Vec<u32>, MutablePlString) {
            const UNSEEN: u32 = u32::MAX;
            let mut new_key = vec![UNSEEN; self.texts.len()];
            let mut texts = MutablePlString::with_capacity(self.texts.len());
            let mut keys = Vec::with_capacity(order.len());
            for &row in order {
                let row = row as usize;
                let old = self.keys.get(row).copied().unwrap_or(0);
                let new = match new_key.get_mut(old as usize) {
                    Some(new) if valid.get(row).copied().unwrap_or(false) => new,
                    _ => {
                        keys.push(0);
                        continue;
                    }
                };
                if *new == UNSEEN {
                    // Fewer texts than cells, and cells are capped per row group.
                    *new = u32::try_from(texts.len()).unwrap_or(UNSEEN);
                    texts.push_value(self.texts.value(old as usize));
                }
                keys.push(*new);
            }
            (keys, texts)
        }

        /// The same cells as plain text (`valid[i]` false: a null cell), in input order or in
        /// `order` (row indices).
        fn to_plain(&self, valid: &[bool], order: Option<&[u32]>) -> MutablePlString {
            let cell = |i: usize| valid.get(i).copied().unwrap_or(false).then(|| self.text(i));
            let mut plain = MutablePlString::with_capacity(self.keys.capacity());
            match order {
                Some(order) => order.iter().for_each(|&i| plain.push(cell(i as usize))),
                None => (0..valid.len()).for_each(|i| plain.push(cell(i))),
            }
            plain
        }
    }

    impl TextCells {
        pub(crate) fn with_capacity(capacity: usize) -> Self {
            Self::Dictionary(Dictionary::with_capacity(capacity))
        }

        /// Appends cells; `valid` holds the validity of the cells before them and gets theirs.
        /// Returns the bytes of text appended. Called once per block of rows, so that the loop
        /// keeps its state in registers (a call per cell spent about a fifth of its cost on
        /// the call itself).
        pub(crate) fn extend<'t>(
            &mut self,
            texts: impl IntoIterator<Item = Option<&'t str>>,
            valid: &mut Vec<bool>,
        ) -> usize {
            let mut texts = texts.into_iter();
            let mut bytes = 0;
            if let Self::Dictionary(dict) = self {
                let mut plain = None;
                // The cell count of the next density check: the first power of two from
                // `FIRST_CHECK` above the cells held (a check is due when it is reached).
                let mut check = (dict.keys.len() + 1).max(FIRST_CHECK).next_power_of_two();
                for text in texts.by_ref() {
                    bytes += text.map_or(0, str::len);
                    let key = text.map_or(0, |t| dict.intern(t));
                    dict.keys.push(key);
                    let cells = dict.keys.len();
                    let due = cells == check;
                    if due {
                        check *= 2;
                    }
                    if due && too_dense(dict.texts.len(), cells) {
                        // `valid` does not hold this cell yet; `to_plain` stops before it.
                        let mut cells = dict.to_plain(valid, None);
                        cells.push(text);
                        plain = Some(cells);
                    }
                    valid.push(text.is_some());
                    if plain.is_some() {
                        break;
                    }
                }
                match plain {
                    Some(cells) => *self = Self::Plain(cells),
                    None => return bytes,
                }
            }
            if let Self::Plain(cells) = self {
                for text in texts {
                    bytes += text.map_or(0, str::len);
                    cells.push(text);
                    valid.push(text.is_some());
                }
            }
            bytes
        }

        /// Appends one cell (see [`TextCells::extend`]).
        #[cfg(test)]
        pub(crate) fn push(&mut self, text: Option<&str>, valid: &mut Vec<bool>) {
            self.extend([text], valid);
        }

        /// Text of cell `i` (empty for a null cell).
        pub(crate) fn get(&self, i: usize) -> &str {
            match self {
                Self::Plain(cells) => {
                    if i < cells.len() {
                        cells.value(i)
                    } else {
                        ""
                    }
                }
                Self::Dictionary(dict) => dict.text(i),
            }
        }

        /// Bytes of text held (each distinct text once for a dictionary).
        pub(crate) fn text_bytes(&self) -> usize {
            match self {
                Self::Plain(cells) => cells.total_bytes_len(),
                Self::Dictionary(dict) => dict.texts.total_bytes_len(),
            }
        }

        /// Whether the cells are kept as a dictionary.
        #[cfg(test)]
        pub(crate) fn is_dictionary(&self) -> bool {
            matches!(self, Self::Dictionary(_))
        }

        /// Each cell's group, numbered in order of first appearance, and the number of groups
        /// (null cells are in the last); `None` for plain cells. A dictionary's keys are
        /// already those numbers.
        pub(crate) fn dictionary_groups(&self, valid: &[bool]) -> Option<(Vec<u32>, usize)> {
            let Self::Dictionary(dict) = self else { return None };
            let null_group = u32::try_from(dict.texts.len()).unwrap_or(u32::MAX);
            let groups =
                dict.keys.iter().zip(valid).map(|(&k, &ok)| if ok { k } else { null_group });
            Some((groups.collect(), dict.texts.len() + 1))
        }

        /// Moves the cells out as an Arrow array — a `Dictionary(UInt32, Utf8View)` array, or a
        /// `Utf8View` array when the dictionary is too dense or empty — leaving an empty
        /// dictionary column of the same capacity. With an `order` (row indices), the cells
        /// come out in that order, except plain cells: they are moved out in input order as
        /// they are ([`Taken::InputOrder`]), and their page writer reads them in the order.
        ///
        /// # Errors
        ///
        /// Arrow's message if it rejects the dictionary (keys are in range by construction).
        pub(crate) fn take_arrow(
            &mut self,
            valid: &[bool],
            order: Option<&[u32]>,
        ) -> Result<Taken, String> {
            let taken = std::mem::replace(self, Self::with_capacity(valid.len()));
            let dict = match taken {
                Self::Plain(cells) => {
                    let array = plain_array(cells, valid);
                    return Ok(match order {
                        Some(_) => Taken::InputOrder(array),
                        None => Taken::Ordered(array),
                    });
                }
                Self::Dictionary(dict) => dict,
            };
            if dict.texts.is_empty() {
                // Every cell null (a field the configuration logs but no line fills).
                let array = polars_arrow::array::Utf8ViewArray::new_null(
                    ArrowDataType::Utf8View,
                    valid.len(),
                );
                return Ok(Taken::Ordered(array.boxed()));
            }
            if too_dense(dict.texts.len(), valid.len()) {
                return Ok(Taken::Ordered(plain_array(dict.to_plain(valid, order), valid)));
            }
            let has_nulls = valid.contains(&false);
            let validity: Option<Bitmap> = match order {
                Some(order) if has_nulls => Some(crate::parquet::bitmap_of(&gather(valid, order))),
                _ => has_nulls.then(|| crate::parquet::bitmap_of(valid)),
            };
            let (keys, texts) = match order {
                // With a single text every key is 0, in any order.
                Some(order) if dict.texts.len() > 1 => dict.renumbered(valid, order),
                _ => (dict.keys, dict.texts),
            };
            let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity);
            let texts: polars_arrow::array::Utf8ViewArray = texts.into();
            let dtype = ArrowDataType::Dictionary(
                IntegerType::UInt32,
                Box::new(ArrowDataType::Utf8View),
                false,
            );
            // Every key indexes `texts` (null cells hold 0 and `texts` is not empty).
            DictionaryArray::try_new(dtype, keys, texts.boxed())
                .map(|array| Taken::Ordered(array.boxed()))
                .map_err(|e| e.to_string())
        }
    }

    /// A text column moved out as an Arrow array (see [`TextCells::take_arrow`]).
    #[derive(Debug)]
    pub(crate) enum Taken {
        /// The cells in the order asked for.
        Ordered(Box<dyn Array>),
        /// Plain cells in input order: the page writer applies the order asked for.
        InputOrder(Box<dyn Array>),
    }

    impl Taken {
        /// The array, whichever order it is in.
        #[cfg(test)]
        pub(crate) fn into_array(self) -> Box<dyn Array> {
            match self {
                Self::Ordered(array) | Self::InputOrder(array) => array,
            }
        }
    }

    /// `values[i]` for each `i` of `order` (every index is in range: `order` is a permutation
    /// of the rows).
    pub(crate) fn gather<T: Copy + Default>(values: &[T], order: &[u32]) -> Vec<T> {
        order.iter().map(|&i| values.get(i as usize).copied().unwrap_or_default()).collect()
    }

    /// A plain `Utf8View` array of the cells. The builder already tracks nulls, so `valid` is
    /// only checked against its length.
    fn plain_array(cells: MutablePlString, valid: &[bool]) -> Box<dyn Array> {
        debug_assert_eq!(cells.len(), valid.len());
        let array: polars_arrow::array::Utf8ViewArray = cells.into();
        array.boxed()
    }
}

#[cfg(not(feature = "parquet"))]
mod offsets {
    /// The cells of a text column as one string and an end offset per cell.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct TextCells {
        data: String,
        ends: Vec<usize>,
    }

    impl TextCells {
        pub(crate) fn with_capacity(capacity: usize) -> Self {
            Self { data: String::new(), ends: Vec::with_capacity(capacity) }
        }

        /// Appends cells, and their validity to `valid`; returns the bytes of text appended.
        pub(crate) fn extend<'t>(
            &mut self,
            texts: impl IntoIterator<Item = Option<&'t str>>,
            valid: &mut Vec<bool>,
        ) -> usize {
            let before = self.data.len();
            for text in texts {
                if let Some(s) = text {
                    self.data.push_str(s);
                }
                self.ends.push(self.data.len());
                valid.push(text.is_some());
            }
            self.data.len() - before
        }

        /// Text of cell `i` (empty for a null cell).
        pub(crate) fn get(&self, i: usize) -> &str {
            let start = if i == 0 { 0 } else { self.ends.get(i - 1).copied().unwrap_or(0) };
            let end = self.ends.get(i).copied().unwrap_or(start);
            self.data.get(start..end).unwrap_or("")
        }

        /// Bytes of text held.
        pub(crate) fn text_bytes(&self) -> usize {
            self.data.len()
        }
    }
}

#[cfg(all(test, feature = "parquet"))]
mod tests {
    use polars_arrow::array::{Array, DictionaryArray, Utf8ViewArray};
    use polars_arrow::datatypes::ArrowDataType;

    use super::TextCells;

    /// Pushes `cells` and returns the column with its validity.
    fn column(cells: &[Option<String>]) -> (TextCells, Vec<bool>) {
        let mut text = TextCells::with_capacity(4);
        let mut valid = Vec::new();
        for c in cells {
            text.push(c.as_deref(), &mut valid);
        }
        (text, valid)
    }

    /// The cells of an Arrow array written by `take_arrow`, as text or null.
    #[allow(clippy::unwrap_used)] // a helper of the tests: another array type is a failure
    fn cells_of(array: &dyn Array) -> Vec<Option<String>> {
        let at = |i: usize| -> Option<String> {
            if !array.is_valid(i) {
                return None;
            }
            if let Some(dict) = array.as_any().downcast_ref::<DictionaryArray<u32>>() {
                let texts = dict.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
                let key = dict.keys().value(i) as usize;
                return Some(texts.value(key).to_owned());
            }
            let plain = array.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
            Some(plain.value(i).to_owned())
        };
        (0..array.len()).map(at).collect()
    }

    /// Taken in an order: a dictionary's keys and validity come out in it, a dictionary too
    /// dense to keep comes out as plain text in it, an all-null column as nulls, and plain
    /// cells in input order (their page writer follows the order).
    #[test]
    fn taken_in_an_order() {
        use super::Taken;
        let order: Vec<u32> = (0..2000).map(|i| (i * 7) % 2000).collect();
        let in_order = |cells: &[Option<String>]| -> Vec<Option<String>> {
            order.iter().map(|&i| cells[i as usize].clone()).collect()
        };
        let few: Vec<Option<String>> =
            (0..2000).map(|i| (i % 5 != 1).then(|| format!("pop-{}", i % 3))).collect();
        let distinct: Vec<Option<String>> =
            (0..2000).map(|i| (i % 9 != 4).then(|| format!("id-{i}"))).collect();
        let nulls: Vec<Option<String>> = vec![None; 2000];
        // 701 distinct texts in the first 1,024 cells (under the density limit at the check
        // there), all distinct after: over the limit at the end, so the column turns plain
        // only when it is taken.
        let dense_at_end: Vec<Option<String>> = (0..2000)
            .map(|i| {
                Some(if (700..1024).contains(&i) { "same".to_owned() } else { format!("t{i}") })
            })
            .collect();
        for (cells, plain_in_input_order) in
            [(&few, false), (&distinct, true), (&nulls, false), (&dense_at_end, false)]
        {
            let (mut text, valid) = column(cells);
            assert_eq!(text.is_dictionary(), !plain_in_input_order);
            match text.take_arrow(&valid, Some(&order)).unwrap() {
                Taken::Ordered(array) => {
                    assert!(!plain_in_input_order);
                    assert_eq!(cells_of(array.as_ref()), in_order(cells));
                    let plain = matches!(array.dtype(), ArrowDataType::Utf8View);
                    assert_eq!(
                        plain,
                        std::ptr::eq(cells, &dense_at_end) || std::ptr::eq(cells, &nulls)
                    );
                }
                Taken::InputOrder(array) => {
                    assert!(plain_in_input_order);
                    assert!(matches!(array.dtype(), ArrowDataType::Utf8View));
                    assert_eq!(&cells_of(array.as_ref()), cells);
                }
            }
        }
    }

    /// Taken in an order, a dictionary's texts are renumbered in order of first appearance in
    /// that order: the first valid cell written has key 0, each new text the next key, and a
    /// null cell key 0.
    #[test]
    fn a_dictionary_taken_in_an_order_is_numbered_in_that_order() {
        let order: Vec<u32> = (0..3000).rev().collect();
        let cells: Vec<Option<String>> =
            (0..3000).map(|i| (i % 11 != 2).then(|| format!("cid-{}", (i * 13) % 97))).collect();
        let (mut text, valid) = column(&cells);
        let array = text.take_arrow(&valid, Some(&order)).unwrap().into_array();
        let in_order: Vec<Option<String>> =
            order.iter().map(|&i| cells[i as usize].clone()).collect();
        assert_eq!(cells_of(array.as_ref()), in_order);
        let dict = array.as_any().downcast_ref::<DictionaryArray<u32>>().unwrap();
        let texts = dict.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        let mut first_appearance: Vec<String> = Vec::new();
        for cell in in_order.iter().flatten() {
            if !first_appearance.contains(cell) {
                first_appearance.push(cell.clone());
            }
        }
        assert_eq!(texts.values_iter().collect::<Vec<_>>(), first_appearance);
        for (i, cell) in in_order.iter().enumerate() {
            if cell.is_none() {
                assert_eq!(dict.keys().value(i), 0, "a null cell's key");
            }
        }
    }

    #[test]
    fn few_distinct_texts_stay_a_dictionary_in_order_of_first_appearance() {
        let pops = ["FRA56-P1", "IAD89-C2", "NRT57-P3"];
        let cells: Vec<Option<String>> =
            (0..5000).map(|i| (i % 7 != 3).then(|| pops[(i * 5 / 3) % 3].to_owned())).collect();
        let (mut text, valid) = column(&cells);
        assert!(text.is_dictionary());
        assert_eq!((text.get(0), text.get(1)), ("FRA56-P1", "IAD89-C2"));
        assert_eq!(text.text_bytes(), 3 * 8, "each text is held once");
        let array = text.take_arrow(&valid, None).unwrap().into_array();
        assert!(matches!(array.dtype(), ArrowDataType::Dictionary(..)));
        let dict = array.as_any().downcast_ref::<DictionaryArray<u32>>().unwrap();
        let texts = dict.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        let order: Vec<&str> = texts.values_iter().collect();
        assert_eq!(order, ["FRA56-P1", "IAD89-C2", "NRT57-P3"]);
        assert_eq!(cells_of(array.as_ref()), cells);
        assert_eq!(array.null_count(), cells.iter().filter(|c| c.is_none()).count());
        // The column is empty again, and a dictionary again.
        assert!(text.is_dictionary());
        assert_eq!(text.text_bytes(), 0);
    }

    #[test]
    fn the_dictionary_does_not_depend_on_the_hash_seed() {
        // Each column draws its own seed; the order of the texts is first appearance.
        let cells: Vec<Option<String>> =
            (0..3000).map(|i| Some(format!("edge-{}", (i * 7919) % 401))).collect();
        let (mut a, valid) = column(&cells);
        let (mut b, _) = column(&cells);
        let (a, b) = (
            a.take_arrow(&valid, None).unwrap().into_array(),
            b.take_arrow(&valid, None).unwrap().into_array(),
        );
        assert!(matches!(a.dtype(), ArrowDataType::Dictionary(..)));
        let texts = |array: &dyn Array| -> Vec<String> {
            let dict = array.as_any().downcast_ref::<DictionaryArray<u32>>().unwrap();
            let values = dict.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
            values.values_iter().map(str::to_owned).collect()
        };
        assert_eq!(texts(a.as_ref()), texts(b.as_ref()));
        assert_eq!(cells_of(a.as_ref()), cells_of(b.as_ref()));
    }

    #[test]
    fn mostly_distinct_texts_turn_plain_without_losing_a_cell() {
        // Nulls and repeats before the first check, all distinct after.
        let cells: Vec<Option<String>> = (0..3000)
            .map(|i| match i {
                0..=99 => None,
                100..=199 => Some("same".to_owned()),
                _ => Some(format!("request-{i:08}-{}", "x".repeat(i % 13))),
            })
            .collect();
        let (mut text, valid) = column(&cells[..1023]);
        assert!(text.is_dictionary(), "no check before 1,024 cells");
        let mut valid = valid;
        // One call across the check: the cells after it go to the plain column.
        let rest = &cells[1023..];
        let bytes = text.extend(rest.iter().map(Option::as_deref), &mut valid);
        assert_eq!(bytes, rest.iter().flatten().map(String::len).sum::<usize>());
        assert_eq!(valid.len(), cells.len());
        assert!(!text.is_dictionary(), "turned plain at the check");
        for (i, c) in cells.iter().enumerate() {
            assert_eq!(c.as_deref().unwrap_or(""), text.get(i), "cell {i}");
        }
        let array = text.take_arrow(&valid, None).unwrap().into_array();
        assert_eq!(array.dtype(), &ArrowDataType::Utf8View);
        assert_eq!(cells_of(array.as_ref()), cells);
        assert!(text.is_dictionary(), "the next row group starts as a dictionary");
    }

    /// The density is checked at 1,024 cells and each doubling, wherever the appended blocks
    /// start and end: a block that starts exactly at a check (2,048 cells held) and ends past
    /// the next one (4,096) turns the column plain there.
    #[test]
    fn density_checks_fall_at_powers_of_two_across_blocks() {
        // Five texts in the first 1,024 cells, then all distinct: 1,029 of 2,048 cells
        // distinct (not too dense), 3,077 of 4,096 (too dense).
        let cells: Vec<Option<String>> = (0..4200)
            .map(|i| Some(if i < 1024 { format!("pop-{}", i % 5) } else { format!("id-{i}") }))
            .collect();
        for first in [2048, 2047, 1024] {
            let mut text = TextCells::with_capacity(16);
            let mut valid = Vec::new();
            text.extend(cells[..first].iter().map(Option::as_deref), &mut valid);
            assert!(text.is_dictionary(), "{first}");
            text.extend(cells[first..4100].iter().map(Option::as_deref), &mut valid);
            assert!(!text.is_dictionary(), "too dense at 4,096 cells: {first}");
            for (i, c) in cells[..4100].iter().enumerate() {
                assert_eq!(c.as_deref().unwrap_or(""), text.get(i), "cell {i}");
            }
        }
    }

    #[test]
    fn a_dense_dictionary_below_the_first_check_is_written_plain() {
        let cells: Vec<Option<String>> = (0..200).map(|i| Some(format!("id-{i}"))).collect();
        let (mut text, valid) = column(&cells);
        assert!(text.is_dictionary());
        let array = text.take_arrow(&valid, None).unwrap().into_array();
        assert_eq!(array.dtype(), &ArrowDataType::Utf8View);
        assert_eq!(cells_of(array.as_ref()), cells);
    }

    proptest::proptest! {
        /// The inline comparison of the previous row's text is byte equality, at every length
        /// around its 8–64-byte window and for a difference at any position.
        #[test]
        fn same_bytes_is_equality(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..72),
            flip in proptest::prelude::any::<proptest::sample::Index>(),
            bit in 0u8..8,
            longer in proptest::prelude::any::<bool>(),
        ) {
            proptest::prop_assert!(super::dictionary::same_bytes(&a, &a.clone()));
            let mut b = a.clone();
            if let Some(byte) = b.get_mut(flip.index(a.len().max(1))) {
                *byte ^= 1 << bit;
                proptest::prop_assert!(!super::dictionary::same_bytes(&a, &b));
            }
            let mut c = a.clone();
            if longer { c.push(a.last().copied().unwrap_or(0)) } else { c.pop(); }
            proptest::prop_assert_eq!(super::dictionary::same_bytes(&a, &c), a == c);
        }
    }

    #[test]
    fn an_all_null_column_is_written_plain() {
        let cells = vec![None; 10];
        let (mut text, valid) = column(&cells);
        let array = text.take_arrow(&valid, None).unwrap().into_array();
        assert_eq!(array.dtype(), &ArrowDataType::Utf8View);
        assert_eq!(array.null_count(), 10);
    }
}
