/*
 * Where reading a shard starts: the five position types of
 * SubscribeToShard and GetShardIterator, and the room a shard id takes.
 */
#ifndef KEFO_POSITION_H
#define KEFO_POSITION_H

/* Room for a shard id (at most 128 characters) and its NUL. */
#define KEFO_SHARD_ID_CAP 130

/* Returns 1 when |type| is a known starting position (TRIM_HORIZON,
   LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER) and
   |value| fits it: present when the type needs one (a well-formed
   sequence number for the two SEQUENCE types) and short enough. */
int kefo__position_valid(const char *type, const char *value);

/* Returns 1 when |type| (a known position type) takes a value. */
int kefo__position_needs_value(const char *type);

#endif /* KEFO_POSITION_H */
