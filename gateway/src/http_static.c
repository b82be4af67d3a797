/*
 * http_static — safe mapping of request paths onto dashboard files.
 *
 * Three independent fences, any one of which alone would stop a traversal:
 *   1. the path's shape (http_static_path_ok): only [A-Za-z0-9._~@+-] and
 *      '/', no "..", no '%' left after decoding (double encoding), no
 *      backslash, no control byte, no segment starting with '.';
 *   2. the resolved path (realpath) must start with root + '/';
 *   3. the file is opened O_NOFOLLOW and must be a regular file.
 * Refusals are all PW_ENOTFOUND: the client learns nothing about why.
 *
 * Thread: any (the lws thread in practice); no state of its own.
 */
#include "http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pw.h"

struct type_entry {
	const char *ext; /* without the dot, lower case */
	const char *type;
};

static const struct type_entry types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"json", "application/json"},
    {"woff2", "font/woff2"},
    {"ico", "image/x-icon"},
    {"txt", "text/plain; charset=utf-8"},
    {"webmanifest", "application/manifest+json"},
};

static int safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '~' || c == '@' || c == '+' || c == '/';
}

int http_static_path_ok(const char *path, size_t len)
{
	size_t i;

	if (!path || len < 2 || len > HTTP_STATIC_PATH_MAX || path[0] != '/')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (!safe_char(c))
			return 0; /* NUL, control bytes, '%', '\\', spaces, non-ASCII */
		if (c == '/') {
			/* every segment is non-empty and does not start with '.':
			 * this refuses "//", "/.", "/..", "/.hidden" and a trailing "/" */
			if (i + 1 >= len || path[i + 1] == '/' || path[i + 1] == '.')
				return 0;
		}
		if (c == '.' && i + 1 < len && path[i + 1] == '.')
			return 0; /* ".." anywhere, even "a..b": not worth the risk */
	}
	return 1;
}

const char *http_static_content_type(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t i;

	if (!dot || (slash && dot < slash) || dot[1] == '\0')
		return NULL;
	for (i = 0; i < PW_ARRAY_LEN(types); i++)
		if (strcasecmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

int http_static_open(const char *root_real, const char *path, struct http_static_file *out)
{
	char joined[PATH_MAX], *resolved = NULL;
	size_t root_len, path_len;
	struct stat st;
	const char *type;
	int fd = -1, rc = PW_ENOTFOUND, n;

	out->fd = -1;
	if (!root_real || !path)
		return PW_ENOTFOUND;
	path_len = strlen(path);
	if (!http_static_path_ok(path, path_len))
		return PW_ENOTFOUND;
	type = http_static_content_type(path);
	if (!type)
		return PW_ENOTFOUND;

	n = snprintf(joined, sizeof(joined), "%s%s", root_real, path);
	if (n < 0 || (size_t)n >= sizeof(joined))
		return PW_ENOTFOUND;
	resolved = realpath(joined, NULL);
	if (!resolved)
		goto out;
	root_len = strlen(root_real);
	if (strncmp(resolved, root_real, root_len) != 0 || resolved[root_len] != '/')
		goto out; /* a symlink (or anything else) leading outside the root */

	fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out_close;

	out->fd = fd;
	out->size = (uint64_t)st.st_size;
	out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	out->ino = (uint64_t)st.st_ino;
	out->content_type = type;
	fd = -1;
	rc = PW_OK;
out_close:
	if (fd >= 0)
		close(fd);
out:
	free(resolved);
	return rc;
}

void http_static_etag(const struct http_static_file *f, char *buf, size_t cap)
{
	snprintf(buf, cap, "\"%llx-%llx-%llx\"", (unsigned long long)f->size,
	         (unsigned long long)f->mtime_ns, (unsigned long long)f->ino);
}
