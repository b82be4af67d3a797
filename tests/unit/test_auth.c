/*
 * test_auth — logins and roles on a :memory: store migrated like the real
 * one: role names, password hashes (roundtrip, a known PBKDF2 vector in our
 * encoding, salts differ, every kind of tampered or malformed encoding
 * refused), users (upsert, advisor reference, disable), sessions (create,
 * lookup, expiry at the boundary, delete, purge, a disabled user's session
 * refused), the Cookie header parser's edge cases, display tokens (a
 * replaced token dies), audit rows, and SQL failures reported as PW_EIO.
 * Hashes use 1000 iterations (auth_password_hash_iter) except where the
 * default itself is under test, so the file runs in about a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "pw.h"
#include "store.h"

#define NOW   1795420800000LL /* 2026-11-23T08:00:00Z */
#define HOUR  3600LL * 1000
#define FAST  1000 /* iterations for hashes made only to be looked at */
#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct fx {
	struct store *store;
	sqlite3 *db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->store = store_open(":memory:", STORE_READ_WRITE);
	if (!f->store)
		return -1;
	f->db = (sqlite3 *)store_sqlite(f->store);
	if (sqlite3_exec(f->db,
	                 "INSERT INTO advisor (advisor_id, name, desk) VALUES ('A01', '李娜', '3')",
	                 NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->store);
	free(f);
	return 0;
}

static int64_t q(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void qtext(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *s = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

/* A user inserted directly, with a cheap hash (auth_user_add always uses
 * the default iteration count). */
static void add_user_fast(sqlite3 *db, const char *user, const char *role, const char *pw)
{
	char hash[AUTH_HASH_MAX];
	sqlite3_stmt *s = NULL;

	assert_int_equal(auth_password_hash_iter(pw, FAST, hash, sizeof(hash)), PW_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "INSERT INTO user (user_id, name, role, password_hash, "
	                                    "created_ms) VALUES (?, 'Test User', ?, ?, 0)",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
}

static int all_lower_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* ---- roles ----------------------------------------------------------------------------- */

static void test_role_parse(void **state)
{
	enum auth_role r = 0;

	(void)state;
	assert_int_equal(auth_role_parse("advisor", &r), PW_OK);
	assert_int_equal(r, AUTH_ADVISOR);
	assert_int_equal(auth_role_parse("customer-care", &r), PW_OK);
	assert_int_equal(r, AUTH_CUSTOMER_CARE);
	assert_int_equal(auth_role_parse("manager", &r), PW_OK);
	assert_int_equal(r, AUTH_MANAGER);
	assert_int_equal(auth_role_parse("Manager", &r), PW_EINVAL);
	assert_int_equal(auth_role_parse("customer_care", &r), PW_EINVAL);
	assert_int_equal(auth_role_parse("", &r), PW_EINVAL);
	assert_int_equal(auth_role_parse("admin", &r), PW_EINVAL);
	assert_int_equal(auth_role_parse(NULL, &r), PW_EINVAL);
	assert_int_equal(r, AUTH_MANAGER); /* untouched on failure */
	assert_string_equal(auth_role_name(AUTH_ADVISOR), "advisor");
	assert_string_equal(auth_role_name(AUTH_CUSTOMER_CARE), "customer-care");
	assert_string_equal(auth_role_name(AUTH_MANAGER), "manager");
	assert_string_equal(auth_role_name((enum auth_role)3), "?");
	assert_string_equal(auth_role_name((enum auth_role)0), "?");
}

static void test_user_id_ok(void **state)
{
	char long_id[AUTH_USER_MAX + 2];

	(void)state;
	assert_true(auth_user_id_ok("li.na"));
	assert_true(auth_user_id_ok("A-01_x"));
	assert_false(auth_user_id_ok(""));
	assert_false(auth_user_id_ok(NULL));
	assert_false(auth_user_id_ok("li na"));
	assert_false(auth_user_id_ok("李娜"));
	assert_false(auth_user_id_ok("a;b"));
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_false(auth_user_id_ok(long_id)); /* 65 */
	long_id[AUTH_USER_MAX] = '\0';
	assert_true(auth_user_id_ok(long_id)); /* 64 */
}

/* ---- password hashes ------------------------------------------------------------------- */

static void test_hash_roundtrip_default_iterations(void **state)
{
	char hash[AUTH_HASH_MAX];

	(void)state;
	assert_int_equal(auth_password_hash("correct horse", hash, sizeof(hash)), PW_OK);
	assert_memory_equal(hash, "pbkdf2-sha256$120000$", 21);
	assert_true(strlen(hash) < AUTH_HASH_MAX);
	assert_int_equal(auth_password_verify(hash, "correct horse"), PW_OK);
	assert_int_equal(auth_password_verify(hash, "correct horsE"), PW_EPERM);
}

static void test_hash_iter_and_salt(void **state)
{
	char a[AUTH_HASH_MAX], b[AUTH_HASH_MAX], small[40];
	char long_pw[AUTH_PASSWORD_MAX + 2];

	(void)state;
	assert_int_equal(auth_password_hash_iter("s3cret-密码", FAST, a, sizeof(a)), PW_OK);
	assert_int_equal(auth_password_hash_iter("s3cret-密码", FAST, b, sizeof(b)), PW_OK);
	assert_memory_equal(a, "pbkdf2-sha256$1000$", 19);
	assert_string_not_equal(a, b); /* fresh salt each time */
	assert_int_equal(auth_password_verify(a, "s3cret-密码"), PW_OK);
	assert_int_equal(auth_password_verify(b, "s3cret-密码"), PW_OK);
	assert_int_equal(auth_password_verify(a, "s3cret-"), PW_EPERM);
	assert_int_equal(auth_password_verify(a, ""), PW_EPERM);
	assert_int_equal(auth_password_verify(a, NULL), PW_EPERM);
	/* the count is read from the encoding */
	assert_int_equal(auth_password_hash_iter("x", 2500, b, sizeof(b)), PW_OK);
	assert_memory_equal(b, "pbkdf2-sha256$2500$", 19);
	assert_int_equal(auth_password_verify(b, "x"), PW_OK);
	/* limits */
	assert_int_equal(auth_password_hash_iter("x", 999, b, sizeof(b)), PW_ERANGE);
	assert_int_equal(auth_password_hash_iter("x", 10000001, b, sizeof(b)), PW_ERANGE);
	assert_int_equal(auth_password_hash_iter("x", FAST, small, sizeof(small)), PW_ERANGE);
	assert_string_equal(small, "");
	assert_int_equal(auth_password_hash_iter(NULL, FAST, b, sizeof(b)), PW_EINVAL);
	memset(long_pw, 'p', sizeof(long_pw) - 1);
	long_pw[sizeof(long_pw) - 1] = '\0';
	assert_int_equal(auth_password_hash(long_pw, b, sizeof(b)), PW_EINVAL);
	assert_int_equal(auth_password_verify(a, long_pw), PW_EPERM);
	long_pw[AUTH_PASSWORD_MAX] = '\0';
	assert_int_equal(auth_password_hash_iter(long_pw, FAST, b, sizeof(b)), PW_OK);
	assert_int_equal(auth_password_verify(b, long_pw), PW_OK);
}

/* PBKDF2-HMAC-SHA256, P "passwordPASSWORDpassword", S
 * "saltSALTsaltSALTsaltSALTsaltSALTsalt", c 4096: the first 32 bytes of
 * the well-known 40-byte vector, in our encoding. */
static void test_known_vector(void **state)
{
	static const char enc[] = "pbkdf2-sha256$4096$"
	                          "c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$"
	                          "NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+E=";

	(void)state;
	assert_int_equal(auth_password_verify(enc, "passwordPASSWORDpassword"), PW_OK);
	assert_int_equal(auth_password_verify(enc, "passwordPASSWORDpasswor"), PW_EPERM);
}

static void test_tampered_encodings(void **state)
{
	static const char salt[] = "c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0";
	static const char dk[] = "NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+E=";
	static const char pw[] = "passwordPASSWORDpassword";
	static const char *const bad[] = {
	    /* the scheme */
	    "pbkdf2-sha1$4096$%s$%s",
	    "PBKDF2-SHA256$4096$%s$%s",
	    "$4096$%s$%s",
	    /* the iteration count */
	    "pbkdf2-sha256$4097$%s$%s", /* well-formed, wrong */
	    "pbkdf2-sha256$999$%s$%s",
	    "pbkdf2-sha256$10000001$%s$%s",
	    "pbkdf2-sha256$0$%s$%s",
	    "pbkdf2-sha256$04096$%s$%s",
	    "pbkdf2-sha256$+4096$%s$%s",
	    "pbkdf2-sha256$-4096$%s$%s",
	    "pbkdf2-sha256$ 4096$%s$%s",
	    "pbkdf2-sha256$4096 $%s$%s",
	    "pbkdf2-sha256$$%s$%s",
	    "pbkdf2-sha256$4096x$%s$%s",
	    "pbkdf2-sha256$99999999999999999999$%s$%s",
	    /* the salt */
	    "pbkdf2-sha256$4096$$%.0s%s",
	    "pbkdf2-sha256$4096$c2Fsd!NBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$%.0s%s",
	    "pbkdf2-sha256$4096$c2FsdFNB TFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$%.0s%s",
	    "pbkdf2-sha256$4096$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx$%.0s%s",
	    "pbkdf2-sha256$4096$YWJj$%.0s%s",     /* 3 bytes: too short */
	    "pbkdf2-sha256$4096$YWJjZA==$%.0s%s", /* 4 bytes */
	    "pbkdf2-sha256$4096$YW=jZA==$%.0s%s", /* padding inside */
	    /* the hash */
	    "pbkdf2-sha256$4096$%s$%.43s", /* truncated */
	    "pbkdf2-sha256$4096$%s$%.40s", /* truncated */
	    "pbkdf2-sha256$4096$%s$",      /* empty */
	    "pbkdf2-sha256$4096$%s$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+E",
	    "pbkdf2-sha256$4096$%s$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+F=", /* stray bits */
	    "pbkdf2-sha256$4096$%s$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+E=\n",
	    "pbkdf2-sha256$4096$%s$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+A=", /* wrong */
	    "pbkdf2-sha256$4096$%s$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdUw==", /* 31 bytes */
	    "pbkdf2-sha256$4096$%s$%s$",
	    "pbkdf2-sha256$4096$%s$%s$x",
	    "pbkdf2-sha256$4096$%s",
	    "pbkdf2-sha256$4096",
	    "",
	};
	char enc[256];

	(void)state;
	log_set_level(PW_LOG_ERROR); /* the malformed ones are logged as warnings */
	for (size_t i = 0; i < PW_ARRAY_LEN(bad); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(enc, sizeof(enc), bad[i], salt, dk);
#pragma GCC diagnostic pop
		if (auth_password_verify(enc, pw) != PW_EPERM)
			fail_msg("accepted: %s", enc);
	}
	/* no encoding at all: an unknown user */
	assert_int_equal(auth_password_verify(NULL, pw), PW_EPERM);
	assert_int_equal(auth_password_verify(NULL, NULL), PW_EPERM);
	log_set_level(PW_LOG_WARN);
}

/* ---- users ----------------------------------------------------------------------------- */

static void test_user_add_and_get(void **state)
{
	struct fx *f = *state;
	struct auth_user u;
	char hash[AUTH_HASH_MAX], tiny[8], token[AUTH_TOKEN_HEX + 1];

	assert_int_equal(
	    auth_user_add(f->db, "li.na", "李娜", AUTH_ADVISOR, "A01", "first-pass1", NOW), PW_OK);
	assert_int_equal(auth_user_get(f->db, "li.na", &u, hash, sizeof(hash)), PW_OK);
	assert_string_equal(u.user_id, "li.na");
	assert_string_equal(u.name, "李娜");
	assert_int_equal(u.role, AUTH_ADVISOR);
	assert_string_equal(u.advisor_id, "A01");
	assert_memory_equal(hash, "pbkdf2-sha256$120000$", 21);
	assert_int_equal(auth_password_verify(hash, "first-pass1"), PW_OK);
	assert_int_equal(q(f->db, "SELECT created_ms FROM user WHERE user_id = 'li.na'"), NOW);
	assert_int_equal(auth_user_get(f->db, "li.na", &u, NULL, 0), PW_OK);
	assert_int_equal(auth_user_get(f->db, "li.na", &u, tiny, sizeof(tiny)), PW_ERANGE);

	/* a second add updates, enables again and ends the sessions */
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 3600, token), PW_OK);
	assert_int_equal(auth_user_disable(f->db, "li.na"), PW_OK);
	assert_int_equal(auth_user_get(f->db, "li.na", &u, NULL, 0), PW_ENOTFOUND);
	sqlite3_exec(f->db, "INSERT INTO session VALUES ('00', 'li.na', 0, 9999999999999)", NULL,
	             NULL, NULL);
	assert_int_equal(
	    auth_user_add(f->db, "li.na", "Li Na", AUTH_MANAGER, "", "second-pass", NOW + HOUR),
	    PW_OK);
	assert_int_equal(auth_user_get(f->db, "li.na", &u, hash, sizeof(hash)), PW_OK);
	assert_string_equal(u.name, "Li Na");
	assert_int_equal(u.role, AUTH_MANAGER);
	assert_string_equal(u.advisor_id, "");
	assert_int_equal(q(f->db, "SELECT advisor_id IS NULL FROM user"), 1);
	assert_int_equal(auth_password_verify(hash, "first-pass1"), PW_EPERM);
	assert_int_equal(q(f->db, "SELECT created_ms FROM user WHERE user_id = 'li.na'"), NOW);
	assert_int_equal(q(f->db, "SELECT count(*) FROM user"), 1);
	assert_int_equal(q(f->db, "SELECT count(*) FROM session"), 0);

	/* refused before any hashing or writing */
	assert_int_equal(auth_user_add(f->db, "li na", "x", AUTH_ADVISOR, NULL, "password", NOW),
	                 PW_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", "", AUTH_ADVISOR, NULL, "password", NOW),
	                 PW_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", "a\nb", AUTH_ADVISOR, NULL, "password", NOW),
	                 PW_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", "X", (enum auth_role)3, NULL, "password", NOW),
	                 PW_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", "X", AUTH_ADVISOR, NULL, NULL, NOW), PW_EINVAL);
	/* an advisor that is not there */
	assert_int_equal(auth_user_add(f->db, "x", "X", AUTH_ADVISOR, "A99", "password", NOW),
	                 PW_ENOTFOUND);
	assert_int_equal(q(f->db, "SELECT count(*) FROM user"), 1);

	assert_int_equal(auth_user_get(f->db, "nobody", &u, hash, sizeof(hash)), PW_ENOTFOUND);
	assert_int_equal(auth_user_get(f->db, NULL, &u, hash, sizeof(hash)), PW_ENOTFOUND);
	assert_int_equal(auth_user_disable(f->db, "nobody"), PW_ENOTFOUND);
}

/* ---- sessions -------------------------------------------------------------------------- */

static void test_session_lifecycle(void **state)
{
	struct fx *f = *state;
	struct auth_user u;
	char token[AUTH_TOKEN_HEX + 1], upper[AUTH_TOKEN_HEX + 1], other[AUTH_TOKEN_HEX + 1];
	char stored[AUTH_TOKEN_HEX + 1];

	add_user_fast(f->db, "li.na", "advisor", "password");
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 3600, token), PW_OK);
	assert_true(all_lower_hex(token, AUTH_TOKEN_HEX));
	/* only a digest is stored */
	qtext(f->db, "SELECT token_sha256 FROM session", stored, sizeof(stored));
	assert_true(all_lower_hex(stored, AUTH_TOKEN_HEX));
	assert_string_not_equal(stored, token);

	memset(&u, 0, sizeof(u));
	assert_int_equal(auth_session_lookup(f->db, token, NOW, &u), PW_OK);
	assert_string_equal(u.user_id, "li.na");
	assert_string_equal(u.name, "Test User");
	assert_int_equal(u.role, AUTH_ADVISOR);
	assert_string_equal(u.advisor_id, "");
	/* alive until created + ttl, not at it */
	assert_int_equal(auth_session_lookup(f->db, token, NOW + HOUR - 1, &u), PW_OK);
	assert_int_equal(auth_session_lookup(f->db, token, NOW + HOUR, &u), PW_ENOTFOUND);
	/* the same token in upper case */
	for (size_t i = 0; i <= AUTH_TOKEN_HEX; i++)
		upper[i] = token[i] >= 'a' && token[i] <= 'f' ? (char)(token[i] - 32) : token[i];
	assert_int_equal(auth_session_lookup(f->db, upper, NOW, &u), PW_OK);
	/* unknown and malformed tokens */
	assert_int_equal(auth_session_lookup(f->db, TOKEN, NOW, &u), PW_ENOTFOUND);
	assert_int_equal(auth_session_lookup(f->db, "abc", NOW, &u), PW_ENOTFOUND);
	assert_int_equal(auth_session_lookup(f->db, NULL, NOW, &u), PW_ENOTFOUND);
	assert_int_equal(auth_session_lookup(f->db, stored, NOW, &u), PW_ENOTFOUND);

	/* two sessions are two tokens; deleting one leaves the other */
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 60, other), PW_OK);
	assert_string_not_equal(token, other);
	assert_int_equal(auth_session_delete(f->db, token), PW_OK);
	assert_int_equal(auth_session_lookup(f->db, token, NOW, &u), PW_ENOTFOUND);
	assert_int_equal(auth_session_lookup(f->db, other, NOW, &u), PW_OK);
	assert_int_equal(auth_session_delete(f->db, token), PW_OK); /* again: nothing to do */
	assert_int_equal(auth_session_delete(f->db, "xyz"), PW_EINVAL);

	/* no session for an unknown user, nor a non-positive ttl */
	assert_int_equal(auth_session_create(f->db, "nobody", NOW, 3600, token), PW_ENOTFOUND);
	assert_string_equal(token, "");
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 0, token), PW_EINVAL);
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, -5, token), PW_EINVAL);
}

static void test_session_purge(void **state)
{
	struct fx *f = *state;
	struct auth_user u;
	char a[AUTH_TOKEN_HEX + 1], b[AUTH_TOKEN_HEX + 1], c[AUTH_TOKEN_HEX + 1];
	long n = -1;

	add_user_fast(f->db, "li.na", "advisor", "password");
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 60, a), PW_OK);
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 120, b), PW_OK);
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 3600, c), PW_OK);
	assert_int_equal(auth_session_purge(f->db, NOW + 59999, &n), PW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(auth_session_purge(f->db, NOW + 120000, &n), PW_OK);
	assert_int_equal(n, 2);
	assert_int_equal(q(f->db, "SELECT count(*) FROM session"), 1);
	assert_int_equal(auth_session_lookup(f->db, c, NOW + 120000, &u), PW_OK);
	assert_int_equal(auth_session_purge(f->db, NOW + HOUR, NULL), PW_OK);
	assert_int_equal(q(f->db, "SELECT count(*) FROM session"), 0);
}

static void test_disabled_user_refused(void **state)
{
	struct fx *f = *state;
	struct auth_user u;
	char a[AUTH_TOKEN_HEX + 1], b[AUTH_TOKEN_HEX + 1];

	add_user_fast(f->db, "li.na", "advisor", "password");
	add_user_fast(f->db, "wang", "manager", "password");
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 3600, a), PW_OK);
	assert_int_equal(auth_session_create(f->db, "wang", NOW, 3600, b), PW_OK);
	/* disabled behind auth's back: the session row stays, the lookup refuses */
	assert_int_equal(sqlite3_exec(f->db, "UPDATE user SET disabled = 1 WHERE user_id = 'li.na'",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(auth_session_lookup(f->db, a, NOW, &u), PW_ENOTFOUND);
	assert_int_equal(auth_session_create(f->db, "li.na", NOW, 3600, a), PW_ENOTFOUND);
	/* auth_user_disable also deletes the sessions */
	assert_int_equal(auth_user_disable(f->db, "wang"), PW_OK);
	assert_int_equal(auth_session_lookup(f->db, b, NOW, &u), PW_ENOTFOUND);
	assert_int_equal(q(f->db, "SELECT count(*) FROM session WHERE user_id = 'wang'"), 0);
	assert_int_equal(q(f->db, "SELECT disabled FROM user WHERE user_id = 'wang'"), 1);
}

/* ---- cookies --------------------------------------------------------------------------- */

static void test_cookie_token(void **state)
{
	static const char *const absent[] = {
	    "",
	    "a=1",
	    "pw_sessionx=" TOKEN,
	    "xpw_session=" TOKEN,
	    "PW_SESSION=" TOKEN,
	    "pw_session",
	    "pw_session=",
	    "pw_session=\"\"",
	    "pw_session=" TOKEN "0",                                                      /* 65 */
	    "pw_session=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", /* 63 */
	    "pw_session=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
	    "pw_session=" TOKEN "=",
	    "pw_session=\"" TOKEN,
	    "pw_session=0123456789abcdef 0123456789abcdef0123456789abcdef0123456789abcdef",
	    "pw_session=" TOKEN "; pw_session=" TOKEN "; pw_session=ffff",
	    "pw_session=" TOKEN
	    "; pw_session=f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "pw_session=" TOKEN "; pw_session=",
	    "a=1, pw_session=" TOKEN, /* a comma is not a separator */
	};
	static const char *const found[] = {
	    "pw_session=" TOKEN,
	    "pw_session=" TOKEN ";",
	    "a=1; pw_session=" TOKEN "; b=2",
	    "a=1;pw_session=" TOKEN ";b=2",
	    "  a=1 ;\tpw_session = " TOKEN " ; b",
	    "pw_session=\"" TOKEN "\"",
	    "pw_session=0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
	    "pw_session=" TOKEN "; pw_session=" TOKEN,
	    "pw_session=" TOKEN "; pw_session=0123456789ABCDEF0123456789abcdef0123456789abcdef"
	    "0123456789abcdef",
	    "x=pw_session=abc; pw_session=" TOKEN,
	    ";;; ; pw_session=" TOKEN ";;",
	    "theme=dark; lang=zh-CN; pw_session=" TOKEN,
	};
	char token[AUTH_TOKEN_HEX + 1];

	(void)state;
	assert_int_equal(auth_cookie_token(NULL, token), PW_ENOTFOUND);
	for (size_t i = 0; i < PW_ARRAY_LEN(absent); i++)
		if (auth_cookie_token(absent[i], token) != PW_ENOTFOUND)
			fail_msg("found a token in: %s", absent[i]);
	for (size_t i = 0; i < PW_ARRAY_LEN(found); i++) {
		memset(token, 'z', sizeof(token));
		if (auth_cookie_token(found[i], token) != PW_OK)
			fail_msg("no token in: %s", found[i]);
		assert_string_equal(token, TOKEN);
	}
}

/* ---- displays and audit ---------------------------------------------------------------- */

static void test_display_tokens(void **state)
{
	struct fx *f = *state;
	char t1[AUTH_TOKEN_HEX + 1], t2[AUTH_TOKEN_HEX + 1], t3[AUTH_TOKEN_HEX + 1];
	char name[AUTH_DISPLAY_MAX + 1], tiny[4], long_name[AUTH_DISPLAY_MAX + 2];

	assert_int_equal(auth_display_add(f->db, "entrance-1", NOW, t1), PW_OK);
	assert_true(all_lower_hex(t1, AUTH_TOKEN_HEX));
	assert_int_equal(auth_display_lookup(f->db, t1, name, sizeof(name)), PW_OK);
	assert_string_equal(name, "entrance-1");
	assert_int_equal(q(f->db, "SELECT count(*) FROM display"), 1);

	/* replacing: the old token dies, the new one works */
	assert_int_equal(auth_display_add(f->db, "entrance-1", NOW + HOUR, t2), PW_OK);
	assert_string_not_equal(t1, t2);
	assert_int_equal(auth_display_lookup(f->db, t1, name, sizeof(name)), PW_ENOTFOUND);
	assert_int_equal(auth_display_lookup(f->db, t2, name, sizeof(name)), PW_OK);
	assert_int_equal(q(f->db, "SELECT count(*) FROM display"), 1);
	assert_int_equal(q(f->db, "SELECT created_ms FROM display"), NOW + HOUR);

	/* a second display is independent */
	assert_int_equal(auth_display_add(f->db, "大厅", NOW, t3), PW_OK);
	assert_int_equal(auth_display_lookup(f->db, t3, name, sizeof(name)), PW_OK);
	assert_string_equal(name, "大厅");
	assert_int_equal(auth_display_lookup(f->db, t2, name, sizeof(name)), PW_OK);
	assert_string_equal(name, "entrance-1");
	assert_int_equal(auth_display_lookup(f->db, t2, tiny, sizeof(tiny)), PW_ERANGE);

	assert_int_equal(auth_display_lookup(f->db, TOKEN, name, sizeof(name)), PW_ENOTFOUND);
	assert_int_equal(auth_display_lookup(f->db, "nope", name, sizeof(name)), PW_ENOTFOUND);
	assert_int_equal(auth_display_lookup(f->db, NULL, name, sizeof(name)), PW_ENOTFOUND);

	assert_int_equal(auth_display_add(f->db, "", NOW, t1), PW_EINVAL);
	assert_int_equal(auth_display_add(f->db, "a\tb", NOW, t1), PW_EINVAL);
	assert_int_equal(auth_display_add(f->db, NULL, NOW, t1), PW_EINVAL);
	memset(long_name, 'd', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(auth_display_add(f->db, long_name, NOW, t1), PW_EINVAL);
	assert_int_equal(q(f->db, "SELECT count(*) FROM display"), 2);
}

static void test_audit_row(void **state)
{
	struct fx *f = *state;
	char text[128];

	assert_int_equal(auth_audit(f->db, NOW, "li.na", "127.0.0.1", "GET /api/vehicles?q=鲁A",
	                            "C00001,C00002"),
	                 PW_OK);
	assert_int_equal(auth_audit(f->db, NOW + 1, "wang", NULL, "ws snapshot", NULL), PW_OK);
	assert_int_equal(q(f->db, "SELECT count(*) FROM audit"), 2);
	assert_int_equal(q(f->db, "SELECT ts_ms FROM audit WHERE user_id = 'li.na'"), NOW);
	qtext(f->db,
	      "SELECT user_id || '|' || remote || '|' || action || '|' || customers "
	      "FROM audit ORDER BY id LIMIT 1",
	      text, sizeof(text));
	assert_string_equal(text, "li.na|127.0.0.1|GET /api/vehicles?q=鲁A|C00001,C00002");
	qtext(f->db, "SELECT remote || '|' || customers FROM audit WHERE user_id = 'wang'", text,
	      sizeof(text));
	assert_string_equal(text, "|");
}

/* ---- SQL failures ---------------------------------------------------------------------- */

static void test_sql_errors_are_eio(void **state)
{
	sqlite3 *db = NULL;
	struct auth_user u;
	char token[AUTH_TOKEN_HEX + 1], hash[AUTH_HASH_MAX], logged[8192];
	long n;
	int saved, lines = 0;
	size_t len;
	FILE *cap;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK); /* no tables */
	/* each failure is logged: stderr into a file for the duration */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	cap = tmpfile();
	assert_non_null(cap);
	assert_int_not_equal(dup2(fileno(cap), STDERR_FILENO), -1);
	assert_int_equal(auth_user_get(db, "li.na", &u, hash, sizeof(hash)), PW_EIO);
	assert_int_equal(auth_user_disable(db, "li.na"), PW_EIO);
	assert_int_equal(auth_session_create(db, "li.na", NOW, 60, token), PW_EIO);
	assert_int_equal(auth_session_lookup(db, TOKEN, NOW, &u), PW_EIO);
	assert_int_equal(auth_session_delete(db, TOKEN), PW_EIO);
	assert_int_equal(auth_session_purge(db, NOW, &n), PW_EIO);
	assert_int_equal(auth_display_add(db, "entrance-1", NOW, token), PW_EIO);
	assert_int_equal(auth_display_lookup(db, TOKEN, token, sizeof(token)), PW_EIO);
	assert_int_equal(auth_audit(db, NOW, "li.na", "", "GET /", ""), PW_EIO);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(cap);
	len = fread(logged, 1, sizeof(logged) - 1, cap);
	logged[len] = '\0';
	fclose(cap);
	for (const char *p = logged; (p = strstr(p, " error auth: ")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 9);
	assert_non_null(strstr(logged, "no such table"));
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_role_parse),
	    cmocka_unit_test(test_user_id_ok),
	    cmocka_unit_test(test_hash_roundtrip_default_iterations),
	    cmocka_unit_test(test_hash_iter_and_salt),
	    cmocka_unit_test(test_known_vector),
	    cmocka_unit_test(test_tampered_encodings),
	    cmocka_unit_test_setup_teardown(test_user_add_and_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disabled_user_refused, setup, teardown),
	    cmocka_unit_test(test_cookie_token),
	    cmocka_unit_test_setup_teardown(test_display_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_row, setup, teardown),
	    cmocka_unit_test(test_sql_errors_are_eio),
	};

	log_set_level(PW_LOG_WARN); /* no migration chatter */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
