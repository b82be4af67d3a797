/*
 * http_static — maps a request path onto a file below the dashboard
 * directory, and never onto anything else.
 *
 * http_static_path_ok() is pure (no I/O, fuzzable): it judges the path as
 * libwebsockets hands it over (percent-decoded, "//" and "/./" collapsed)
 * and refuses anything that is not a plain "/dir/name.ext" of safe
 * characters: "..", "%", backslash, control bytes, hidden segments. Then
 * http_static_open() resolves the joined path with realpath(), requires the
 * result to lie strictly below the (already resolved) root, and opens it
 * O_NOFOLLOW as a regular file. Only a fixed set of extensions is served,
 * so a stray editor backup or database file in the directory never is.
 *
 * Thread: any; no state of its own.
 */
#ifndef PW_HTTP_STATIC_H
#define PW_HTTP_STATIC_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_STATIC_PATH_MAX 512 /* longest request path considered */

/* True (1) when `path` (len bytes, need not be NUL-terminated) has the
 * shape of a servable static path; 0 otherwise. */
int http_static_path_ok(const char *path, size_t len);

/* The Content-Type for a file name by its extension, or NULL when the
 * extension is not one that is served. */
const char *http_static_content_type(const char *path);

struct http_static_file {
	int fd;           /* open, read-only; the caller closes it */
	uint64_t size;    /* bytes */
	int64_t mtime_ns; /* with size and inode: the ETag */
	uint64_t ino;
	const char *content_type; /* static string */
};

/* Opens the file `path` names below `root_real` (a realpath(3) result, no
 * trailing slash). PW_ENOTFOUND for anything refused or absent (the reason
 * is not told to the client), PW_OK with *out filled otherwise. */
int http_static_open(const char *root_real, const char *path, struct http_static_file *out);

/* The ETag of an opened file: "\"<size>-<mtime>-<inode>\"" in hex. */
void http_static_etag(const struct http_static_file *f, char *buf, size_t cap);

#endif
