//! Pooling: global average pool and max pool, forward and backward.
