/*
 * test_http — the real server on 127.0.0.1:0 against a real socket client.
 *
 * Each test starts http_start() with a temporary dashboard directory and a
 * temporary SQLite file (created through store_open), then speaks raw
 * HTTP/1.1 over a POSIX socket and checks status lines, headers and bodies:
 * /healthz (JSON, db error reporting), /metrics (content type, a counter),
 * 404/405/411/413, static files and their content types and ETags, a
 * battery of traversal attempts against a secret file beside the
 * dashboard, keep-alive, listen-address forms, and how fast http_stop()
 * returns with a client still connected.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "http_static.h"
#include "metrics.h"
#include "pw.h"
#include "store.h"

#define SECRET "TOP-SECRET-4f1c"

struct fixture {
	char dir[256];    /* temp root */
	char www[300];    /* the dashboard directory */
	char db[300];     /* the SQLite file */
	char secret[300]; /* a file beside www that must never be served */
	struct metrics *metrics;
	struct http *http;
	int port;
};

struct response {
	int status; /* 0: no status line (connection closed or refused) */
	char head[4096];
	char *body;
	size_t body_len;
};

/* ---- files ------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void remove_tree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a raw HTTP client --------------------------------------------------- */

static int connect_to(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the server may hang up early; the reply tells */
		p += n;
		len -= (size_t)n;
	}
}

/* Reads until EOF (or timeout); returns a malloc'd buffer, *len set. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap + 1);

	assert_non_null(buf);
	for (;;) {
		ssize_t got;

		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		got = recv(fd, buf + n, cap - n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Parses one response from raw[0..len); returns bytes consumed (0 if none).
 * A response to HEAD (`head_only`) has no body whatever its Content-Length. */
static size_t parse_response(const char *raw, size_t len, struct response *r, int head_only)
{
	const char *end = strstr(raw, "\r\n\r\n"), *cl;
	size_t head_len, body_len = 0;

	memset(r, 0, sizeof(*r));
	if (!end || len < 12 || strncmp(raw, "HTTP/1.", 7) != 0)
		return 0;
	head_len = (size_t)(end - raw) + 2;
	assert_true(head_len < sizeof(r->head));
	memcpy(r->head, raw, head_len);
	r->head[head_len] = '\0';
	r->status = (int)strtol(raw + 9, NULL, 10); /* "HTTP/1.1 200" */
	cl = strcasestr(r->head, "\r\ncontent-length:");
	if (cl)
		body_len = strtoul(cl + 17, NULL, 10);
	if (r->status == 304 || head_only)
		body_len = 0; /* their Content-Length names the 200's body */
	assert_true(head_len + 2 + body_len <= len);
	r->body = malloc(body_len + 1);
	assert_non_null(r->body);
	memcpy(r->body, end + 4, body_len);
	r->body[body_len] = '\0';
	r->body_len = body_len;
	return head_len + 2 + body_len;
}

static void response_free(struct response *r)
{
	free(r->body);
	r->body = NULL;
}

/* The value of header `name` (case-insensitive) into out; 0 if absent. */
static int header(const struct response *r, const char *name, char *out, size_t cap)
{
	char key[64];
	const char *p, *eol;
	size_t n;

	snprintf(key, sizeof(key), "\r\n%s:", name);
	p = strcasestr(r->head, key);
	if (!p)
		return 0;
	p += strlen(key);
	while (*p == ' ')
		p++;
	eol = strstr(p, "\r\n");
	n = eol ? (size_t)(eol - p) : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 1;
}

/* One raw request on a fresh connection; the whole reply is read. */
static void raw_request(int port, const char *req, size_t req_len, struct response *r)
{
	int fd = connect_to(port);
	size_t len;
	char *raw;

	assert_true(fd >= 0);
	send_all(fd, req, req_len);
	raw = read_all(fd, &len);
	close(fd);
	if (!parse_response(raw, len, r, strncmp(req, "HEAD ", 5) == 0))
		memset(r, 0, sizeof(*r));
	free(raw);
}

static void request(int port, const char *method, const char *path, const char *extra,
                    struct response *r)
{
	char req[2048];
	int n = snprintf(req, sizeof(req),
	                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
	                 path, extra ? extra : "");

	assert_true(n > 0 && (size_t)n < sizeof(req));
	raw_request(port, req, (size_t)n, r);
}

static void assert_header(const struct response *r, const char *name, const char *want)
{
	char v[256];

	if (!header(r, name, v, sizeof(v)))
		fail_msg("header %s missing in:\n%s", name, r->head);
	assert_string_equal(v, want);
}

/* Content-Length present and equal to the body read. */
static void assert_length_ok(const struct response *r)
{
	char v[32];

	assert_true(header(r, "content-length", v, sizeof(v)));
	assert_int_equal(strtoul(v, NULL, 10), r->body_len);
}

static void assert_json_error(const struct response *r, int status)
{
	json_error_t err;
	json_t *j;

	assert_int_equal(r->status, status);
	assert_header(r, "content-type", "application/json");
	assert_header(r, "x-content-type-options", "nosniff");
	assert_header(r, "cache-control", "no-store");
	assert_length_ok(r);
	j = json_loadb(r->body, r->body_len, 0, &err);
	assert_non_null(j);
	assert_true(json_is_string(json_object_get(j, "error")));
	json_decref(j);
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct store *st;
	char path[512];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/pw-http-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->www, sizeof(f->www), "%s/www", f->dir);
	snprintf(f->db, sizeof(f->db), "%s/pitwall.db", f->dir);
	snprintf(f->secret, sizeof(f->secret), "%s/secret.txt", f->dir);
	assert_int_equal(mkdir(f->www, 0755), 0);
	snprintf(path, sizeof(path), "%s/js", f->www);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/css", f->www);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/static", f->www);
	assert_int_equal(mkdir(path, 0755), 0);

	write_file(f->www, "index.html", "<!doctype html><title>console</title>\n");
	write_file(f->www, "welcome.html", "<!doctype html><title>welcome</title>\n");
	write_file(f->www, "js/app.js", "export const x = 1;\n");
	write_file(f->www, "js/mod.mjs", "export default 2;\n");
	write_file(f->www, "css/site.css", "body{margin:0}\n");
	write_file(f->www, "logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
	write_file(f->www, "data.json", "{\"a\":1}\n");
	write_file(f->www, "notes.bak", SECRET "\n");    /* unknown extension */
	write_file(f->www, ".hidden.html", SECRET "\n"); /* hidden file */
	write_file(f->dir, "secret.txt", SECRET "\n");
	write_file(f->dir, "secret.html", SECRET "\n");
	snprintf(path, sizeof(path), "%s/leak.txt", f->www);
	assert_int_equal(symlink(f->secret, path), 0); /* a symlink out of the root */
	snprintf(path, sizeof(path), "%s/static/up.html", f->www);
	assert_int_equal(symlink("../../secret.html", path), 0);

	st = store_open(f->db, STORE_READ_WRITE); /* creates and migrates the file */
	assert_non_null(st);
	store_close(st);

	f->metrics = metrics_new();
	assert_non_null(f->metrics);
	f->http = http_start(&(struct http_options){.listen = "127.0.0.1:0",
	                                            .db_path = f->db,
	                                            .static_dir = f->www,
	                                            .metrics = f->metrics});
	assert_non_null(f->http);
	f->port = http_port(f->http);
	assert_true(f->port > 0 && f->port < 65536);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	http_stop(f->http);
	metrics_free(f->metrics);
	remove_tree(f->dir);
	free(f);
	return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_healthz(void **state)
{
	struct fixture *f = *state;
	struct response r;
	json_error_t err;
	json_t *j;

	request(f->port, "GET", "/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "content-type", "application/json");
	assert_header(&r, "cache-control", "no-store");
	assert_header(&r, "x-content-type-options", "nosniff");
	assert_length_ok(&r);
	j = json_loadb(r.body, r.body_len, 0, &err);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "mqtt")), "disconnected");
	assert_string_equal(json_string_value(json_object_get(j, "db")), "ok");
	assert_int_equal(json_object_size(j), 3);
	json_decref(j);
	response_free(&r);

	metrics_set_mqtt_connected(f->metrics, 1);
	request(f->port, "GET", "/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, 0, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "mqtt")), "connected");
	json_decref(j);
	response_free(&r);

	/* HEAD: the same headers, no body */
	request(f->port, "HEAD", "/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "content-type", "application/json");
	response_free(&r);
}

static void test_healthz_db_error(void **state)
{
	struct fixture *f = *state;
	struct metrics *m = metrics_new();
	struct http *h;
	struct response r;
	char bad[400];
	json_error_t err;
	json_t *j;

	snprintf(bad, sizeof(bad), "%s/no/such/dir/pitwall.db", f->dir);
	h = http_start(
	    &(struct http_options){.listen = "127.0.0.1:0", .db_path = bad, .metrics = m});
	assert_non_null(h); /* a missing database does not stop the port */
	request(http_port(h), "GET", "/healthz", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_header(&r, "content-type", "application/json");
	j = json_loadb(r.body, r.body_len, 0, &err);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "db")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "mqtt")), "disconnected");
	json_decref(j);
	response_free(&r);

	/* no static_dir: the dashboard routes are plain 404s */
	request(http_port(h), "GET", "/", NULL, &r);
	assert_json_error(&r, 404);
	response_free(&r);
	http_stop(h);
	metrics_free(m);
}

static void test_metrics_route(void **state)
{
	struct fixture *f = *state;
	struct response r;

	metrics_count_message(f->metrics, PW_MSG_ACCEPTED);
	metrics_count_message(f->metrics, PW_MSG_ACCEPTED);
	metrics_count_message(f->metrics, PW_MSG_ACCEPTED);
	metrics_count_message(f->metrics, PW_MSG_DUPLICATE);
	request(f->port, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "content-type", "text/plain; version=0.0.4; charset=utf-8");
	assert_header(&r, "cache-control", "no-store");
	assert_header(&r, "x-content-type-options", "nosniff");
	assert_length_ok(&r);
	assert_non_null(strstr(r.body, "\npitwall_messages_total{result=\"accepted\"} 3\n"));
	assert_non_null(strstr(r.body, "\npitwall_messages_total{result=\"duplicate\"} 1\n"));
	assert_non_null(strstr(r.body, "# TYPE pitwall_messages_total counter\n"));
	response_free(&r);
}

static void test_not_found(void **state)
{
	struct fixture *f = *state;
	struct response r;

	request(f->port, "GET", "/nope", NULL, &r);
	assert_json_error(&r, 404);
	assert_string_equal(r.body, "{\"error\":\"not found\"}");
	response_free(&r);
	request(f->port, "GET", "/api/vehicles", NULL, &r);
	assert_json_error(&r, 404);
	response_free(&r);
	request(f->port, "GET", "/js/", NULL, &r); /* a directory */
	assert_json_error(&r, 404);
	response_free(&r);
	request(f->port, "GET", "/js", NULL, &r);
	assert_json_error(&r, 404);
	response_free(&r);
	request(f->port, "GET", "/healthz/extra", NULL, &r);
	assert_json_error(&r, 404);
	response_free(&r);
}

static void test_method_not_allowed(void **state)
{
	struct fixture *f = *state;
	struct response r;

	request(f->port, "POST", "/healthz", "Content-Length: 0\r\n", &r);
	assert_json_error(&r, 405);
	assert_header(&r, "allow", "GET, HEAD");
	response_free(&r);
	request(f->port, "DELETE", "/metrics", NULL, &r);
	assert_json_error(&r, 405);
	response_free(&r);
	request(f->port, "PUT", "/", "Content-Length: 2\r\n\r\nhi", &r);
	assert_json_error(&r, 405);
	response_free(&r);
	request(f->port, "POST", "/js/app.js", "Content-Length: 0\r\n", &r); /* a static file */
	assert_json_error(&r, 405);
	response_free(&r);
	/* a body of exactly 64 KiB is not too large: the route answers */
	{
		size_t body = 64 * 1024, n;
		char *req = malloc(body + 256);

		assert_non_null(req);
		n = (size_t)snprintf(req, 256,
		                     "POST /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		                     "Content-Length: %zu\r\n\r\n",
		                     body);
		memset(req + n, 'a', body);
		raw_request(f->port, req, n + body, &r);
		assert_json_error(&r, 405);
		response_free(&r);
		free(req);
	}
}

static void post_big(int port, const char *path, size_t body, struct response *r)
{
	char *req = malloc(body + 256);
	size_t n;

	assert_non_null(req);
	n = (size_t)snprintf(req, 256,
	                     "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	                     path, body);
	memset(req + n, 'x', body);
	raw_request(port, req, n + body, r);
	free(req);
}

static void test_body_too_large(void **state)
{
	struct fixture *f = *state;
	struct response r;

	post_big(f->port, "/metrics", 70 * 1024, &r);
	assert_json_error(&r, 413);
	response_free(&r);
	post_big(f->port, "/api/login", 70 * 1024, &r); /* any route, even unknown */
	assert_json_error(&r, 413);
	response_free(&r);
	post_big(f->port, "/healthz", 64 * 1024 + 1, &r);
	assert_json_error(&r, 413);
	response_free(&r);

	/* a huge declared body is refused without reading it */
	request(f->port, "POST", "/metrics", "Content-Length: 10000000000\r\n", &r);
	assert_json_error(&r, 413);
	response_free(&r);
	/* no length at all: 411; chunked bodies are not taken */
	request(f->port, "POST", "/metrics", NULL, &r);
	assert_json_error(&r, 411);
	response_free(&r);
	request(f->port, "POST", "/metrics", "Transfer-Encoding: chunked\r\n\r\n0\r\n", &r);
	assert_json_error(&r, 411);
	response_free(&r);
}

static void expect_file(int port, const char *path, const char *type, const char *content)
{
	struct response r;

	request(port, "GET", path, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s: status %d", path, r.status);
	assert_header(&r, "content-type", type);
	assert_header(&r, "x-content-type-options", "nosniff");
	assert_header(&r, "cache-control", "no-cache");
	assert_length_ok(&r);
	assert_string_equal(r.body, content);
	response_free(&r);
}

static void test_static_files(void **state)
{
	struct fixture *f = *state;
	struct response r, r2;
	char etag[128], extra[256];

	expect_file(f->port, "/", "text/html; charset=utf-8",
	            "<!doctype html><title>console</title>\n");
	expect_file(f->port, "/welcome", "text/html; charset=utf-8",
	            "<!doctype html><title>welcome</title>\n");
	expect_file(f->port, "/index.html", "text/html; charset=utf-8",
	            "<!doctype html><title>console</title>\n");
	expect_file(f->port, "/js/app.js", "text/javascript; charset=utf-8",
	            "export const x = 1;\n");
	expect_file(f->port, "/js/mod.mjs", "text/javascript; charset=utf-8",
	            "export default 2;\n");
	expect_file(f->port, "/css/site.css", "text/css; charset=utf-8", "body{margin:0}\n");
	expect_file(f->port, "/logo.svg", "image/svg+xml",
	            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
	expect_file(f->port, "/data.json", "application/json", "{\"a\":1}\n");

	/* revalidation: the ETag comes back as a 304 without a body */
	request(f->port, "GET", "/js/app.js", NULL, &r);
	assert_true(header(&r, "etag", etag, sizeof(etag)));
	assert_true(etag[0] == '"');
	snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n", etag);
	request(f->port, "GET", "/js/app.js", extra, &r2);
	assert_int_equal(r2.status, 304);
	assert_int_equal(r2.body_len, 0);
	assert_header(&r2, "etag", etag);
	response_free(&r2);
	request(f->port, "GET", "/js/app.js", "If-None-Match: \"other\"\r\n", &r2);
	assert_int_equal(r2.status, 200);
	response_free(&r2);
	response_free(&r);
}

/* Refused: an error status (or a dropped connection) and never the secret. */
static void expect_refused(int port, const char *raw_path)
{
	struct response r;

	request(port, "GET", raw_path, NULL, &r);
	if (r.status == 200 || r.status == 304)
		fail_msg("GET %s was served (status %d)", raw_path, r.status);
	assert_true(r.status == 0 || r.status == 400 || r.status == 404);
	if (r.body) {
		assert_null(strstr(r.body, SECRET));
		assert_null(strstr(r.body, "root:"));
	}
	response_free(&r);
}

static void test_traversal_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const attempts[] = {
	    "/../secret.txt",
	    "/../etc/passwd",
	    "/../../../../../../etc/passwd",
	    "/%2e%2e/secret.txt",
	    "/%2E%2E/%2e%2e/etc/passwd",
	    "/%2e%2e%2fsecret.txt",
	    "/..%2fsecret.txt",
	    "/..%2f..%2f..%2fetc%2fpasswd",
	    "/static/../../secret.txt",
	    "/static/..%2f..%2fsecret.html",
	    "/%252e%252e/secret.txt", /* double encoding */
	    "/js/..%5c..%5csecret.txt",
	    "/js\\..\\..\\secret.txt",
	    "/index.html%00.png",
	    "/js/app.js%00/../../secret.txt",
	    "/leak.txt",       /* symlink to a file outside the root */
	    "/static/up.html", /* relative symlink climbing out */
	    "/.hidden.html",
	    "/notes.bak", /* not a served type */
	    "/./../secret.txt",
	    "//etc/passwd",
	    "/secret.txt",
	};
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(attempts); i++)
		expect_refused(f->port, attempts[i]);

	/* A trailing %00 is dropped by lws's own parser before any callback
	 * sees the path (it leaves no trace in the stored length), so
	 * "/%00" is indistinguishable from "/": it may only ever be the
	 * console page, never anything else. */
	{
		struct response r;

		request(f->port, "GET", "/%00", NULL, &r);
		assert_true(r.status == 0 || r.status == 400 || r.status == 404 ||
		            (r.status == 200 &&
		             strcmp(r.body, "<!doctype html><title>console</title>\n") == 0));
		response_free(&r);
	}

	/* the server is still fine afterwards */
	expect_file(f->port, "/js/app.js", "text/javascript; charset=utf-8",
	            "export const x = 1;\n");
}

static void test_keep_alive(void **state)
{
	struct fixture *f = *state;
	static const char reqs[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "HEAD /js/app.js HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct response r;
	size_t len, used, off = 0;
	int fd = connect_to(f->port);
	char *raw;

	assert_true(fd >= 0);
	send_all(fd, reqs, sizeof(reqs) - 1);
	raw = read_all(fd, &len);
	close(fd);

	used = parse_response(raw + off, len - off, &r, 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"ok\":true"));
	response_free(&r);
	off += used;

	/* HEAD: the file's real Content-Length, no body follows */
	used = parse_response(raw + off, len - off, &r, 1);
	assert_int_equal(r.status, 200);
	assert_header(&r, "content-length", "20");
	assert_header(&r, "content-type", "text/javascript; charset=utf-8");
	response_free(&r);
	off += used;

	used = parse_response(raw + off, len - off, &r, 0);
	assert_int_equal(r.status, 404);
	response_free(&r);
	off += used;

	used = parse_response(raw + off, len - off, &r, 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "pitwall_build_info"));
	response_free(&r);
	off += used;
	assert_int_equal(off, len); /* nothing more */
	free(raw);
}

static void test_listen_forms(void **state)
{
	struct metrics *m = metrics_new();
	struct http *h, *h2;
	char addr[64];
	struct response r;
	static const char *const bad[] = {
	    "",
	    "nonsense",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:99999",
	    "127.0.0.1:-1",
	    "127.0.0.1:80x",
	    "::1:8080",
	    "[::1]",
	    "[::1]8080",
	    "[]:80",
	};
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(bad); i++) {
		h = http_start(&(struct http_options){.listen = bad[i], .metrics = m});
		if (h)
			fail_msg("listen \"%s\" was accepted", bad[i]);
	}
	assert_null(http_start(NULL));

	/* ":0" is every interface; loopback reaches it */
	h = http_start(&(struct http_options){.listen = ":0", .metrics = m});
	assert_non_null(h);
	assert_true(http_port(h) > 0);
	request(http_port(h), "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);

	/* a port in use is a clean failure */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", http_port(h));
	h2 = http_start(&(struct http_options){.listen = addr, .metrics = m});
	assert_null(h2);
	http_stop(h);

	/* IPv6 loopback where the host has it */
	{
		int fd = socket(AF_INET6, SOCK_STREAM, 0);
		struct sockaddr_in6 sa;
		int have_v6;

		memset(&sa, 0, sizeof(sa));
		sa.sin6_family = AF_INET6;
		sa.sin6_addr = in6addr_loopback;
		have_v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (have_v6) {
			h = http_start(&(struct http_options){.listen = "[::1]:0", .metrics = m});
			assert_non_null(h);
			assert_true(http_port(h) > 0);
			http_stop(h);
		}
	}
	http_wake(NULL);
	http_stop(NULL);
	assert_int_equal(http_port(NULL), 0);
	metrics_free(m);
}

static void test_stop_is_prompt(void **state)
{
	struct metrics *m = metrics_new();
	static const char keep_req[] = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http *h;
	double t0, elapsed;
	char buf[1024] = "";
	size_t got;
	int idle, keep, port;

	(void)state;
	h = http_start(&(struct http_options){.listen = "127.0.0.1:0", .metrics = m});
	assert_non_null(h);
	port = http_port(h);
	/* one keep-alive connection that has finished a request, one idle */
	keep = connect_to(port);
	assert_true(keep >= 0);
	send_all(keep, keep_req, sizeof(keep_req) - 1);
	for (got = 0; got < sizeof(buf) - 1 && !strchr(buf, '}');) {
		ssize_t n = recv(keep, buf + got, sizeof(buf) - 1 - got, 0);

		assert_true(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	assert_true(strncmp(buf, "HTTP/1.1 404", 12) == 0);
	idle = connect_to(port);
	assert_true(idle >= 0);
	http_wake(h); /* harmless while running */

	t0 = now_s();
	http_stop(h);
	elapsed = now_s() - t0;
	if (elapsed > 0.5)
		fail_msg("http_stop took %.3f s", elapsed);

	/* both clients see their connection closed, and the port is gone */
	assert_true(recv(idle, buf, 1, 0) <= 0);
	assert_true(recv(keep, buf, 1, 0) <= 0);
	close(idle);
	close(keep);
	assert_true(connect_to(port) < 0);
	metrics_free(m);
}

/* The pure shape check and the type table, without a server. */
static void test_static_path_rules(void **state)
{
	static const char *const good[] = {
	    "/index.html",   "/js/app.js", "/css/a-b_c.css", "/img/logo@2x.png",
	    "/a/b/c/d.json", "/x.y.z.js",  "/~user.txt",
	};
	static const char *const bad[] = {
	    "",          "index.html",       "/",          "/js/",     "//x.js",
	    "/./x.js",   "/../x.js",         "/a/../x.js", "/a..b.js", "/.hidden",
	    "/a/.git/x", "/%2e%2e/x",        "/a%2fb",     "/a\\b.js", "/a b.js",
	    "/a\tb.js",  "/\xe4\xb8\xad.js", "/a:b.js",    "/a?b.js",  "/a#b.js",
	};
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(good); i++)
		if (!http_static_path_ok(good[i], strlen(good[i])))
			fail_msg("good path refused: %s", good[i]);
	for (i = 0; i < PW_ARRAY_LEN(bad); i++)
		if (http_static_path_ok(bad[i], strlen(bad[i])))
			fail_msg("bad path accepted: %s", bad[i]);
	/* a NUL inside the given length is refused, not read past */
	assert_false(http_static_path_ok("/index.html\0.png", 16));
	assert_false(http_static_path_ok(NULL, 0));

	assert_string_equal(http_static_content_type("/a.html"), "text/html; charset=utf-8");
	assert_string_equal(http_static_content_type("/a.JS"), "text/javascript; charset=utf-8");
	assert_string_equal(http_static_content_type("/a.mjs"), "text/javascript; charset=utf-8");
	assert_string_equal(http_static_content_type("/a.css"), "text/css; charset=utf-8");
	assert_string_equal(http_static_content_type("/a.svg"), "image/svg+xml");
	assert_string_equal(http_static_content_type("/a.png"), "image/png");
	assert_string_equal(http_static_content_type("/a.json"), "application/json");
	assert_string_equal(http_static_content_type("/a.woff2"), "font/woff2");
	assert_string_equal(http_static_content_type("/a.ico"), "image/x-icon");
	assert_null(http_static_content_type("/a.bak"));
	assert_null(http_static_content_type("/a.db"));
	assert_null(http_static_content_type("/Makefile"));
	assert_null(http_static_content_type("/js.d/file"));
	assert_null(http_static_content_type("/a."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_healthz_db_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_route, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_too_large, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_static_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_traversal_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
	    cmocka_unit_test(test_static_path_rules),
	    cmocka_unit_test(test_listen_forms),
	    cmocka_unit_test(test_stop_is_prompt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
