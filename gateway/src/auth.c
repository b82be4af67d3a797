/*
 * auth — console users and roles, sessions, welcome-display tokens, the
 * audit log, and the `pitwall user` / `pitwall display` commands (see
 * auth.h for the API, docs/api.md "Sessions and roles" for the behaviour).
 *
 * Password hashes: PBKDF2-HMAC-SHA256 (OpenSSL), 16-byte salt, encoded
 * "pbkdf2-sha256$ITER$SALT_B64$HASH_B64" with standard padded base64. A
 * verify reads ITER from the encoding (1000..10,000,000), so the default
 * can be raised without invalidating stored hashes. Tokens are 32 bytes
 * from RAND_bytes in lower-case hex; the tables hold the SHA-256 (hex) of
 * that hex text, so a token given in upper case is the same token.
 * Each SQL function prepares its statements per call: these are rare
 * operations, and the caller's connection may be any thread's. Every SQL
 * failure is logged here and returned as PW_EIO.
 * Thread: the hashing, the cookie parser and the role names are pure and
 * thread-safe; the SQL functions run on the thread that owns `db`.
 */
#include "auth.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "clock.h"
#include "config.h"
#include "csv.h"
#include "log.h"
#include "pw.h"
#include "store.h"

#define EXIT_USAGE   2
#define EXIT_RUNTIME 1

#define HASH_PREFIX "pbkdf2-sha256$"
#define SALT_LEN    16
#define SALT_MIN    8 /* a stored hash's salt may be 8..64 bytes */
#define SALT_MAX    64
#define DK_LEN      32 /* derived key: one SHA-256 block */
#define ITER_MIN    1000
#define ITER_MAX    10000000
#define B64_MAX     88 /* base64 of SALT_MAX bytes */
#define TOKEN_BYTES 32

/* ---- roles ----------------------------------------------------------------------------- */

static const struct {
	enum auth_role role;
	const char *name;
} roles[] = {
    {AUTH_ADVISOR, "advisor"},
    {AUTH_CUSTOMER_CARE, "customer-care"},
    {AUTH_MANAGER, "manager"},
};

int auth_role_parse(const char *name, enum auth_role *out)
{
	for (size_t i = 0; name && i < PW_ARRAY_LEN(roles); i++) {
		if (strcmp(name, roles[i].name) == 0) {
			*out = roles[i].role;
			return PW_OK;
		}
	}
	return PW_EINVAL;
}

const char *auth_role_name(enum auth_role role)
{
	for (size_t i = 0; i < PW_ARRAY_LEN(roles); i++)
		if (roles[i].role == role)
			return roles[i].name;
	return "?";
}

/* ---- encodings (pure) ------------------------------------------------------------------ */

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1 if s[0..len) is a token: exactly AUTH_TOKEN_HEX hex digits. */
static int token_ok(const char *s, size_t len)
{
	if (len != AUTH_TOKEN_HEX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_hex(s[i]))
			return 0;
	return 1;
}

/* s[0..len) as a lower-case, NUL-terminated token; the caller checked it. */
static void token_copy(const char *s, char token[AUTH_TOKEN_HEX + 1])
{
	for (size_t i = 0; i < AUTH_TOKEN_HEX; i++)
		token[i] = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] - 'A' + 'a') : s[i];
	token[AUTH_TOKEN_HEX] = '\0';
}

static int b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Decodes s[0..len): canonical padded base64 (RFC 4648 alphabet, no
 * whitespace, unused bits zero) into out (B64_MAX / 4 * 3 bytes); *n =
 * bytes. -1 if it is anything else. */
static int b64_decode(const char *s, size_t len, unsigned char *out, size_t *n)
{
	unsigned char check[B64_MAX + 1];
	size_t pad = 0;
	int got;

	if (len == 0 || len % 4 || len > B64_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (b64_char(s[i]) && !pad)
			continue;
		if (s[i] == '=' && i + 2 >= len) {
			pad++;
			continue;
		}
		return -1;
	}
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (got < 0 || (size_t)got != len / 4 * 3)
		return -1;
	*n = (size_t)got - pad;
	/* the same bytes must encode to the same text: no stray low bits */
	if (EVP_EncodeBlock(check, out, (int)*n) != (int)len || memcmp(check, s, len) != 0)
		return -1;
	return 0;
}

/* ---- passwords (pure) ------------------------------------------------------------------ */

static int derive(const char *password, size_t password_len, const unsigned char *salt,
                  size_t salt_len, long iter, unsigned char dk[DK_LEN])
{
	if (PKCS5_PBKDF2_HMAC(password, (int)password_len, salt, (int)salt_len, (int)iter,
	                      EVP_sha256(), DK_LEN, dk) != 1) {
		log_error("auth", "PKCS5_PBKDF2_HMAC failed");
		return PW_EIO;
	}
	return PW_OK;
}

int auth_password_hash_iter(const char *password, long iter, char *out, size_t out_len)
{
	unsigned char salt[SALT_LEN], dk[DK_LEN];
	unsigned char salt_b64[B64_MAX + 1], dk_b64[B64_MAX + 1];
	size_t len;
	int n, rc;

	if (!password || !out || out_len == 0)
		return PW_EINVAL;
	out[0] = '\0';
	len = strlen(password);
	if (len > AUTH_PASSWORD_MAX)
		return PW_EINVAL;
	if (iter < ITER_MIN || iter > ITER_MAX)
		return PW_ERANGE;
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		log_error("auth", "RAND_bytes failed: no salt for a password hash");
		return PW_EIO;
	}
	rc = derive(password, len, salt, sizeof(salt), iter, dk);
	if (rc != PW_OK)
		goto out;
	EVP_EncodeBlock(salt_b64, salt, sizeof(salt));
	EVP_EncodeBlock(dk_b64, dk, sizeof(dk));
	n = snprintf(out, out_len, HASH_PREFIX "%ld$%s$%s", iter, (const char *)salt_b64,
	             (const char *)dk_b64);
	if (n < 0 || (size_t)n >= out_len) {
		out[0] = '\0';
		rc = PW_ERANGE;
	}
out:
	OPENSSL_cleanse(dk, sizeof(dk));
	OPENSSL_cleanse(dk_b64, sizeof(dk_b64));
	return rc;
}

int auth_password_hash(const char *password, char *out, size_t out_len)
{
	return auth_password_hash_iter(password, AUTH_PBKDF2_ITER, out, out_len);
}

/* Splits and decodes an encoded hash; NULL if well-formed, else why not. */
static const char *parse_hash(const char *enc, long *iter, unsigned char *salt, size_t *salt_len,
                              unsigned char *dk)
{
	unsigned char buf[B64_MAX / 4 * 3];
	const char *p, *dollar;
	size_t n;
	long v = 0;

	if (strncmp(enc, HASH_PREFIX, strlen(HASH_PREFIX)) != 0)
		return "not pbkdf2-sha256";
	p = enc + strlen(HASH_PREFIX);
	dollar = strchr(p, '$');
	if (!dollar || dollar == p || dollar - p > 8 || *p == '0')
		return "bad iteration count";
	for (; p < dollar; p++) {
		if (*p < '0' || *p > '9')
			return "bad iteration count";
		v = v * 10 + (*p - '0');
	}
	if (v < ITER_MIN || v > ITER_MAX)
		return "iteration count out of range";
	*iter = v;
	p = dollar + 1;
	dollar = strchr(p, '$');
	if (!dollar || b64_decode(p, (size_t)(dollar - p), buf, &n) != 0)
		return "bad salt";
	if (n < SALT_MIN || n > SALT_MAX)
		return "bad salt length";
	memcpy(salt, buf, n);
	*salt_len = n;
	p = dollar + 1;
	if (b64_decode(p, strlen(p), buf, &n) != 0 || n != DK_LEN)
		return "bad hash";
	memcpy(dk, buf, DK_LEN);
	return NULL;
}

int auth_password_verify(const char *encoded, const char *password)
{
	/* a stand-in for an unknown user or a broken hash: the same work */
	static const unsigned char dummy_salt[SALT_LEN] = {0};
	unsigned char salt[SALT_MAX], want[DK_LEN], got[DK_LEN];
	size_t salt_len = SALT_LEN, len = password ? strlen(password) : 0;
	long iter = AUTH_PBKDF2_ITER;
	const char *why = encoded ? parse_hash(encoded, &iter, salt, &salt_len, want) : "none";
	int ok;

	if (why) {
		if (encoded)
			log_warn("auth", "a stored password hash is malformed (%s): login refused",
			         why);
		iter = AUTH_PBKDF2_ITER;
		salt_len = SALT_LEN;
		memcpy(salt, dummy_salt, SALT_LEN);
		memset(want, 0, sizeof(want));
	}
	if (len > AUTH_PASSWORD_MAX)
		len = AUTH_PASSWORD_MAX; /* refused below; still the same work */
	ok = derive(password ? password : "", len, salt, salt_len, iter, got) == PW_OK &&
	     CRYPTO_memcmp(got, want, DK_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	if (!password || strlen(password) > AUTH_PASSWORD_MAX || why)
		return PW_EPERM;
	return ok ? PW_OK : PW_EPERM;
}

/* ---- tokens (pure) --------------------------------------------------------------------- */

/* The stored form of a token: SHA-256 of its lower-case hex, in hex.
 * PW_EINVAL if `token` is not AUTH_TOKEN_HEX hex digits. */
static int token_sha256(const char *token, char out[AUTH_TOKEN_HEX + 1])
{
	char lower[AUTH_TOKEN_HEX + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!token || !token_ok(token, strlen(token)))
		return PW_EINVAL;
	token_copy(token, lower);
	if (EVP_Digest(lower, AUTH_TOKEN_HEX, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len != AUTH_TOKEN_HEX / 2) {
		log_error("auth", "EVP_Digest(SHA-256) failed");
		return PW_EIO;
	}
	hex_encode(md, md_len, out);
	return PW_OK;
}

/* A new random token and its stored form. */
static int token_new(char token[AUTH_TOKEN_HEX + 1], char sha[AUTH_TOKEN_HEX + 1])
{
	unsigned char raw[TOKEN_BYTES];

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		log_error("auth", "RAND_bytes failed: no token");
		return PW_EIO;
	}
	hex_encode(raw, sizeof(raw), token);
	OPENSSL_cleanse(raw, sizeof(raw));
	return token_sha256(token, sha);
}

static int cookie_space(char c)
{
	return c == ' ' || c == '\t';
}

int auth_cookie_token(const char *cookie_header, char token[AUTH_TOKEN_HEX + 1])
{
	const size_t name_len = strlen(AUTH_COOKIE);
	const char *p = cookie_header;
	int found = 0;

	if (!p)
		return PW_ENOTFOUND;
	while (*p) {
		const char *end = strchr(p, ';'), *eq, *v, *ve;

		if (!end)
			end = p + strlen(p);
		while (p < end && cookie_space(*p))
			p++;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq) {
			const char *ne = eq;

			while (ne > p && cookie_space(ne[-1]))
				ne--;
			v = eq + 1;
			ve = end;
			while (v < ve && cookie_space(*v))
				v++;
			while (ve > v && cookie_space(ve[-1]))
				ve--;
			if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
				v++;
				ve--;
			}
			if ((size_t)(ne - p) == name_len && memcmp(p, AUTH_COOKIE, name_len) == 0) {
				char t[AUTH_TOKEN_HEX + 1];

				/* every pw_session must be a token, and the same one:
				 * a second, different one is ambiguous (cookie tossing) */
				if (!token_ok(v, (size_t)(ve - v)))
					return PW_ENOTFOUND;
				token_copy(v, t);
				if (found && strcmp(t, token) != 0)
					return PW_ENOTFOUND;
				memcpy(token, t, sizeof(t));
				found = 1;
			}
		}
		p = *end ? end + 1 : end;
	}
	return found ? PW_OK : PW_ENOTFOUND;
}

/* ---- SQL helpers ----------------------------------------------------------------------- */

static int db_fail(sqlite3 *db, const char *what)
{
	log_error("auth", "%s: %s", what, sqlite3_errmsg(db));
	return PW_EIO;
}

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **s, const char *what)
{
	*s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
		return db_fail(db, what);
	return PW_OK;
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Runs a statement without results; PW_OK on SQLITE_DONE. */
static int step_done(sqlite3 *db, sqlite3_stmt *s, const char *what)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_fail(db, what);
	return PW_OK;
}

static int exec(sqlite3 *db, const char *sql, const char *what)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, what);
	return PW_OK;
}

/* Savepoints make a function's several statements one change, inside the
 * caller's transaction or not. */
static int savepoint_end(sqlite3 *db, int rc)
{
	if (rc != PW_OK)
		exec(db, "ROLLBACK TO auth", "rolling back");
	if (exec(db, "RELEASE auth", "releasing a savepoint") != PW_OK && rc == PW_OK)
		rc = PW_EIO;
	return rc;
}

/* Deletes every session of `user_id` (a new password, a disabled user). */
static int sessions_end(sqlite3 *db, const char *user_id)
{
	sqlite3_stmt *s = NULL;
	int rc =
	    prep(db, "DELETE FROM session WHERE user_id = ?", &s, "preparing a session delete");

	if (rc == PW_OK) {
		if (bind_text(s, 1, user_id) != SQLITE_OK)
			rc = db_fail(db, "binding a user");
		else
			rc = step_done(db, s, "ending a user's sessions");
	}
	sqlite3_finalize(s);
	return rc;
}

static void copy_column(sqlite3_stmt *s, int col, char *out, size_t len)
{
	const unsigned char *v = sqlite3_column_text(s, col);

	snprintf(out, len, "%s", v ? (const char *)v : "");
}

/* Columns col.. : user_id, name, role, advisor_id into out. */
static int read_user(sqlite3_stmt *s, int col, struct auth_user *out)
{
	char role[32];

	memset(out, 0, sizeof(*out));
	copy_column(s, col, out->user_id, sizeof(out->user_id));
	copy_column(s, col + 1, out->name, sizeof(out->name));
	copy_column(s, col + 2, role, sizeof(role));
	copy_column(s, col + 3, out->advisor_id, sizeof(out->advisor_id));
	if (auth_role_parse(role, &out->role) != PW_OK) {
		log_error("auth", "user %s has an unknown role '%s'", out->user_id, role);
		return PW_EIO;
	}
	return PW_OK;
}

/* 1..max bytes of valid UTF-8 without control characters, not all blank. */
static int text_ok(const char *s, size_t max)
{
	size_t len = s ? strlen(s) : 0;
	int blank = 1;

	if (len == 0 || len > max || csv_utf8_valid_prefix(s, len) != len)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
			return 0;
		if (*p != ' ')
			blank = 0;
	}
	return !blank;
}

int auth_user_id_ok(const char *user_id)
{
	size_t len = user_id ? strlen(user_id) : 0;

	if (len == 0 || len > AUTH_USER_MAX)
		return 0;
	for (const char *p = user_id; *p; p++) {
		char c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* ---- users ----------------------------------------------------------------------------- */

int auth_user_add(sqlite3 *db, const char *user_id, const char *name, enum auth_role role,
                  const char *advisor_id, const char *password, int64_t now_ms)
{
	static const char upsert[] =
	    "INSERT INTO user (user_id, name, role, advisor_id, password_hash, created_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user_id) DO UPDATE SET "
	    "name = excluded.name, role = excluded.role, advisor_id = excluded.advisor_id, "
	    "password_hash = excluded.password_hash, disabled = 0";
	char hash[AUTH_HASH_MAX];
	sqlite3_stmt *s = NULL;
	int rc;

	if (advisor_id && !advisor_id[0])
		advisor_id = NULL;
	if (!auth_user_id_ok(user_id) || !text_ok(name, AUTH_NAME_MAX) ||
	    !strcmp(auth_role_name(role), "?") ||
	    (advisor_id && strlen(advisor_id) > AUTH_ADVISOR_MAX))
		return PW_EINVAL;
	rc = auth_password_hash(password, hash, sizeof(hash)); /* slow: before any lock */
	if (rc != PW_OK)
		return rc;
	if (exec(db, "SAVEPOINT auth", "starting a savepoint") != PW_OK)
		return PW_EIO;
	if (advisor_id) {
		rc = prep(db, "SELECT 1 FROM advisor WHERE advisor_id = ?", &s,
		          "looking up an advisor");
		if (rc != PW_OK)
			goto out;
		if (bind_text(s, 1, advisor_id) != SQLITE_OK) {
			rc = db_fail(db, "binding an advisor");
			goto out;
		}
		switch (sqlite3_step(s)) {
		case SQLITE_ROW:
			break;
		case SQLITE_DONE:
			rc = PW_ENOTFOUND;
			goto out;
		default:
			rc = db_fail(db, "looking up an advisor");
			goto out;
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	rc = prep(db, upsert, &s, "preparing a user upsert");
	if (rc != PW_OK)
		goto out;
	if (bind_text(s, 1, user_id) != SQLITE_OK || bind_text(s, 2, name) != SQLITE_OK ||
	    bind_text(s, 3, auth_role_name(role)) != SQLITE_OK ||
	    bind_text(s, 4, advisor_id) != SQLITE_OK || bind_text(s, 5, hash) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 6, now_ms) != SQLITE_OK) {
		rc = db_fail(db, "binding a user");
		goto out;
	}
	rc = step_done(db, s, "storing a user");
	if (rc == PW_OK) /* a new password ends the sessions opened with the old one */
		rc = sessions_end(db, user_id);
out:
	sqlite3_finalize(s);
	OPENSSL_cleanse(hash, sizeof(hash));
	return savepoint_end(db, rc);
}

int auth_user_disable(sqlite3 *db, const char *user_id)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (!user_id)
		return PW_ENOTFOUND;
	if (exec(db, "SAVEPOINT auth", "starting a savepoint") != PW_OK)
		return PW_EIO;
	rc = prep(db, "UPDATE user SET disabled = 1 WHERE user_id = ?", &s,
	          "preparing a user update");
	if (rc != PW_OK)
		goto out;
	if (bind_text(s, 1, user_id) != SQLITE_OK) {
		rc = db_fail(db, "binding a user");
		goto out;
	}
	rc = step_done(db, s, "disabling a user");
	if (rc != PW_OK)
		goto out;
	if (sqlite3_changes(db) == 0) {
		rc = PW_ENOTFOUND;
		goto out;
	}
	rc = sessions_end(db, user_id);
out:
	sqlite3_finalize(s);
	return savepoint_end(db, rc);
}

int auth_user_get(sqlite3 *db, const char *user_id, struct auth_user *out, char *hash,
                  size_t hash_len)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (!user_id || strlen(user_id) > AUTH_USER_MAX)
		return PW_ENOTFOUND;
	rc = prep(db,
	          "SELECT user_id, name, role, advisor_id, password_hash FROM user "
	          "WHERE user_id = ? AND disabled = 0",
	          &s, "preparing a user lookup");
	if (rc != PW_OK)
		return rc;
	if (bind_text(s, 1, user_id) != SQLITE_OK) {
		rc = db_fail(db, "binding a user");
		goto out;
	}
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = read_user(s, 0, out);
		if (rc == PW_OK && hash) {
			const unsigned char *h = sqlite3_column_text(s, 4);

			if (!h || (size_t)sqlite3_column_bytes(s, 4) >= hash_len) {
				log_error("auth", "user %s: password hash does not fit %zu bytes",
				          user_id, hash_len);
				rc = PW_ERANGE;
			} else {
				snprintf(hash, hash_len, "%s", (const char *)h);
			}
		}
		break;
	case SQLITE_DONE:
		rc = PW_ENOTFOUND;
		break;
	default:
		rc = db_fail(db, "looking up a user");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* ---- sessions -------------------------------------------------------------------------- */

int auth_session_create(sqlite3 *db, const char *user_id, int64_t now_ms, int ttl_s,
                        char token[AUTH_TOKEN_HEX + 1])
{
	char t[AUTH_TOKEN_HEX + 1], sha[AUTH_TOKEN_HEX + 1];
	sqlite3_stmt *s = NULL;
	int rc;

	token[0] = '\0';
	if (!user_id || ttl_s <= 0)
		return PW_EINVAL;
	rc = token_new(t, sha);
	if (rc != PW_OK)
		return rc;
	rc = prep(db,
	          "INSERT INTO session (token_sha256, user_id, created_ms, expires_ms) "
	          "SELECT ?1, user_id, ?2, ?3 FROM user WHERE user_id = ?4 AND disabled = 0",
	          &s, "preparing a session insert");
	if (rc != PW_OK)
		goto out;
	if (bind_text(s, 1, sha) != SQLITE_OK || sqlite3_bind_int64(s, 2, now_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, now_ms + (int64_t)ttl_s * 1000) != SQLITE_OK ||
	    bind_text(s, 4, user_id) != SQLITE_OK) {
		rc = db_fail(db, "binding a session");
		goto out;
	}
	rc = step_done(db, s, "storing a session");
	if (rc == PW_OK && sqlite3_changes(db) == 0)
		rc = PW_ENOTFOUND;
	if (rc == PW_OK)
		memcpy(token, t, sizeof(t));
out:
	sqlite3_finalize(s);
	OPENSSL_cleanse(t, sizeof(t));
	return rc;
}

int auth_session_lookup(sqlite3 *db, const char *token, int64_t now_ms, struct auth_user *out)
{
	char sha[AUTH_TOKEN_HEX + 1];
	sqlite3_stmt *s = NULL;
	int rc = token_sha256(token, sha);

	if (rc != PW_OK)
		return rc == PW_EINVAL ? PW_ENOTFOUND : rc;
	rc = prep(db,
	          "SELECT u.user_id, u.name, u.role, u.advisor_id FROM session s "
	          "JOIN user u ON u.user_id = s.user_id "
	          "WHERE s.token_sha256 = ? AND s.expires_ms > ? AND u.disabled = 0",
	          &s, "preparing a session lookup");
	if (rc != PW_OK)
		return rc;
	if (bind_text(s, 1, sha) != SQLITE_OK || sqlite3_bind_int64(s, 2, now_ms) != SQLITE_OK) {
		rc = db_fail(db, "binding a session");
		goto out;
	}
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = read_user(s, 0, out);
		break;
	case SQLITE_DONE:
		rc = PW_ENOTFOUND;
		break;
	default:
		rc = db_fail(db, "looking up a session");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

int auth_session_delete(sqlite3 *db, const char *token)
{
	char sha[AUTH_TOKEN_HEX + 1];
	sqlite3_stmt *s = NULL;
	int rc = token_sha256(token, sha);

	if (rc != PW_OK)
		return rc;
	rc = prep(db, "DELETE FROM session WHERE token_sha256 = ?", &s,
	          "preparing a session delete");
	if (rc != PW_OK)
		return rc;
	if (bind_text(s, 1, sha) != SQLITE_OK)
		rc = db_fail(db, "binding a session");
	else
		rc = step_done(db, s, "deleting a session");
	sqlite3_finalize(s);
	return rc;
}

int auth_session_purge(sqlite3 *db, int64_t now_ms, long *n)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (n)
		*n = 0;
	rc = prep(db, "DELETE FROM session WHERE expires_ms <= ?", &s, "preparing a session purge");
	if (rc != PW_OK)
		return rc;
	if (sqlite3_bind_int64(s, 1, now_ms) != SQLITE_OK)
		rc = db_fail(db, "binding a session purge");
	else
		rc = step_done(db, s, "purging sessions");
	if (rc == PW_OK && n)
		*n = (long)sqlite3_changes(db);
	sqlite3_finalize(s);
	return rc;
}

/* ---- displays and audit ---------------------------------------------------------------- */

int auth_display_add(sqlite3 *db, const char *name, int64_t now_ms, char token[AUTH_TOKEN_HEX + 1])
{
	char t[AUTH_TOKEN_HEX + 1], sha[AUTH_TOKEN_HEX + 1];
	sqlite3_stmt *s = NULL;
	int rc;

	token[0] = '\0';
	if (!text_ok(name, AUTH_DISPLAY_MAX))
		return PW_EINVAL;
	rc = token_new(t, sha);
	if (rc != PW_OK)
		return rc;
	rc = prep(db,
	          "INSERT INTO display (name, token_sha256, created_ms) VALUES (?1, ?2, ?3) "
	          "ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, "
	          "created_ms = excluded.created_ms",
	          &s, "preparing a display upsert");
	if (rc != PW_OK)
		goto out;
	if (bind_text(s, 1, name) != SQLITE_OK || bind_text(s, 2, sha) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, now_ms) != SQLITE_OK) {
		rc = db_fail(db, "binding a display");
		goto out;
	}
	rc = step_done(db, s, "storing a display token");
	if (rc == PW_OK)
		memcpy(token, t, sizeof(t));
out:
	sqlite3_finalize(s);
	OPENSSL_cleanse(t, sizeof(t));
	return rc;
}

int auth_display_lookup(sqlite3 *db, const char *token, char *name, size_t name_len)
{
	char sha[AUTH_TOKEN_HEX + 1];
	sqlite3_stmt *s = NULL;
	int rc = token_sha256(token, sha);

	if (rc != PW_OK)
		return rc == PW_EINVAL ? PW_ENOTFOUND : rc;
	rc = prep(db, "SELECT name FROM display WHERE token_sha256 = ?", &s,
	          "preparing a display lookup");
	if (rc != PW_OK)
		return rc;
	if (bind_text(s, 1, sha) != SQLITE_OK) {
		rc = db_fail(db, "binding a display");
		goto out;
	}
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		if ((size_t)sqlite3_column_bytes(s, 0) >= name_len) {
			rc = PW_ERANGE;
		} else {
			copy_column(s, 0, name, name_len);
			rc = PW_OK;
		}
		break;
	case SQLITE_DONE:
		rc = PW_ENOTFOUND;
		break;
	default:
		rc = db_fail(db, "looking up a display");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

int auth_audit(sqlite3 *db, int64_t ts_ms, const char *user_id, const char *remote,
               const char *action, const char *customers)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(db,
	              "INSERT INTO audit (ts_ms, user_id, remote, action, customers) "
	              "VALUES (?, ?, ?, ?, ?)",
	              &s, "preparing an audit insert");

	if (rc != PW_OK)
		return rc;
	if (sqlite3_bind_int64(s, 1, ts_ms) != SQLITE_OK ||
	    bind_text(s, 2, user_id ? user_id : "") != SQLITE_OK ||
	    bind_text(s, 3, remote ? remote : "") != SQLITE_OK ||
	    bind_text(s, 4, action ? action : "") != SQLITE_OK ||
	    bind_text(s, 5, customers ? customers : "") != SQLITE_OK)
		rc = db_fail(db, "binding an audit row");
	else
		rc = step_done(db, s, "writing an audit row");
	sqlite3_finalize(s);
	return rc;
}

/* ---- `pitwall user` and `pitwall display` ---------------------------------------------- */

static const char user_usage[] =
    "usage: pitwall user add [--config FILE] [--db FILE] USER --name NAME\n"
    "                        --role advisor|customer-care|manager [--advisor ID]\n"
    "                        [--password-file FILE]\n"
    "       pitwall user list [--config FILE] [--db FILE]\n"
    "       pitwall user disable [--config FILE] [--db FILE] USER\n"
    "\n"
    "Console logins (docs/api.md \"Sessions and roles\"). `add` creates USER, or\n"
    "updates its name, role, advisor and password, enables it again and ends its\n"
    "sessions. The password is the first line of --password-file, or of stdin;\n"
    "at least 8 characters. `list` shows every user, never a password hash.\n"
    "`disable` refuses USER's logins and ends its sessions.\n"
    "\n"
    "  USER                  the login name: 1-64 of A-Z a-z 0-9 . _ -\n"
    "  --name NAME           shown in the console and in alert logs\n"
    "  --role ROLE           advisor, customer-care or manager\n"
    "  --advisor ID          the user's own advisor_id (an imported advisor)\n"
    "  --password-file FILE  read the password from FILE instead of stdin\n"
    "  --config FILE         JSON config: db.path\n"
    "  --db FILE             SQLite database (default: the config's db.path, ./pitwall.db)\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or input, 1 runtime failure.\n";

static const char display_usage[] =
    "usage: pitwall display add [--config FILE] [--db FILE] NAME\n"
    "       pitwall display list [--config FILE] [--db FILE]\n"
    "\n"
    "Welcome displays (the entrance screens). `add` makes a new token for the\n"
    "display NAME, replacing its old one, and prints it with the page's path\n"
    "/welcome?display=TOKEN. It is shown only then: only its SHA-256 is stored.\n"
    "`list` shows each display's name and when its token was made.\n"
    "\n"
    "  --config FILE  JSON config: db.path\n"
    "  --db FILE      SQLite database (default: the config's db.path, ./pitwall.db)\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or input, 1 runtime failure.\n";

enum verb { USER_ADD, USER_LIST, USER_DISABLE, DISPLAY_ADD, DISPLAY_LIST };

static const struct {
	const char *group, *name;
	enum verb verb;
	int nargs;     /* positional arguments */
	int add_flags; /* --name, --role, --advisor, --password-file allowed */
} verbs[] = {
    {"user", "add", USER_ADD, 1, 1},         {"user", "list", USER_LIST, 0, 0},
    {"user", "disable", USER_DISABLE, 1, 0}, {"display", "add", DISPLAY_ADD, 1, 0},
    {"display", "list", DISPLAY_LIST, 0, 0},
};

struct cli {
	const char *cmd; /* "pitwall user add", for messages */
	const char *config, *db, *name, *role, *advisor, *password_file;
	const char *arg; /* USER or NAME */
	enum verb verb;
};

/* Code points in valid UTF-8 text. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* One line (without its "\n" or "\r\n") into buf. PW_ENOTFOUND: nothing
 * before end of file; PW_ERANGE: longer than size - 1; PW_EINVAL: a NUL. */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			return PW_EINVAL;
		if (n + 1 >= size)
			return PW_ERANGE;
		buf[n++] = (char)c;
	}
	if (ferror(f))
		return PW_EIO;
	if (c == EOF && n == 0)
		return PW_ENOTFOUND;
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return PW_OK;
}

/* The new user's password from --password-file or stdin (no echo on a
 * terminal); checks its length. Returns an exit status. */
static int read_password(const struct cli *c, char *buf, size_t size)
{
	const char *from = c->password_file ? c->password_file : "stdin";
	struct termios saved, quiet;
	int tty = 0, rc;
	FILE *f = stdin;

	if (c->password_file) {
		f = fopen(c->password_file, "r");
		if (!f) {
			fprintf(stderr, "%s: --password-file: cannot read %s: %s\n", c->cmd,
			        c->password_file, strerror(errno));
			return EXIT_USAGE;
		}
	} else if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tty = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		fprintf(stderr, "password for %s: ", c->arg);
	}
	rc = read_line(f, buf, size);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (f != stdin)
		fclose(f);
	switch (rc) {
	case PW_OK:
		break;
	case PW_ENOTFOUND:
		fprintf(stderr, "%s: no password: %s is empty\n", c->cmd, from);
		return EXIT_USAGE;
	case PW_ERANGE:
		fprintf(stderr, "%s: password longer than %d bytes in %s\n", c->cmd,
		        AUTH_PASSWORD_MAX, from);
		return EXIT_USAGE;
	case PW_EINVAL:
		fprintf(stderr, "%s: password in %s contains a NUL byte\n", c->cmd, from);
		return EXIT_USAGE;
	default:
		fprintf(stderr, "%s: cannot read the password from %s\n", c->cmd, from);
		return EXIT_RUNTIME;
	}
	if (csv_utf8_valid_prefix(buf, strlen(buf)) != strlen(buf)) {
		fprintf(stderr, "%s: the password in %s is not valid UTF-8\n", c->cmd, from);
		return EXIT_USAGE;
	}
	if (utf8_chars(buf) < AUTH_PASSWORD_MIN) {
		fprintf(stderr, "%s: password too short: at least %d characters\n", c->cmd,
		        AUTH_PASSWORD_MIN);
		return EXIT_USAGE;
	}
	return 0;
}

/* 1 if `sql` (one parameter) returns a row for key, 0 if not, -1 on error. */
static int row_exists(sqlite3 *db, const char *sql, const char *key)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (prep(db, sql, &s, "preparing a lookup") != PW_OK)
		return -1;
	if (bind_text(s, 1, key) != SQLITE_OK) {
		db_fail(db, "binding a lookup");
		goto out;
	}
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		db_fail(db, "looking up");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static int user_add(const struct cli *c, sqlite3 *db)
{
	char password[AUTH_PASSWORD_MAX + 2];
	enum auth_role role;
	int status, existed, rc;

	/* flags first: a usage error must not wait for a password */
	if (auth_role_parse(c->role, &role) != PW_OK) {
		fprintf(stderr, "%s: --role: unknown role '%s' (advisor, customer-care, manager)\n",
		        c->cmd, c->role);
		return EXIT_USAGE;
	}
	if (c->advisor && c->advisor[0]) {
		rc = row_exists(db, "SELECT 1 FROM advisor WHERE advisor_id = ?", c->advisor);
		if (rc <= 0) {
			if (rc == 0)
				fprintf(stderr,
				        "%s: --advisor: no advisor '%s' (import advisors first)\n",
				        c->cmd, c->advisor);
			return rc == 0 ? EXIT_USAGE : EXIT_RUNTIME;
		}
	}
	existed = row_exists(db, "SELECT 1 FROM user WHERE user_id = ?", c->arg);
	if (existed < 0)
		return EXIT_RUNTIME;
	status = read_password(c, password, sizeof(password));
	if (status != 0)
		goto out;
	status = EXIT_RUNTIME;
	rc = auth_user_add(db, c->arg, c->name, role, c->advisor, password, clock_real_ms());
	if (rc == PW_ENOTFOUND) {
		fprintf(stderr, "%s: --advisor: no advisor '%s' (import advisors first)\n", c->cmd,
		        c->advisor);
		status = EXIT_USAGE;
	} else if (rc != PW_OK) {
		fprintf(stderr, "%s: cannot store user '%s'\n", c->cmd, c->arg);
	} else {
		printf("%s user %s (%s%s%s)\n", existed ? "updated" : "added", c->arg,
		       auth_role_name(role), c->advisor && c->advisor[0] ? ", advisor " : "",
		       c->advisor ? c->advisor : "");
		status = 0;
	}
out:
	OPENSSL_cleanse(password, sizeof(password));
	return status;
}

static int user_list(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int step;

	if (prep(db,
	         "SELECT user_id, name, role, coalesce(advisor_id, ''), disabled FROM user "
	         "ORDER BY user_id",
	         &s, "preparing the user list") != PW_OK)
		return EXIT_RUNTIME;
	printf("user\tname\trole\tadvisor\tdisabled\n");
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		printf("%s\t%s\t%s\t%s\t%s\n", (const char *)sqlite3_column_text(s, 0),
		       (const char *)sqlite3_column_text(s, 1),
		       (const char *)sqlite3_column_text(s, 2),
		       (const char *)sqlite3_column_text(s, 3),
		       sqlite3_column_int(s, 4) ? "yes" : "no");
	if (step != SQLITE_DONE)
		db_fail(db, "listing users");
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : EXIT_RUNTIME;
}

static int display_add(const struct cli *c, sqlite3 *db)
{
	char token[AUTH_TOKEN_HEX + 1];
	int existed = row_exists(db, "SELECT 1 FROM display WHERE name = ?", c->arg);

	if (existed < 0 || auth_display_add(db, c->arg, clock_real_ms(), token) != PW_OK) {
		fprintf(stderr, "%s: cannot store display '%s'\n", c->cmd, c->arg);
		return EXIT_RUNTIME;
	}
	printf("display %s (%s)\ntoken: %s\nurl: /welcome?display=%s\n", c->arg,
	       existed ? "replaced: the old token no longer works" : "new", token, token);
	fprintf(stderr, "%s: the token is shown only now; keep it like a password\n", c->cmd);
	OPENSSL_cleanse(token, sizeof(token));
	return 0;
}

static int display_list(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	char iso[32];
	int step;

	if (prep(db, "SELECT name, created_ms FROM display ORDER BY name", &s,
	         "preparing the display list") != PW_OK)
		return EXIT_RUNTIME;
	printf("display\tcreated\n");
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		clock_format_iso8601(sqlite3_column_int64(s, 1), iso, sizeof(iso));
		printf("%s\t%s\n", (const char *)sqlite3_column_text(s, 0), iso);
	}
	if (step != SQLITE_DONE)
		db_fail(db, "listing displays");
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : EXIT_RUNTIME;
}

/* Options and arguments into c; returns -1 to go on, else an exit status.
 * argv[0] is the command's verb ("add"). */
static int parse_args(int argc, char **argv, const char *usage, struct cli *c, int add_flags,
                      int nargs)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"db", required_argument, NULL, 'd'},
	                                     {"name", required_argument, NULL, 'n'},
	                                     {"role", required_argument, NULL, 'r'},
	                                     {"advisor", required_argument, NULL, 'a'},
	                                     {"password-file", required_argument, NULL, 'p'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	int ch, idx = -1;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
		switch (ch) {
		case 'c':
			c->config = optarg;
			break;
		case 'd':
			c->db = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case ':':
			fprintf(stderr, "%s: %s needs a value\n%s", c->cmd, argv[optind - 1],
			        usage);
			return EXIT_USAGE;
		case '?':
			fprintf(stderr, "%s: unknown option '%s'\n%s", c->cmd, argv[optind - 1],
			        usage);
			return EXIT_USAGE;
		default: /* --name, --role, --advisor, --password-file: long only */
			if (!add_flags) {
				fprintf(stderr, "%s: --%s is an option of `user add` only\n%s",
				        c->cmd, opts[idx].name, usage);
				return EXIT_USAGE;
			}
			if (ch == 'n')
				c->name = optarg;
			else if (ch == 'r')
				c->role = optarg;
			else if (ch == 'a')
				c->advisor = optarg;
			else
				c->password_file = optarg;
		}
		idx = -1;
	}
	if (argc - optind != nargs) {
		fprintf(stderr, "%s: expected %s\n%s", c->cmd,
		        nargs == 0               ? "no arguments"
		        : c->verb == DISPLAY_ADD ? "one NAME"
		                                 : "one USER",
		        usage);
		return EXIT_USAGE;
	}
	if (nargs)
		c->arg = argv[optind];
	return -1;
}

/* Checks the arguments that need no database; returns -1 to go on. */
static int check_args(const struct cli *c)
{
	if (c->verb == USER_ADD || c->verb == USER_DISABLE) {
		if (!auth_user_id_ok(c->arg)) {
			fprintf(stderr, "%s: USER '%s': use 1-%d of A-Z a-z 0-9 . _ -\n", c->cmd,
			        c->arg, AUTH_USER_MAX);
			return EXIT_USAGE;
		}
	}
	if (c->verb == DISPLAY_ADD && !text_ok(c->arg, AUTH_DISPLAY_MAX)) {
		fprintf(stderr, "%s: NAME '%s': 1-%d bytes of text without control characters\n",
		        c->cmd, c->arg, AUTH_DISPLAY_MAX);
		return EXIT_USAGE;
	}
	if (c->verb != USER_ADD)
		return -1;
	if (!c->name || !c->role) {
		fprintf(stderr, "%s: %s is required\n", c->cmd, !c->name ? "--name" : "--role");
		return EXIT_USAGE;
	}
	if (!text_ok(c->name, AUTH_NAME_MAX)) {
		fprintf(stderr, "%s: --name: 1-%d bytes of UTF-8 text without control characters\n",
		        c->cmd, AUTH_NAME_MAX);
		return EXIT_USAGE;
	}
	if (c->advisor && c->advisor[0] && !text_ok(c->advisor, AUTH_ADVISOR_MAX)) {
		fprintf(stderr, "%s: --advisor: '%s' is not an advisor id\n", c->cmd, c->advisor);
		return EXIT_USAGE;
	}
	return -1;
}

int auth_main(int argc, char **argv)
{
	const int is_user = argc > 0 && strcmp(argv[0], "user") == 0;
	const char *usage = is_user ? user_usage : display_usage;
	char cmd[64], err[PW_CONFIG_ERR_MAX];
	struct cli c = {0};
	struct pw_config *cfg = NULL;
	struct store *st = NULL;
	size_t v;
	int status;

	log_set_level(PW_LOG_WARN); /* stderr is for the command's own messages */
	if (argc < 2) {
		fprintf(stderr, "pitwall %s: expected a command\n%s", is_user ? "user" : "display",
		        usage);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	for (v = 0; v < PW_ARRAY_LEN(verbs); v++)
		if (!strcmp(verbs[v].group, is_user ? "user" : "display") &&
		    !strcmp(verbs[v].name, argv[1]))
			break;
	if (v == PW_ARRAY_LEN(verbs)) {
		fprintf(stderr, "pitwall %s: unknown command '%s'\n%s",
		        is_user ? "user" : "display", argv[1], usage);
		return EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "pitwall %s %s", verbs[v].group, verbs[v].name);
	c.cmd = cmd;
	c.verb = verbs[v].verb;
	status = parse_args(argc - 1, argv + 1, usage, &c, verbs[v].add_flags, verbs[v].nargs);
	if (status >= 0)
		return status;
	status = check_args(&c);
	if (status >= 0)
		return status;

	status = EXIT_USAGE;
	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "%s: out of memory\n", c.cmd);
		return EXIT_RUNTIME;
	}
	config_defaults(cfg);
	if (c.config && config_load_file(cfg, c.config, err, sizeof(err)) != PW_OK) {
		fprintf(stderr, "%s: %s\n", c.cmd, err);
		goto out;
	}
	if (!c.db)
		c.db = cfg->db.path;
	status = EXIT_RUNTIME;
	/* the lists only read: they must not create a database that is not there */
	st = store_open(c.db, c.verb == USER_LIST || c.verb == DISPLAY_LIST ? STORE_READ_ONLY
	                                                                    : STORE_READ_WRITE);
	if (!st) {
		fprintf(stderr, "%s: cannot open the database %s\n", c.cmd, c.db);
		goto out;
	}
	switch (c.verb) {
	case USER_ADD:
		status = user_add(&c, store_sqlite(st));
		break;
	case USER_LIST:
		status = user_list(store_sqlite(st));
		break;
	case USER_DISABLE:
		switch (auth_user_disable(store_sqlite(st), c.arg)) {
		case PW_OK:
			printf("disabled user %s\n", c.arg);
			status = 0;
			break;
		case PW_ENOTFOUND:
			fprintf(stderr, "%s: no user '%s'\n", c.cmd, c.arg);
			break;
		default:
			fprintf(stderr, "%s: cannot disable user '%s'\n", c.cmd, c.arg);
		}
		break;
	case DISPLAY_ADD:
		status = display_add(&c, store_sqlite(st));
		break;
	case DISPLAY_LIST:
		status = display_list(store_sqlite(st));
		break;
	}
out:
	store_close(st);
	free(cfg);
	return status;
}
