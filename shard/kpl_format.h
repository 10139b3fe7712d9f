/*
 * The KPL aggregate's wire format, shared by the reader (shard/kpl.c) and
 * the writer (shard/kpl_aggregate.c) so that both speak the same bytes:
 * the magic that starts an aggregate, protobuf's wire types, and the whole
 * tags (field number << 3 | wire type) of AggregatedRecord, Record and
 * Tag. The format is summarised in the vectors' SOURCES.md, section 3.
 */
#ifndef KEFO_SHARD_KPL_FORMAT_H
#define KEFO_SHARD_KPL_FORMAT_H

#include <stdint.h>

#include "shard/kpl.h"

static const uint8_t kefo__kpl_magic[KEFO_KPL_MAGIC_LEN] = {0xF3, 0x89, 0x9A,
                                                            0xC2};

/* Protobuf wire types. */
#define KPL_WIRE_VARINT 0
#define KPL_WIRE_I64 1
#define KPL_WIRE_LEN 2
#define KPL_WIRE_I32 5

/*
 * AggregatedRecord's fields. A known field number with another wire type
 * is an unknown field to protobuf-java, which the KCL uses, so the reader
 * skips it too.
 */
#define KPL_TAG_AGG_PARTITION_KEY 0x0A
#define KPL_TAG_AGG_EXPLICIT_HASH_KEY 0x12
#define KPL_TAG_AGG_RECORD 0x1A
/* Record's fields. */
#define KPL_TAG_REC_PARTITION_KEY_INDEX 0x08
#define KPL_TAG_REC_EXPLICIT_HASH_KEY_INDEX 0x10
#define KPL_TAG_REC_DATA 0x1A
#define KPL_TAG_REC_TAG 0x22
/* Tag's key. */
#define KPL_TAG_TAG_KEY 0x0A

#endif
