//! Arrow IPC plumbing shared by the stored tables (soft labels, predictions, metrics): encoding
//! one record batch to file bytes, decoding them back, and typed column access whose errors name
//! the file, the column and what was expected.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, FixedSizeBinaryArray, FixedSizeListArray, Float32Array, UInt32Array};
use arrow::record_batch::RecordBatch;
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use crate::error::{Error, Result};

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::File { path: path.to_path_buf(), message: message.into() }
}

/// `columns` under `schema` (with its metadata) as the bytes of an Arrow IPC file.
pub fn encode_ipc(schema: Schema, columns: Vec<ArrayRef>, path: &Path) -> Result<Vec<u8>> {
    let schema = Arc::new(schema);
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| bad(path, format!("cannot build the Arrow table: {e}")))?;
    let mut bytes = Vec::new();
    {
        let mut writer = FileWriter::try_new(&mut bytes, &schema).map_err(|e| bad(path, format!("cannot start the Arrow file: {e}")))?;
        writer.write(&batch).map_err(|e| bad(path, format!("cannot write the Arrow table: {e}")))?;
        writer.finish().map_err(|e| bad(path, format!("cannot finish the Arrow file: {e}")))?;
    }
    Ok(bytes)
}

/// The schema and record batches of an Arrow IPC file's bytes.
pub fn decode_ipc(bytes: &[u8], path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let reader = FileReader::try_new(std::io::Cursor::new(bytes), None)
        .map_err(|e| bad(path, format!("not an Arrow IPC file ({e}); delete it and re-run the stage that wrote it")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("truncated or corrupt Arrow IPC file ({e}); delete it and re-run the stage that wrote it")))?;
    Ok((schema, batches))
}

/// A metadata value of `schema`, or an error naming the key.
pub fn metadata<'a>(schema: &'a Schema, key: &str, path: &Path) -> Result<&'a str> {
    schema.metadata().get(key).map(String::as_str).ok_or_else(|| bad(path, format!("metadata key `{key}` is missing; the file was not written by ssdlt or by an older version")))
}

/// Parses a metadata value.
pub fn metadata_parsed<T: std::str::FromStr>(schema: &Schema, key: &str, path: &Path) -> Result<T> {
    let text = metadata(schema, key, path)?;
    text.parse().map_err(|_| bad(path, format!("metadata `{key}` = `{text}` does not parse")))
}

/// Metadata map from (key, value) pairs.
pub fn metadata_map(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Column `name` of `batch` as array type `A`.
pub fn column<'a, A: Array + 'static>(batch: &'a RecordBatch, name: &str, expected: &str, path: &Path) -> Result<&'a A> {
    let col = batch.column_by_name(name).ok_or_else(|| bad(path, format!("column `{name}` is missing")))?;
    col.as_any().downcast_ref::<A>().ok_or_else(|| bad(path, format!("column `{name}` is {}, expected {expected}", col.data_type())))
}

/// A non-nullable fixed-size list field of `k` items of `item`.
pub fn fixed_list_type(item: DataType, k: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new("item", item, false)), k as i32)
}

/// `values` (row-major, `k` per row) as a fixed-size list column of f32.
pub fn fixed_list_f32(values: Vec<f32>, k: usize) -> Result<ArrayRef> {
    let field = Arc::new(Field::new("item", DataType::Float32, false));
    let list = FixedSizeListArray::try_new(field, k as i32, Arc::new(Float32Array::from(values)), None).map_err(|e| Error::invalid("Arrow list column", e.to_string()))?;
    Ok(Arc::new(list))
}

/// `values` (row-major, `k` per row) as a fixed-size list column of u32.
pub fn fixed_list_u32(values: Vec<u32>, k: usize) -> Result<ArrayRef> {
    let field = Arc::new(Field::new("item", DataType::UInt32, false));
    let list = FixedSizeListArray::try_new(field, k as i32, Arc::new(UInt32Array::from(values)), None).map_err(|e| Error::invalid("Arrow list column", e.to_string()))?;
    Ok(Arc::new(list))
}

/// blake3 hashes as a fixed-size binary(32) column.
pub fn hash_column(hashes: impl Iterator<Item = [u8; 32]>) -> ArrayRef {
    let bytes: Vec<u8> = hashes.flat_map(|h| h.into_iter()).collect();
    Arc::new(FixedSizeBinaryArray::new(32, Buffer::from_vec(bytes), None))
}

/// The f32 items of a fixed-size list column: (values row-major, items per row).
pub fn list_values_f32(batch: &RecordBatch, name: &str, path: &Path) -> Result<(Vec<f32>, usize)> {
    let list = column::<FixedSizeListArray>(batch, name, "FixedSizeList<Float32>", path)?;
    let k = list.value_length() as usize;
    let items = list.values().as_any().downcast_ref::<Float32Array>().ok_or_else(|| bad(path, format!("column `{name}` holds {}, expected Float32 items", list.values().data_type())))?;
    Ok((items.values()[..list.len() * k].to_vec(), k))
}

/// The u32 items of a fixed-size list column: (values row-major, items per row).
pub fn list_values_u32(batch: &RecordBatch, name: &str, path: &Path) -> Result<(Vec<u32>, usize)> {
    let list = column::<FixedSizeListArray>(batch, name, "FixedSizeList<UInt32>", path)?;
    let k = list.value_length() as usize;
    let items = list.values().as_any().downcast_ref::<UInt32Array>().ok_or_else(|| bad(path, format!("column `{name}` holds {}, expected UInt32 items", list.values().data_type())))?;
    Ok((items.values()[..list.len() * k].to_vec(), k))
}

/// The hashes of a fixed-size binary(32) column.
pub fn hash_values(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<[u8; 32]>> {
    let col = column::<FixedSizeBinaryArray>(batch, name, "FixedSizeBinary(32)", path)?;
    if col.value_length() != 32 {
        return Err(bad(path, format!("column `{name}` holds {}-byte values, expected 32-byte blake3 hashes", col.value_length())));
    }
    Ok((0..col.len()).map(|i| col.value(i).try_into().expect("32-byte values")).collect())
}
