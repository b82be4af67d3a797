/*
 * api — the REST API of docs/api.md under /api/: sessions and roles, the
 * vehicle list and page, alerts, reminders, follow-ups, arrivals,
 * appointments, service visits and the audit log. http.c is the transport:
 * it hands a complete request (method, decoded path and query arguments,
 * Cookie, body) to api_handle() and writes the struct api_response back
 * (status, JSON body, Set-Cookie, Allow, Retry-After).
 *
 * Thread: everything here runs on the lws service thread, on one
 * read-write SQLite connection of the API's own, except the login worker:
 * a thread that runs the slow password check (auth_password_verify) so the
 * event loop never does. A login answers `pending`; when the check is done
 * the worker calls the wake function (http_wake) and the lws thread
 * collects the answer with api_take_done() under the ticket it gave.
 */
#ifndef PW_API_H
#define PW_API_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "ctlq.h"
#include "wgate.h"

#define API_ARGS_MAX       32  /* query arguments looked at */
#define API_COOKIE_MAX     256 /* a Set-Cookie value */
#define API_LOGIN_FAILS    5   /* failed logins for one user name ... */
#define API_LOGIN_WINDOW_S 300 /* ... within this many seconds ... */
#define API_LOGIN_LOCK_S   60  /* ... refuse its logins (429) this long */

struct api;

struct api_options {
	const struct pw_config *cfg; /* borrowed; outlives the api */
	const struct pw_clock *clock;
	const char *db_path;     /* opened read-write (the core migrated it) */
	struct ctlq *ctlq;       /* borrowed; may be NULL (no core to tell) */
	struct wgate *gate;      /* every write passes it (wgate.h); NULL: none */
	void (*wake)(void *ctx); /* any thread: wake the lws loop */
	void *wake_ctx;
};

/* lws thread. Opens the connection, prepares the statements and starts the
 * login worker. NULL on failure, logged. */
struct api *api_open(const struct api_options *opt);
/* lws thread; stops the worker; accepts NULL. */
void api_close(struct api *a);

/* One complete request. Strings are borrowed for the call. */
struct api_request {
	const char *method;      /* "GET", "HEAD", "POST", ... */
	const char *path;        /* decoded, starts with "/api/" */
	const char *const *args; /* decoded query arguments "k=v" */
	int n_args;
	const char *cookie; /* the Cookie header, or NULL */
	const char *remote; /* the client's address, or NULL */
	const char *body;   /* NUL-terminated, or NULL */
	size_t body_len;
	uint64_t ticket; /* names a pending answer (login) */
};

struct api_response {
	int status;
	char *body; /* malloc'd JSON (the caller frees), NULL: no body */
	size_t body_len;
	char set_cookie[API_COOKIE_MAX]; /* "" : none */
	const char *allow;               /* static: the Allow header of a 405 */
	int retry_after_s;               /* 0: no Retry-After */
	int pending;                     /* 1: the answer comes via api_take_done */
};

/* lws thread: answers `rq` into *out (zeroed first). */
void api_handle(struct api *a, const struct api_request *rq, struct api_response *out);

/* lws thread, after a wake: one finished pending answer into *out and its
 * ticket into *ticket; 1 when there was one, 0 when none is left. */
int api_take_done(struct api *a, uint64_t *ticket, struct api_response *out);

/* Pure helpers (unit-tested). */

/* The value of argument `name` among args[0..n) ("k=v"; "k" alone is ""),
 * borrowed, or NULL when absent. The first one wins. */
const char *api_arg(const char *const *args, int n, const char *name);
/* An integer argument: absent or "" -> def; else a whole decimal number in
 * [min, max] into *out. PW_EINVAL otherwise. */
int api_arg_int(const char *const *args, int n, const char *name, long min, long max, long def,
                long *out);
/* Matches `path` against `pattern`, where a star stands for one non-empty
 * segment (no '/'); the first such segment (borrowed pointer and length)
 * into *seg and *seg_len. 1 on a match. */
int api_path_match(const char *pattern, const char *path, const char **seg, size_t *seg_len);
/* 17 characters of [A-HJ-NPR-Z0-9]. */
int api_vin_valid(const char *s, size_t len);
/* Characters (code points) in UTF-8 text; -1 if not valid UTF-8. */
long api_utf8_len(const char *s);

#endif
