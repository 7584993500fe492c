"""Reads the label tables ssdlt exported with pyarrow and checks row counts, column types and the
schema version in the file metadata (what pandas, polars and DuckDB see through Arrow).

    python3 tests/read_tables.py DIR ROWS_JSON

DIR holds `<table>.arrow`, `<table>.parquet` and `<table>.csv` (+ `<table>.csv.meta.json`) for
every table; ROWS_JSON maps each table name to its expected row count. Prints one line per file
and `all tables read` at the end; exits non-zero on the first mismatch.
"""

import json
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

SCHEMA_VERSION = "1"

# The README's "Label tables" section, as pyarrow names the types.
TYPES = {
    "samples": {
        "split": "string", "id": "string", "path": "string", "location": "string",
        "label": "uint32", "class_name": "string", "hash": "string",
    },
    "soft_labels": {
        "stage": "string", "id": "string", "hash": "string", "view": "uint32",
        "top_classes": "list<item: uint32>", "top_probs": "list<item: float>",
        "entropy": "float", "teacher_fingerprint": "string",
    },
    "predictions": {
        "stage": "string", "model": "string", "model_fingerprint": "string", "head": "string",
        "id": "string", "hash": "string", "label": "uint32", "predicted": "uint32",
        "confidence": "float", "correct": "bool",
        "top_classes": "list<item: uint32>", "top_logits": "list<item: float>",
    },
    "per_class": {
        "stage": "string", "model": "string", "head": "string", "class": "uint32",
        "class_name": "string", "train_count": "uint32", "shot_group": "string",
        "test_samples": "uint32", "accuracy": "double", "precision": "double", "recall": "double",
    },
    "runs": {
        "stage": "string", "kind": "string", "fingerprint": "string", "parameters": "string",
        "wall_s": "double", "images_per_s": "double",
    },
}


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def check_table(path, name, table, metadata, rows):
    if table.num_rows != rows:
        fail(f"{path}: {table.num_rows} rows, expected {rows}")
    got = {f.name: str(f.type) for f in table.schema}
    if got != TYPES[name]:
        fail(f"{path}: columns {got}, expected {TYPES[name]}")
    meta = {k.decode(): v.decode() for k, v in (metadata or {}).items()}
    if meta.get("ssdlt.table") != name or meta.get("ssdlt.schema_version") != SCHEMA_VERSION:
        fail(f"{path}: metadata {meta} lacks ssdlt.table={name} / ssdlt.schema_version={SCHEMA_VERSION}")
    print(f"ok {path}: {table.num_rows} rows")


def main():
    folder, rows_json = sys.argv[1], sys.argv[2]
    with open(rows_json) as f:
        expected = json.load(f)
    for name, rows in expected.items():
        path = f"{folder}/{name}.arrow"
        with pa.memory_map(path) as source:
            reader = ipc.open_file(source)
            check_table(path, name, reader.read_all(), reader.schema.metadata, rows)

        path = f"{folder}/{name}.parquet"
        table = pq.read_table(path)
        check_table(path, name, table, table.schema.metadata, rows)
        footer = pq.read_metadata(path).metadata
        if footer.get(b"ssdlt.schema_version") != SCHEMA_VERSION.encode():
            fail(f"{path}: the footer key-value metadata lacks ssdlt.schema_version")

        path = f"{folder}/{name}.csv"
        table = pacsv.read_csv(path)
        if table.num_rows != rows or table.column_names != list(TYPES[name]):
            fail(f"{path}: {table.num_rows} rows and columns {table.column_names}")
        with open(path + ".meta.json") as f:
            sidecar = json.load(f)
        if sidecar["metadata"].get("ssdlt.schema_version") != SCHEMA_VERSION:
            fail(f"{path}.meta.json: no schema version")
        print(f"ok {path}: {table.num_rows} rows")
    print("all tables read")


if __name__ == "__main__":
    main()
