/*
 * json_scan — zero-allocation JSON reader with Jansson 2.14's verdicts.
 *
 * One pass over the caller's bytes, nothing copied or allocated: a token is
 * a span of the payload (strings stay escaped until asked for), numbers are
 * converted as they are lexed. Callers walk objects and arrays with
 * jscan_obj_* / jscan_arr_* and jscan_skip() what they do not want; skip is
 * iterative, its open containers in a 2-byte-per-level array.
 *
 * Same verdicts as before: decode fed Jansson ["<24 chars>", payload] with
 * JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, and Jansson reports the first
 * fault in the order it reads. So this reader sees the payload followed by
 * a virtual ']' and then the end (peek()), lexes exactly as far as Jansson's
 * lexer does (numbers and literals read one byte past their end, and that
 * byte is UTF-8-checked like every byte read: "1\xff" is bad_utf8), checks
 * depth after lexing a value's first token but before judging it (at depth
 * 2047 "tru" is too_deep, "\xff" bad_utf8), and keeps the first fault.
 * One deliberate difference: Jansson's unget loses a NUL byte right after a
 * number or literal, so it accepted {"v":1\0}; here that is bad_json.
 *
 * Numbers: integers exactly into int64 (beyond: overflow); reals by
 * Clinger's fast path (mantissa <= 2^53, |exp10| <= 22: one exact multiply
 * or divide, correctly rounded) or else strtod on a stack copy rewritten as
 * integer digits (768 significant plus a sticky one) and exponent, so no
 * decimal point and no locale. Beyond double is overflow; underflow gives
 * what strtod gives (0 or subnormal), as with Jansson.
 *
 * Duplicate keys: the caller names the keys it knows (a bit each); other
 * keys go to a fixed table (JSCAN_KEYS_MAX is every key 16 KiB can hold) of
 * a 16-bit SipHash of the decoded key and its offset, compared with the same
 * object's earlier keys 16 hashes at a time and dropped when it closes. The
 * hash is keyed from ASLR'd addresses, so no payload can make all its keys
 * collide; verdicts never depend on the key.
 *
 * Thread: any; the reader is the caller's, the payload borrowed.
 */
#include "json_scan.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_ARRAY 0xFFFFu
_Static_assert(JSCAN_KEYS_MAX < FRAME_ARRAY, "key offsets and frame marks must not meet");
_Static_assert(JSCAN_LEN_MAX <= 0xFFFF, "offsets are 16-bit");

/* Bytes a string passes over without a second look: 0x20..0x7F but '"', '\\'. */
static const uint8_t str_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
};

static int fail(struct jscan *s, enum jscan_err e, size_t pos)
{
	if (s->err == JSCAN_OK) {
		s->err = e;
		s->err_pos = pos > s->len ? s->len : pos;
	}
	return -1;
}

/* The byte at i as Jansson's stream has it: the payload, then decode's
 * closing ']', then the end (-1). */
static inline int peek(const struct jscan *s, size_t i)
{
	if (i < s->len)
		return s->buf[i];
	return i == s->len ? ']' : -1;
}

static inline int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the well-formed UTF-8 sequence at i (its first byte >= 0x80),
 * or 0: overlong, surrogate, above U+10FFFF, cut short. */
static size_t utf8_at(const struct jscan *s, size_t i)
{
	int c = peek(s, i);
	size_t n;
	uint32_t cp;

	if (c < 0xC2 || c > 0xF4)
		return 0;
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	cp = (uint32_t)c & (n == 2 ? 0x1Fu : n == 3 ? 0x0Fu : 0x07u);
	for (size_t k = 1; k < n; k++) {
		int b = peek(s, i + k);

		if (b < 0x80 || b > 0xBF)
			return 0;
		cp = cp << 6 | ((uint32_t)b & 0x3F);
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000))
		return 0;
	return n;
}

/* True when the byte at i, once read, is a UTF-8 fault. */
static inline int bad_utf8_at(const struct jscan *s, size_t i)
{
	return peek(s, i) >= 0x80 && !utf8_at(s, i);
}

static enum jscan_tok lex_error(struct jscan *s, enum jscan_err e, size_t pos)
{
	fail(s, e, pos);
	s->pos = s->len + 1;
	return s->tok = JSCAN_ERROR;
}

/* Lexing stopped at i, which was read, without a token. */
static enum jscan_tok lex_invalid(struct jscan *s, size_t i)
{
	if (bad_utf8_at(s, i))
		return lex_error(s, JSCAN_EUTF8, i);
	s->pos = i;
	return s->tok = JSCAN_INVALID;
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string from the '"' at q. Faults in reading order; surrogate escapes
 * are judged once the closing quote is read, as Jansson does. */
static enum jscan_tok lex_string(struct jscan *s, size_t q)
{
	const unsigned char *b = s->buf;
	size_t n = s->len, i = q + 1;
	int escaped = 0, nul = 0, bad_surrogate = 0, want_low = 0;

	for (;;) {
		int c;

		while (i < n && str_plain[b[i]])
			i++;
		c = peek(s, i);
		if (c == '"')
			break;
		if (c < 0) /* the end, after decode's ']' */
			return lex_error(s, JSCAN_ESYNTAX, i);
		if (c < 0x20)
			return lex_error(s, JSCAN_ESYNTAX, i);
		if (c >= 0x80) {
			size_t k = i < n ? utf8_at(s, i) : 0;

			if (!k)
				return lex_error(s, JSCAN_EUTF8, i);
			i += k;
			continue;
		}
		if (c != '\\') { /* decode's ']', read as a plain character */
			i++;
			continue;
		}
		escaped = 1;
		c = peek(s, i + 1);
		if (c == 'u') {
			unsigned v = 0;

			for (int k = 0; k < 4; k++) {
				int h = hex_value(peek(s, i + 2 + (size_t)k));

				if (h < 0)
					return lex_error(s,
					                 bad_utf8_at(s, i + 2 + (size_t)k)
					                     ? JSCAN_EUTF8
					                     : JSCAN_ESYNTAX,
					                 i + 2 + (size_t)k);
				v = v << 4 | (unsigned)h;
			}
			i += 6;
			if (want_low) {
				want_low = 0;
				if (v < 0xDC00 || v > 0xDFFF)
					bad_surrogate = 1;
			} else if (v >= 0xD800 && v <= 0xDBFF) {
				if (peek(s, i) == '\\' && peek(s, i + 1) == 'u')
					want_low = 1;
				else
					bad_surrogate = 1;
			} else if (v >= 0xDC00 && v <= 0xDFFF) {
				bad_surrogate = 1;
			} else if (v == 0) {
				nul = 1;
			}
			continue;
		}
		switch (c) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			i += 2;
			continue;
		default:
			return lex_error(s, bad_utf8_at(s, i + 1) ? JSCAN_EUTF8 : JSCAN_ESYNTAX,
			                 i + 1);
		}
	}
	if (bad_surrogate)
		return lex_error(s, JSCAN_ESYNTAX, q);
	s->str.off = (uint16_t)(q + 1);
	s->str.len = (uint16_t)(i - q - 1);
	s->str.escaped = (uint8_t)escaped;
	s->str.nul = (uint8_t)nul;
	s->pos = i + 1;
	return s->tok = JSCAN_STRING;
}

/* ---- numbers ---------------------------------------------------------------- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define SLOW_DIGITS 768 /* enough to round any double correctly, with a sticky digit */

/* strtod of the unsigned real p[0..n) (a checked JSON number), rewritten
 * as "DIGITSeEXP" so no decimal point (and no locale) is involved and at
 * most SLOW_DIGITS + 1 digits are copied. -1 when beyond double. */
static int slow_real(const unsigned char *p, size_t n, double *out)
{
	char buf[SLOW_DIGITS + 32];
	size_t k = 0, o = 0;
	long e = 0, ex = 0;
	int nd = 0, sticky = 0, frac = 0, exneg = 0;
	double d;

	for (; k < n; k++) {
		int c = p[k];

		if (c == '.') {
			frac = 1;
			continue;
		}
		if (c == 'e' || c == 'E')
			break;
		if (frac)
			e--;
		if (nd == 0 && c == '0')
			continue;
		if (nd < SLOW_DIGITS) {
			buf[o++] = (char)c;
			nd++;
		} else {
			e++;
			sticky |= c != '0';
		}
	}
	if (k < n) { /* the exponent */
		k++;
		if (p[k] == '+' || p[k] == '-')
			exneg = p[k++] == '-';
		for (; k < n; k++)
			if (ex < 100000000)
				ex = ex * 10 + (p[k] - '0');
	}
	if (nd == 0) {
		*out = 0.0;
		return 0;
	}
	if (sticky) {
		buf[o++] = '1';
		e--;
	}
	e += exneg ? -ex : ex;
	buf[o++] = 'e';
	if (e < 0) {
		buf[o++] = '-';
		e = -e;
	}
	{
		char digits[24];
		int m = 0;

		do {
			digits[m++] = (char)('0' + e % 10);
			e /= 10;
		} while (e);
		while (m)
			buf[o++] = digits[--m];
	}
	buf[o] = '\0';
	errno = 0;
	d = strtod(buf, NULL);
	if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
		return -1;
	*out = d;
	return 0;
}

static enum jscan_tok lex_number(struct jscan *s, size_t start)
{
	const unsigned char *b = s->buf;
	size_t n = s->len, i = start, nint = 0, nfrac = 0;
	uint64_t m = 0; /* the digits, exact while there are at most 19 */
	int neg = 0, c;
	long e10 = 0;
	double d;

	if (b[i] == '-') {
		neg = 1;
		i++;
	}
	c = peek(s, i);
	if (c == '0') {
		c = peek(s, ++i);
		if (is_digit(c))
			return lex_invalid(s, i);
	} else if (is_digit(c)) {
		size_t d0 = i;

		while (i < n && is_digit(b[i]))
			m = m * 10 + (uint64_t)(b[i++] - '0');
		nint = i - d0;
		c = peek(s, i);
	} else {
		return lex_invalid(s, i);
	}

	if (c != '.' && c != 'e' && c != 'E') {
		if (bad_utf8_at(s, i))
			return lex_error(s, JSCAN_EUTF8, i);
		if (nint > 19 || m > (uint64_t)INT64_MAX + (uint64_t)neg)
			return lex_error(s, JSCAN_EOVERFLOW, start);
		s->i = neg ? (m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m) : (int64_t)m;
		s->pos = i;
		return s->tok = JSCAN_INT;
	}
	if (c == '.') {
		size_t f0;

		if (!is_digit(peek(s, ++i)))
			return lex_invalid(s, i);
		f0 = i;
		while (i < n && is_digit(b[i]))
			m = m * 10 + (uint64_t)(b[i++] - '0');
		nfrac = i - f0;
		e10 = -(long)nfrac;
		c = peek(s, i);
	}
	if (c == 'e' || c == 'E') {
		long ex = 0;
		int exneg = 0;

		c = peek(s, ++i);
		if (c == '+' || c == '-') {
			exneg = c == '-';
			c = peek(s, ++i);
		}
		if (!is_digit(c))
			return lex_invalid(s, i);
		while (i < n && is_digit(b[i])) {
			if (ex < 100000000)
				ex = ex * 10 + (b[i] - '0');
			i++;
		}
		e10 += exneg ? -ex : ex;
	}
	if (bad_utf8_at(s, i))
		return lex_error(s, JSCAN_EUTF8, i);
#if FLT_EVAL_METHOD == 0
	if (nint + nfrac <= 19 && m == 0)
		d = 0.0;
	else if (nint + nfrac <= 19 && m <= (1ULL << 53) && e10 >= -22 && e10 <= 22)
		d = e10 < 0 ? (double)m / pow10_exact[-e10] : (double)m * pow10_exact[e10];
	else
#endif
	    if (slow_real(b + start + neg, i - start - (size_t)neg, &d) < 0)
		return lex_error(s, JSCAN_EOVERFLOW, start);
	s->d = neg ? -d : d;
	s->pos = i;
	return s->tok = JSCAN_REAL;
}

/* true, false, null; Jansson reads every letter of a word, then one byte */
static enum jscan_tok lex_word(struct jscan *s, size_t i)
{
	const unsigned char *b = s->buf;
	size_t j = i;

	while (j < s->len && is_alpha(b[j]))
		j++;
	if (bad_utf8_at(s, j))
		return lex_error(s, JSCAN_EUTF8, j);
	s->pos = j;
	if (j - i == 4 && memcmp(b + i, "true", 4) == 0)
		return s->tok = JSCAN_TRUE;
	if (j - i == 5 && memcmp(b + i, "false", 5) == 0)
		return s->tok = JSCAN_FALSE;
	if (j - i == 4 && memcmp(b + i, "null", 4) == 0)
		return s->tok = JSCAN_NULL;
	return s->tok = JSCAN_INVALID;
}

static inline size_t skip_ws(const struct jscan *s, size_t i)
{
	const unsigned char *b = s->buf;

	while (i < s->len && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
		i++;
	return i;
}

enum jscan_tok jscan_next(struct jscan *s)
{
	const unsigned char *b = s->buf;
	size_t i = skip_ws(s, s->pos), n = s->len;
	int c;

	s->tok_pos = i;
	if (i >= n) {
		s->pos = n + 1;
		return s->tok = i == n ? JSCAN_RBRACKET : JSCAN_EOF;
	}
	c = b[i];
	s->pos = i + 1;
	switch (c) {
	case '{':
		return s->tok = JSCAN_LBRACE;
	case '}':
		return s->tok = JSCAN_RBRACE;
	case '[':
		return s->tok = JSCAN_LBRACKET;
	case ']':
		return s->tok = JSCAN_RBRACKET;
	case ':':
		return s->tok = JSCAN_COLON;
	case ',':
		return s->tok = JSCAN_COMMA;
	case '"':
		return lex_string(s, i);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return lex_number(s, i);
	default:
		if (is_alpha(c))
			return lex_word(s, i);
		return lex_invalid(s, i);
	}
}

/* ---- strings, decoded ------------------------------------------------------------- */

/* Walks a checked string's decoded bytes. */
struct dec {
	const unsigned char *p;
	size_t i, end;
	unsigned char u[4];
	unsigned nu, iu;
};

static unsigned hex4(const unsigned char *p)
{
	return (unsigned)hex_value(p[0]) << 12 | (unsigned)hex_value(p[1]) << 8 |
	       (unsigned)hex_value(p[2]) << 4 | (unsigned)hex_value(p[3]);
}

static int dec_next(struct dec *d)
{
	unsigned cp;
	int c;

	if (d->iu < d->nu)
		return d->u[d->iu++];
	if (d->i >= d->end)
		return -1;
	c = d->p[d->i];
	if (c != '\\') {
		d->i++;
		return c;
	}
	c = d->p[d->i + 1];
	d->i += 2;
	switch (c) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'u':
		break;
	default: /* '"', '\\', '/' */
		return c;
	}
	cp = hex4(d->p + d->i);
	d->i += 4;
	if (cp >= 0xD800 && cp <= 0xDBFF) { /* checked: a low surrogate escape follows */
		cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(d->p + d->i + 2) - 0xDC00);
		d->i += 6;
	}
	d->iu = 1;
	if (cp < 0x80) {
		d->nu = 0;
		return (int)cp;
	}
	if (cp < 0x800) {
		d->u[0] = (unsigned char)(0xC0 | cp >> 6);
		d->u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		d->nu = 2;
	} else if (cp < 0x10000) {
		d->u[0] = (unsigned char)(0xE0 | cp >> 12);
		d->u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		d->u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		d->nu = 3;
	} else {
		d->u[0] = (unsigned char)(0xF0 | cp >> 18);
		d->u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		d->u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		d->u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		d->nu = 4;
	}
	return d->u[0];
}

static void dec_init(struct dec *d, const struct jscan *s, size_t off, size_t len)
{
	d->p = s->buf;
	d->i = off;
	d->end = off + len;
	d->nu = d->iu = 0;
}

long jscan_str_copy(const struct jscan *s, const struct jscan_str *str, char *dst, size_t cap)
{
	struct dec d;
	size_t o = 0;
	int c;

	if (!str->escaped) {
		if (str->len > cap)
			return -1;
		memcpy(dst, s->buf + str->off, str->len);
		return (long)str->len;
	}
	dec_init(&d, s, str->off, str->len);
	while ((c = dec_next(&d)) >= 0) {
		if (o == cap)
			return -1;
		dst[o++] = (char)c;
	}
	return (long)o;
}

const char *jscan_key_decoded(struct jscan *s, size_t *len)
{
	long n = jscan_str_copy(s, &s->str, s->key_buf, sizeof(s->key_buf));

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return s->key_buf;
}

/* ---- keys ---------------------------------------------------------------------- */

/* SipHash-1-3 of the decoded key, keyed per reader: nobody can build a
 * payload whose keys all collide without knowing the key. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t v0, v1, v2, v3, m;
	unsigned n; /* bytes fed */
};

static void sip_round(struct sip *h)
{
	h->v0 += h->v1;
	h->v1 = ROTL(h->v1, 13);
	h->v1 ^= h->v0;
	h->v0 = ROTL(h->v0, 32);
	h->v2 += h->v3;
	h->v3 = ROTL(h->v3, 16);
	h->v3 ^= h->v2;
	h->v0 += h->v3;
	h->v3 = ROTL(h->v3, 21);
	h->v3 ^= h->v0;
	h->v2 += h->v1;
	h->v1 = ROTL(h->v1, 17);
	h->v1 ^= h->v2;
	h->v2 = ROTL(h->v2, 32);
}

static void sip_init(struct sip *h, const uint64_t k[2])
{
	h->v0 = k[0] ^ 0x736f6d6570736575ULL;
	h->v1 = k[1] ^ 0x646f72616e646f6dULL;
	h->v2 = k[0] ^ 0x6c7967656e657261ULL;
	h->v3 = k[1] ^ 0x7465646279746573ULL;
	h->m = 0;
	h->n = 0;
}

static void sip_block(struct sip *h, uint64_t m)
{
	h->v3 ^= m;
	sip_round(h);
	h->v0 ^= m;
}

static inline void sip_byte(struct sip *h, unsigned c)
{
	h->m |= (uint64_t)c << (8 * (h->n & 7));
	if ((++h->n & 7) == 0) {
		sip_block(h, h->m);
		h->m = 0;
	}
}

static uint16_t sip_final(struct sip *h)
{
	uint64_t r;

	sip_block(h, h->m | (uint64_t)h->n << 56);
	h->v2 ^= 0xff;
	sip_round(h);
	sip_round(h);
	sip_round(h);
	r = h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
	return (uint16_t)(r ^ r >> 16 ^ r >> 32 ^ r >> 48);
}

static uint16_t key_hash(const struct jscan *s, const struct jscan_str *k)
{
	struct sip h;

	sip_init(&h, s->seed);
	if (!k->escaped) {
		const unsigned char *p = s->buf + k->off;
		size_t i = 0;

		for (; i + 8 <= k->len; i += 8) {
			uint64_t m = 0;

			for (int b = 0; b < 8; b++)
				m |= (uint64_t)p[i + (size_t)b] << (8 * b);
			sip_block(&h, m);
		}
		h.n = (unsigned)i;
		for (; i < k->len; i++)
			sip_byte(&h, p[i]);
	} else {
		struct dec d;
		int c;

		dec_init(&d, s, k->off, k->len);
		while ((c = dec_next(&d)) >= 0)
			sip_byte(&h, (unsigned)c);
	}
	return sip_final(&h);
}

/* The raw extent of a checked string starting at off (after its quote). */
static struct jscan_str str_at(const struct jscan *s, size_t off)
{
	struct jscan_str k = {(uint16_t)off, 0, 0, 0};
	size_t i = off;

	while (s->buf[i] != '"') {
		if (s->buf[i] == '\\') {
			k.escaped = 1;
			i++;
		}
		i++;
	}
	k.len = (uint16_t)(i - off);
	return k;
}

static int same_key(const struct jscan *s, size_t off, const struct jscan_str *b)
{
	struct jscan_str a = str_at(s, off);
	struct dec da, db;
	int c;

	if (!a.escaped && !b->escaped)
		return a.len == b->len && memcmp(s->buf + a.off, s->buf + b->off, a.len) == 0;
	dec_init(&da, s, a.off, a.len);
	dec_init(&db, s, b->off, b->len);
	do {
		c = dec_next(&da);
		if (c != dec_next(&db))
			return 0;
	} while (c >= 0);
	return 1;
}

/* The first j in [j, to) with kh[j] == h, or `to`. Sixteen hashes at a time,
 * four to a 64-bit word: a lane of w ^ h is zero where they are equal. */
static uint32_t next_hash(const uint16_t *kh, uint32_t j, uint32_t to, uint16_t h)
{
	const uint64_t ones = 0x0001000100010001ULL, highs = 0x8000800080008000ULL;
	const uint64_t hh = ones * h;

	while (j + 16 <= to) {
		uint64_t w[4], any = 0;

		memcpy(w, kh + j, sizeof(w));
		for (int k = 0; k < 4; k++) {
			uint64_t v = w[k] ^ hh;

			any |= (v - ones) & ~v & highs;
		}
		if (any)
			break;
		j += 16;
	}
	while (j < to && kh[j] != h)
		j++;
	return j;
}

/* The current key is one the caller does not know: it must differ from the
 * object's earlier unknown keys (from `base` on); it joins them. */
static int unknown_key(struct jscan *s, uint32_t base)
{
	uint16_t h = key_hash(s, &s->str);

	for (uint32_t j = next_hash(s->key_hash, base, s->nkeys, h); j < s->nkeys;
	     j = next_hash(s->key_hash, j + 1, s->nkeys, h))
		if (same_key(s, s->key_off[j], &s->str))
			return fail(s, JSCAN_EDUPKEY, s->tok_pos);
	if (s->nkeys == JSCAN_KEYS_MAX) /* cannot happen within JSCAN_LEN_MAX */
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	s->key_hash[s->nkeys] = h;
	s->key_off[s->nkeys] = s->str.off;
	s->nkeys++;
	return 0;
}

/* The current token as an object key. */
static int take_key(struct jscan *s)
{
	if (s->tok != JSCAN_STRING)
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	if (s->str.nul)
		return fail(s, JSCAN_ENULKEY, s->tok_pos);
	return 1;
}

/* ---- values ------------------------------------------------------------------------ */

int jscan_open(struct jscan *s, const void *buf, size_t len)
{
	if (len > JSCAN_LEN_MAX)
		return PW_EINVAL;
	s->buf = buf ? buf : (const unsigned char *)"";
	s->len = buf ? len : 0;
	s->pos = 0;
	s->err = JSCAN_OK;
	s->err_pos = 0;
	s->nkeys = 0;
	/* the hash key: addresses ASLR randomises (this reader's stack, this
	 * code, the payload), mixed; no global, no system call */
	s->seed[0] =
	    ((uint64_t)(uintptr_t)s * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)(uintptr_t)&jscan_open;
	s->seed[1] = ((uint64_t)(uintptr_t)s->buf * 0xC2B2AE3D27D4EB4FULL) ^
	             ROTL((uint64_t)(uintptr_t)s, 29);
	jscan_next(s);
	return PW_OK;
}

int jscan_close(struct jscan *s)
{
	int extra = 0;

	/* decode's array goes on: more values, its ']', then the end */
	jscan_next(s);
	while (s->tok == JSCAN_COMMA) {
		extra = 1;
		if (jscan_next(s) == JSCAN_EOF)
			return fail(s, JSCAN_ESYNTAX, s->tok_pos);
		if (jscan_skip(s, 2) < 0)
			return -1;
		jscan_next(s);
	}
	if (s->tok != JSCAN_RBRACKET)
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	if (jscan_next(s) != JSCAN_EOF)
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	if (extra)
		return fail(s, JSCAN_EEXTRA, 0);
	return 0;
}

int jscan_skip(struct jscan *s, unsigned depth)
{
	unsigned top = 0;

value: /* a value starts at the current token */
	if (s->tok == JSCAN_ERROR)
		return -1;
	if (depth > JSCAN_DEPTH_MAX)
		return fail(s, JSCAN_EDEPTH, s->tok_pos);
	switch (s->tok) {
	case JSCAN_STRING:
	case JSCAN_INT:
	case JSCAN_REAL:
	case JSCAN_TRUE:
	case JSCAN_FALSE:
	case JSCAN_NULL:
		goto ended;
	case JSCAN_LBRACKET:
		jscan_next(s);
		if (s->tok == JSCAN_RBRACKET)
			goto ended;
		if (s->tok == JSCAN_EOF)
			return fail(s, JSCAN_ESYNTAX, s->tok_pos);
		s->frame[top++] = FRAME_ARRAY;
		depth++;
		goto value;
	case JSCAN_LBRACE:
		jscan_next(s);
		if (s->tok == JSCAN_RBRACE)
			goto ended;
		s->frame[top++] = (uint16_t)s->nkeys;
		depth++;
		goto key;
	default:
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	}

ended: /* a value ended: go on in its container */
	if (top == 0)
		return 0;
	jscan_next(s);
	if (s->frame[top - 1] == FRAME_ARRAY) {
		if (s->tok == JSCAN_COMMA) {
			if (jscan_next(s) == JSCAN_EOF)
				return fail(s, JSCAN_ESYNTAX, s->tok_pos);
			goto value;
		}
		if (s->tok != JSCAN_RBRACKET)
			return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	} else {
		if (s->tok == JSCAN_COMMA) {
			jscan_next(s);
			goto key;
		}
		if (s->tok != JSCAN_RBRACE)
			return fail(s, JSCAN_ESYNTAX, s->tok_pos);
		s->nkeys = s->frame[top - 1];
	}
	top--;
	depth--;
	goto ended;

key: /* an object's key is current */
	if (take_key(s) < 0 || unknown_key(s, s->frame[top - 1]) < 0)
		return -1;
	if (jscan_next(s) != JSCAN_COLON)
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	jscan_next(s);
	goto value;
}

int jscan_obj_first(struct jscan *s, struct jscan_obj *o, unsigned depth)
{
	o->depth = depth;
	o->base = s->nkeys;
	o->seen = 0;
	if (depth > JSCAN_DEPTH_MAX)
		return fail(s, JSCAN_EDEPTH, s->tok_pos);
	if (jscan_next(s) == JSCAN_RBRACE)
		return 0;
	return take_key(s);
}

int jscan_member(struct jscan *s, struct jscan_obj *o, int bit)
{
	size_t i;

	if (bit >= 0) {
		uint32_t m = 1u << bit;

		if (o->seen & m)
			return fail(s, JSCAN_EDUPKEY, s->tok_pos);
		o->seen |= m;
	} else if (unknown_key(s, o->base) < 0) {
		return -1;
	}
	i = skip_ws(s, s->pos);
	if (i < s->len && s->buf[i] == ':') /* the usual case, without a dispatch */
		s->pos = i + 1;
	else if (jscan_next(s) != JSCAN_COLON)
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	jscan_next(s);
	return 0;
}

int jscan_obj_next(struct jscan *s, struct jscan_obj *o)
{
	size_t i = skip_ws(s, s->pos);

	/* the usual cases first: ',' and a key, or '}' */
	if (i < s->len && s->buf[i] == ',') {
		i = skip_ws(s, i + 1);
		if (i < s->len && s->buf[i] == '"') {
			s->tok_pos = i;
			lex_string(s, i);
			return take_key(s);
		}
	} else if (i < s->len && s->buf[i] == '}') {
		s->tok_pos = i;
		s->pos = i + 1;
		s->tok = JSCAN_RBRACE;
		s->nkeys = o->base;
		return 0;
	}
	jscan_next(s);
	if (s->tok == JSCAN_COMMA) {
		jscan_next(s);
		return take_key(s);
	}
	if (s->tok == JSCAN_RBRACE) {
		s->nkeys = o->base;
		return 0;
	}
	return fail(s, JSCAN_ESYNTAX, s->tok_pos);
}

int jscan_arr_first(struct jscan *s, unsigned depth)
{
	if (depth > JSCAN_DEPTH_MAX)
		return fail(s, JSCAN_EDEPTH, s->tok_pos);
	jscan_next(s);
	if (s->tok == JSCAN_RBRACKET)
		return 0;
	if (s->tok == JSCAN_EOF)
		return fail(s, JSCAN_ESYNTAX, s->tok_pos);
	return s->tok == JSCAN_ERROR ? -1 : 1;
}

int jscan_arr_next(struct jscan *s)
{
	jscan_next(s);
	if (s->tok == JSCAN_COMMA) {
		if (jscan_next(s) == JSCAN_EOF)
			return fail(s, JSCAN_ESYNTAX, s->tok_pos);
		return s->tok == JSCAN_ERROR ? -1 : 1;
	}
	if (s->tok == JSCAN_RBRACKET)
		return 0;
	return fail(s, JSCAN_ESYNTAX, s->tok_pos);
}
