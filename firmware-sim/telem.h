/*
 * telem — renders the contract's payloads as JSON text: a telemetry object
 * (from the gateway's own struct pw_telemetry, decode.h, so what the sim
 * says and what the gateway reads are the same fields), a batch array, the
 * device status and a plate read. Pure and fast (no Jansson, no printf for
 * numbers): the load generator renders 100,000+ objects a second.
 *
 * Numbers are written with fixed decimals per field; values are clamped to
 * the contract's ranges first, so a model bug can never produce an invalid
 * message. Thread: any.
 */
#ifndef PWSIM_TELEM_H
#define PWSIM_TELEM_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* Appends to a bounded buffer; sets `overflow` instead of writing past cap. */
struct telem_buf {
	char *p;
	size_t len;
	size_t cap;
	int overflow;
};

void telem_buf_init(struct telem_buf *b, char *mem, size_t cap);
void telem_buf_puts(struct telem_buf *b, const char *s);
void telem_buf_putc(struct telem_buf *b, char c);
void telem_buf_int(struct telem_buf *b, int64_t v);
/* `v` rounded to `decimals` (0-6) places, without exponent. */
void telem_buf_fixed(struct telem_buf *b, double v, int decimals);

/* One telemetry object: v, vin, seq, ts, then every field flagged in t->has.
 * PW_ERANGE if it does not fit in cap (no NUL is promised either way). */
int telem_format(const struct pw_telemetry *t, char *buf, size_t cap, size_t *len_out);
/* A batch array of n objects. */
int telem_format_batch(const struct pw_telemetry *t, int n, char *buf, size_t cap, size_t *len_out);
/* As many of t[0..n) as fit in cap (at least one must), as an array:
 * *used says how many. A device splits its offline buffer this way so no
 * message exceeds the contract's 16 KiB (a full object is ~450 bytes). */
int telem_format_batch_fit(const struct pw_telemetry *t, int n, char *buf, size_t cap,
                           size_t *len_out, int *used);
/* {"v":1,"online":true|false,"ts":ms} */
int telem_format_status(int online, int64_t ts_ms, char *buf, size_t cap, size_t *len_out);
/* {"v":1,"ts":ms,"plate":"...","camera":"...","confidence":0.97}; plate and
 * camera must be plain (no quote or backslash), which the sim guarantees. */
int telem_format_plate(int64_t ts_ms, const char *plate, const char *camera, double confidence,
                       char *buf, size_t cap, size_t *len_out);

const char *telem_ignition_name(int ignition);
const char *telem_dtc_status_name(int status);

#endif
