/*
 * json_scan — a zero-allocation, single-pass JSON reader over one payload,
 * with the verdicts Jansson 2.14 gave the decoder before it (one deliberate
 * exception, in json_scan.c).
 *
 * Why: decode runs on every MQTT message; building a Jansson tree (a malloc
 * per node, a byte-by-byte lexer, locale-aware strtod) cost most of the
 * gateway's per-message budget. This reader pulls tokens straight from the
 * caller's bytes; the caller walks the values it knows and skips the rest,
 * and skipped values are validated as fully as read ones.
 *
 * The language is RFC 8259 plus the rules Jansson applied in decode (see
 * json_scan.c): UTF-8 checked wherever it is read, no lone surrogate escapes,
 * no \u0000 in keys, no duplicate keys (by decoded bytes), numbers within
 * int64 / double, nesting within JSCAN_DEPTH_MAX, one value then only
 * whitespace. Which fault is reported when there are several is the one
 * Jansson met first, reading the payload as decode fed it (the payload as
 * the second element of an array); json_scan.c says how.
 *
 * Thread: any; a struct jscan is one reader, used by one thread. It lives on
 * the caller's stack (about 21 KiB, mostly the duplicate-key table) and
 * borrows the payload, which must outlive it. Fields are private to
 * json_scan.c but for those marked "read".
 */
#ifndef PW_JSON_SCAN_H
#define PW_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "pw.h"

/* Nesting limit, counted as Jansson counts it: the payload's top value is at
 * depth 2 (decode wrapped it in an array), so a payload may nest 2046 levels
 * of arrays or objects, and a value at level 2047 is too deep. */
#define JSCAN_DEPTH_MAX 2048
/* Longest payload a reader takes (offsets are 16-bit). */
#define JSCAN_LEN_MAX PW_PAYLOAD_MAX
/* Keys alive at once: every key costs at least 4 bytes ("":0 or {"":{). */
#define JSCAN_KEYS_MAX (JSCAN_LEN_MAX / 4 + 2)

enum jscan_tok {
	JSCAN_EOF = 0,
	JSCAN_LBRACE,
	JSCAN_RBRACE,
	JSCAN_LBRACKET,
	JSCAN_RBRACKET,
	JSCAN_COLON,
	JSCAN_COMMA,
	JSCAN_STRING, /* .str */
	JSCAN_INT,    /* .i: an integer token within int64 */
	JSCAN_REAL,   /* .d: a token with a fraction or exponent, finite */
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL,
	JSCAN_INVALID, /* not a token (Jansson: TOKEN_INVALID without an error) */
	JSCAN_ERROR,   /* the lexer found a fault: .err is set */
};

/* The first fault met; later ones never replace it. */
enum jscan_err {
	JSCAN_OK = 0,
	JSCAN_ESYNTAX,   /* anything else: bad_json */
	JSCAN_EUTF8,     /* bad_utf8 */
	JSCAN_EDEPTH,    /* too_deep */
	JSCAN_EOVERFLOW, /* number_overflow: integer beyond int64, real beyond double */
	JSCAN_EDUPKEY,   /* bad_json: a key repeated in one object */
	JSCAN_ENULKEY,   /* bad_json: \u0000 in a key */
	JSCAN_EEXTRA,    /* bad_json: more than one value in the payload */
};

/* A string token: raw bytes between the quotes, all checked. */
struct jscan_str {
	uint16_t off;    /* offset in the payload */
	uint16_t len;    /* raw length */
	uint8_t escaped; /* has backslash escapes: decoded bytes differ from raw */
	uint8_t nul;     /* decodes to something holding U+0000 */
};

struct jscan {
	const unsigned char *buf;
	size_t len;
	size_t pos;           /* next byte; len is decode's closing ']', len + 1 end of input */
	enum jscan_tok tok;   /* read: the current token */
	size_t tok_pos;       /* read: where it starts */
	int64_t i;            /* read: JSCAN_INT value */
	double d;             /* read: JSCAN_REAL value */
	struct jscan_str str; /* read: JSCAN_STRING (also the current key) */
	enum jscan_err err;   /* read: first fault */
	size_t err_pos;       /* read: its byte offset in the payload */
	uint32_t nkeys;       /* unknown keys alive (see json_scan.c) */
	uint64_t seed[2];     /* the key of their hash */
	char key_buf[24];     /* a short escaped key, decoded */
	uint16_t key_hash[JSCAN_KEYS_MAX];
	uint16_t key_off[JSCAN_KEYS_MAX];
	uint16_t frame[JSCAN_DEPTH_MAX]; /* jscan_skip's open containers */
};

/* One object being read: its members' values are at depth + 1. */
struct jscan_obj {
	unsigned depth;
	uint32_t base; /* its first unknown key in the key table */
	uint32_t seen; /* known keys met, bits chosen by the caller */
};

/* Starts reading `len` bytes at `buf` (NULL: no bytes) and reads the first
 * token, the top value's, at depth 2. PW_EINVAL when len > JSCAN_LEN_MAX. */
int jscan_open(struct jscan *s, const void *buf, size_t len);

/* After the top value: checks that nothing but whitespace follows. 0, or -1
 * with s->err set. */
int jscan_close(struct jscan *s);

/* Reads the next token into s->tok (and its value). Returns s->tok. */
enum jscan_tok jscan_next(struct jscan *s);

/* Skips, fully checked, the value whose first token is current, at `depth`.
 * Leaves its last token current. 0, or -1 with s->err set. */
int jscan_skip(struct jscan *s, unsigned depth);

/* With '{' current at `depth`: reads the first member's key into s->str.
 * 1: a member (call jscan_member), 0: empty object, -1: fault. */
int jscan_obj_first(struct jscan *s, struct jscan_obj *o, unsigned depth);

/* The current key, decoded: borrowed, valid until the next token. NULL when
 * it is too long to be any key the caller could know (more than 24 bytes). */
const char *jscan_key_decoded(struct jscan *s, size_t *len);

static inline const char *jscan_key(struct jscan *s, size_t *len)
{
	if (s->str.escaped)
		return jscan_key_decoded(s, len);
	*len = s->str.len;
	return (const char *)s->buf + s->str.off;
}

/* Accepts the current key as the caller's known key number `bit` (0..31),
 * or, with bit < 0, as an unknown one; rejects a repeated key (by the
 * decoded bytes: known keys by `bit`, unknown ones against the object's
 * earlier unknown keys); reads ':' and the value's first token. The caller
 * reads the value (a scalar is its token) or jscan_skip()s it at
 * o->depth + 1. 0, or -1 with s->err set. */
int jscan_member(struct jscan *s, struct jscan_obj *o, int bit);

/* After a member's value: ',' and the next key (1), '}' (0), or a fault (-1). */
int jscan_obj_next(struct jscan *s, struct jscan_obj *o);

/* With '[' current at `depth`: 1 with the first element's token current
 * (its depth is depth + 1), 0 for an empty array, -1 on a fault. */
int jscan_arr_first(struct jscan *s, unsigned depth);

/* After an element: ',' and the next element's token (1), ']' (0), fault (-1). */
int jscan_arr_next(struct jscan *s);

/* Decodes string `str` into dst (cap bytes, no NUL added). The decoded length,
 * or -1 when it does not fit. */
long jscan_str_copy(const struct jscan *s, const struct jscan_str *str, char *dst, size_t cap);

#endif
