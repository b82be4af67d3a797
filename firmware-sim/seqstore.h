/*
 * seqstore — the device's non-volatile sequence counter, for a whole fleet:
 * a text file of "vin,next_seq" lines, so `seq` keeps increasing across
 * simulator restarts (--state FILE). Written atomically (temp file +
 * rename). Main thread only.
 */
#ifndef PWSIM_SEQSTORE_H
#define PWSIM_SEQSTORE_H

#include <stdint.h>

struct seqstore_entry {
	char vin[18];
	int64_t next_seq;
};

/* Reads `path` into a new array (*out, caller frees) of *n entries. A missing
 * file is an empty store (PW_OK, n = 0). PW_EINVAL names the bad line. */
int seqstore_load(const char *path, struct seqstore_entry **out, int *n);
/* Looks `vin` up in a loaded array; -1 when absent. */
int64_t seqstore_find(const struct seqstore_entry *e, int n, const char *vin);
/* Writes n entries atomically. */
int seqstore_save(const char *path, const struct seqstore_entry *e, int n);

#endif
