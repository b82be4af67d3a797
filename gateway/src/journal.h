/*
 * journal — the core's commit log: every MQTT message whose effects were
 * applied is appended here before it is acknowledged (one write per record,
 * or, deferred, one write for the records held when a batch of PUBACKs is
 * about to go out), and the SQLite writes of many messages are committed
 * together afterwards.
 *
 * Why: a SQLite commit costs ~20 µs here (WAL locks and a page write per
 * transaction); one append costs ~2 µs. A message is durable against a
 * killed process as soon as its record is written (the page cache keeps
 * it, exactly like SQLite's WAL with synchronous=NORMAL); the group commit
 * then moves many messages into SQLite at once and empties the journal.
 * At start, records still in the journal are replayed through ingest before
 * MQTT connects; dedupe by (vin, seq) makes a replay of anything already in
 * SQLite a no-op.
 *
 * Record: "PWJ1" magic, u32 topic length, u32 payload length, topic,
 * payload, u32 checksum of the three (chained). A torn or corrupt tail (a crash in
 * mid-write) ends the replay and is cut off. Thread: the core thread, or
 * whoever holds the core lock (mqtt.c writes deferred records under it).
 */
#ifndef PW_JOURNAL_H
#define PW_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct journal;

/* Opens (creating) the journal file at `path`. NULL on failure (logged). */
struct journal *journal_open(const char *path);
void journal_close(struct journal *j);

/* Appends one message record with a single write — or, deferred, holds it
 * in memory. PW_EIO on failure. */
int journal_append(struct journal *j, const char *topic, size_t topic_len, const void *payload,
                   size_t payload_len);

/* Deferred mode (off by default): appends are held in memory and written
 * by journal_write_deferred, all at once; journal_reset drops them (their
 * messages are in SQLite then). Only for a caller that acknowledges
 * nothing before journal_write_deferred has returned PW_OK — mqtt.c, whose
 * PUBACKs wait for it (pahoio.h) — so a message is durable (written, or
 * committed to SQLite) before the broker forgets it, with one write per
 * batch of PUBACKs instead of one per message. Turning it off writes what
 * is held. */
void journal_set_deferred(struct journal *j, int on);

/* Writes the held records with one write. PW_OK when nothing is held;
 * PW_EIO on failure (then nothing held may be acknowledged). */
int journal_write_deferred(struct journal *j);

/* Calls fn for each intact record from the start, in order; stops at the
 * first torn or corrupt record (cutting the file there) or when fn returns
 * non-zero. *count = records replayed. */
int journal_replay(struct journal *j,
                   int (*fn)(void *ctx, const char *topic, size_t topic_len, const void *payload,
                             size_t payload_len),
                   void *ctx, long *count);

/* Empties the journal (after its records are committed to SQLite). */
int journal_reset(struct journal *j);

/* Records appended since the last reset. */
long journal_records(const struct journal *j);

/* The record checksum, chained: checksum(checksum(0, a), b); for tests. */
uint32_t journal_checksum(uint32_t seed, const void *data, size_t len);

#endif
