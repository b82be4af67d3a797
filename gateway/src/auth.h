/*
 * auth — who is asking: console users with roles, their sessions, the
 * welcome displays' tokens, and the audit log of personal-data reads.
 *
 * Passwords are hashed with OpenSSL's PBKDF2-HMAC-SHA256 (random 16-byte
 * salt, AUTH_PBKDF2_ITER iterations), encoded
 * "pbkdf2-sha256$ITER$SALT_B64$HASH_B64", compared in constant time. Slow on
 * purpose (tens of ms): auth_password_verify() is pure and thread-safe so
 * the HTTP thread can run it on a worker, never on its event loop.
 * Session and display tokens are 32 random bytes (RAND_bytes) in hex; only
 * their SHA-256 is stored, so a copy of the database opens no session.
 *
 * The SQL functions take the caller's connection (migrated to 004 or
 * later) and run no transaction of their own unless said.
 * `pitwall user add` and `pitwall display add` (auth_main) create users and
 * display tokens from the command line.
 */
#ifndef PW_AUTH_H
#define PW_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#define AUTH_PBKDF2_ITER  120000
#define AUTH_HASH_MAX     160 /* encoded password hash, with NUL */
#define AUTH_TOKEN_HEX    64  /* a token's length in hex */
#define AUTH_USER_MAX     64  /* user_id bytes */
#define AUTH_NAME_MAX     128 /* a user's display name */
#define AUTH_PASSWORD_MIN 8   /* shortest password `pitwall user add` takes */
#define AUTH_PASSWORD_MAX 1024
#define AUTH_COOKIE       "pw_session"
#define AUTH_ADVISOR_MAX  64 /* advisor_id bytes */
#define AUTH_DISPLAY_MAX  64 /* a display's name, bytes */

enum auth_role {
	AUTH_ADVISOR = 1,
	AUTH_CUSTOMER_CARE = 2,
	AUTH_MANAGER = 4,
};
#define AUTH_ANY_ROLE (AUTH_ADVISOR | AUTH_CUSTOMER_CARE | AUTH_MANAGER)

/* "advisor", "customer-care", "manager" <-> role; PW_EINVAL for others. */
int auth_role_parse(const char *name, enum auth_role *out);
const char *auth_role_name(enum auth_role role);

/* A signed-in user. */
struct auth_user {
	char user_id[AUTH_USER_MAX + 1];
	char name[AUTH_NAME_MAX + 1];
	enum auth_role role;
	char advisor_id[65]; /* "" when none */
};

/* Password hashing (pure, thread-safe). Writes the encoded hash of
 * `password` (at most AUTH_PASSWORD_MAX bytes, else PW_EINVAL) into out;
 * PW_ERANGE if out_len is too small, PW_EIO if OpenSSL fails (logged). */
int auth_password_hash(const char *password, char *out, size_t out_len);
/* The same with `iter` iterations (1000..10,000,000, else PW_ERANGE): for
 * tests, which use 1000 to stay fast, and for a future raise. */
int auth_password_hash_iter(const char *password, long iter, char *out, size_t out_len);
/* PW_OK if `password` matches `encoded`; PW_EPERM if not (or `encoded` is
 * malformed, logged). The iteration count comes from `encoded`. Always does
 * the full work, so timing says nothing: pass encoded = NULL for an unknown
 * user and it spends AUTH_PBKDF2_ITER iterations, then PW_EPERM. */
int auth_password_verify(const char *encoded, const char *password);

/* 1 if user_id is a login name: 1..AUTH_USER_MAX of [A-Za-z0-9._-]. Pure. */
int auth_user_id_ok(const char *user_id);

/* Users. auth_user_add upserts (a second add changes name, role, advisor and
 * password, enables the user again and deletes its sessions), in a
 * savepoint of its own; it hashes the password first (slow). advisor_id
 * NULL or "" for none. PW_EINVAL for a bad user id, name (1..AUTH_NAME_MAX
 * bytes of text) or role; PW_ENOTFOUND for an advisor_id not in `advisor`. */
int auth_user_add(sqlite3 *db, const char *user_id, const char *name, enum auth_role role,
                  const char *advisor_id, const char *password, int64_t now_ms);
/* The user and its encoded hash, for a login (hash may be NULL; PW_ERANGE if
 * hash_len is too small). PW_ENOTFOUND for an unknown or disabled user. */
int auth_user_get(sqlite3 *db, const char *user_id, struct auth_user *out, char *hash,
                  size_t hash_len);
/* Refuses the user's logins from now on and deletes its sessions (one
 * savepoint). PW_ENOTFOUND for an unknown user. `pitwall user add` enables
 * it again. */
int auth_user_disable(sqlite3 *db, const char *user_id);

/* Sessions. Creates one for `user_id` valid `ttl_s` (> 0, else PW_EINVAL);
 * the token (lower-case hex, NUL terminated, AUTH_TOKEN_HEX + 1 bytes) goes
 * into `token`. PW_ENOTFOUND for an unknown or disabled user. A session
 * lives while now < created + ttl. */
int auth_session_create(sqlite3 *db, const char *user_id, int64_t now_ms, int ttl_s,
                        char token[AUTH_TOKEN_HEX + 1]);
/* The user of a live session. PW_ENOTFOUND: unknown, expired or the user
 * disabled. */
int auth_session_lookup(sqlite3 *db, const char *token, int64_t now_ms, struct auth_user *out);
/* PW_OK whether or not the session existed; PW_EINVAL for a token that is
 * not AUTH_TOKEN_HEX hex digits. */
int auth_session_delete(sqlite3 *db, const char *token);
/* Deletes expired sessions; *n (may be NULL) = how many. */
int auth_session_purge(sqlite3 *db, int64_t now_ms, long *n);
/* The value of cookie AUTH_COOKIE in a Cookie header ("a=1; pw_session=ab..")
 * into token, lower-cased; PW_ENOTFOUND when absent or malformed (not
 * AUTH_TOKEN_HEX hex digits, optionally in double quotes), or when the
 * header holds two different pw_session values (ambiguous: one may be a
 * cookie planted by a sibling domain). Spaces and tabs around names and
 * values are ignored. Pure. */
int auth_cookie_token(const char *cookie_header, char token[AUTH_TOKEN_HEX + 1]);

/* Display tokens: auth_display_add creates or replaces NAME's token (the
 * old one stops working). NAME: 1..AUTH_DISPLAY_MAX bytes of text without
 * control characters, else PW_EINVAL. */
int auth_display_add(sqlite3 *db, const char *name, int64_t now_ms, char token[AUTH_TOKEN_HEX + 1]);
/* The display's name for a token; PW_ENOTFOUND (also for a malformed
 * token), PW_ERANGE if name_len is too small. */
int auth_display_lookup(sqlite3 *db, const char *token, char *name, size_t name_len);

/* Audit: one row. `customers` is a comma-separated list of ids (may be "");
 * NULL strings are stored as "". */
int auth_audit(sqlite3 *db, int64_t ts_ms, const char *user_id, const char *remote,
               const char *action, const char *customers);

/* `pitwall user add|list|disable ...` and `pitwall display add|list NAME`;
 * argv[0] is "user" or "display". Returns the exit status (0, 1 or 2). */
int auth_main(int argc, char **argv);

#endif
