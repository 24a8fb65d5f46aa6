//! Whether a number column chunk is written with a dictionary, decided as polars' writer
//! decides it (feature `parquet`), so that a dictionary's keys go through
//! [`crate::dictionary_pages`] instead of polars' per-value key encoder.
//!
//! polars' rule for a column of one type, not nested (`polars-parquet`'s
//! `encode_as_dictionary_optional`, restated here because it is private):
//! 1. Integers whose largest and smallest value differ by at most 65,535: the distinct values
//!    are counted exactly. A dictionary is kept when there are at most 2,048 of them or fewer
//!    than three per four cells, with the values in ascending order; else the column is plain.
//! 2. Other integers (a wider range, or no value at all): the distinct values are estimated
//!    (polars' HyperLogLog); more than three per four cells, over more than 128 cells, make the
//!    column plain; else the dictionary holds the values in order of first appearance (what
//!    polars' cast to a dictionary builds; built here with a hash table).
//! 3. Doubles are plain: polars estimates them too, but its cast has no dictionary for them.
//!
//! The `number_columns_match_polars_pages` test in `crate::parquet` holds the dictionary, the
//! page cuts and every page header to the ones polars writes for the same column.

use std::hash::{BuildHasher, RandomState};

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_compute::cardinality::estimate_cardinality;
use polars_compute::min_max::MinMaxKernel;

use crate::dictionary_pages::for_each_valid;

/// Integer ranges up to this wide are counted exactly.
const RANGE_COUNTED: usize = u16::MAX as usize;
/// At most this many distinct integers always make a dictionary.
const FEW_DISTINCT: usize = 2048;
/// Below this many cells the estimate never rules a dictionary out.
const FEW_CELLS: usize = 128;

/// How a number column chunk is written.
#[derive(Debug)]
pub(crate) enum Choice {
    /// Plain values.
    Plain,
    /// A dictionary page and keys.
    Dictionary(DictionaryArray<u32>),
}

/// polars' choice for `array`, or `None` when it is not a column of 64-bit integers,
/// timestamps or doubles (the types of the lake's number columns), or is empty.
pub(crate) fn choose(array: &dyn Array) -> Option<Choice> {
    if array.is_empty() {
        return None;
    }
    if array.as_any().downcast_ref::<PrimitiveArray<f64>>().is_some() {
        // polars' estimate, then its cast, which has no dictionary for doubles: always plain.
        return Some(Choice::Plain);
    }
    let integers = array.as_any().downcast_ref::<PrimitiveArray<i64>>()?;
    Some(counted(integers).unwrap_or_else(|| estimated(integers)))
}

/// Rule 1, or `None` when the integers' range is too wide (or there is no value).
fn counted(array: &PrimitiveArray<i64>) -> Option<Choice> {
    let (min, max) = array.min_max_ignore_nan_kernel()?;
    let range = usize::try_from(max.checked_sub(min)?).ok()?;
    if range > RANGE_COUNTED {
        return None;
    }
    // Each value's position in the range: `offset` as a bit of `seen`, then its key.
    let offset = |v: i64| usize::try_from(v.clamp(min, max) - min).unwrap_or(0);
    let mut seen = vec![false; range + 1];
    for_each_valid(array.values(), array.validity(), |_, v| {
        if let Some(slot) = seen.get_mut(offset(v)) {
            *slot = true;
        }
    });
    let distinct = seen.iter().filter(|&&s| s).count();
    let worth = distinct <= FEW_DISTINCT || (distinct as f64) / (array.len() as f64) < 0.75;
    if !worth {
        return Some(Choice::Plain);
    }
    // Keys fit 16 bits (at most 65,536 distinct values): a table half the size stays in cache.
    let mut key_of = vec![0u16; range + 1];
    let mut values = Vec::with_capacity(distinct);
    for (at, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        if let Some(key) = key_of.get_mut(at) {
            *key = u16::try_from(values.len()).unwrap_or(u16::MAX);
        }
        values.push(min + at as i64);
    }
    // Null cells hold some value too; clamped into the range it gives a valid key.
    let keys: Vec<u32> = array
        .values()
        .iter()
        .map(|&v| u32::from(key_of.get(offset(v)).copied().unwrap_or(0)))
        .collect();
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), array.validity().cloned());
    let values = PrimitiveArray::new(ArrowDataType::Int64, values.into(), None).boxed();
    let dtype =
        ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(ArrowDataType::Int64), false);
    Some(DictionaryArray::try_new(dtype, keys, values).map_or(Choice::Plain, Choice::Dictionary))
}

/// Rule 2, for integers: polars' estimate, then the dictionary its cast builds (values in order
/// of first appearance, a null cell a null key).
fn estimated(array: &PrimitiveArray<i64>) -> Choice {
    let cells = array.len();
    if cells > FEW_CELLS && (estimate_cardinality(array) as f64) / (cells as f64) > 0.75 {
        return Choice::Plain;
    }
    // Seeded per call: the values come from log lines (CMCD numbers from the client).
    let hasher = FixedState::with_seed(RandomState::new().hash_one(0x5eed_u64));
    let mut index: HashTable<u32> = HashTable::new();
    let mut values: Vec<i64> = Vec::new();
    let mut key_of = |v: i64| -> u32 {
        let hash = hasher.hash_one(v);
        let found = index.find(hash, |&k| values.get(k as usize) == Some(&v)).copied();
        found.unwrap_or_else(|| {
            let key = u32::try_from(values.len()).unwrap_or(u32::MAX);
            values.push(v);
            index.insert_unique(hash, key, |&k| {
                hasher.hash_one(values.get(k as usize).copied().unwrap_or(0))
            });
            key
        })
    };
    let mut keys = vec![0u32; array.len()];
    for_each_valid(array.values(), array.validity(), |i, v| {
        if let Some(key) = keys.get_mut(i) {
            *key = key_of(v);
        }
    });
    // An all-null column: polars' dictionary holds no value and every key is null.
    let validity = array.validity().cloned();
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity);
    let values = PrimitiveArray::new(array.dtype().clone(), values.into(), None).boxed();
    let dtype =
        ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(array.dtype().clone()), false);
    DictionaryArray::try_new(dtype, keys, values).map_or(Choice::Plain, Choice::Dictionary)
}
