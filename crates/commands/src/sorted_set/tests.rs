//! Sorted-set family tests, driven through the command table in-process.

use crate::test_shard::TestShard;
