/*
 * journal — append-only commit log of applied MQTT messages; see journal.h.
 *
 * One record is written with one pwritev() of its header, topic, payload and
 * checksum (deferred: the records held, with one write), so a process killed
 * at any instant leaves either whole records or a torn tail, which replay
 * detects and cuts off. Thread: the core thread (or whoever holds the core
 * lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "pw.h"

#define MAGIC        0x314a5750u /* "PWJ1" little-endian */
#define HEADER_BYTES 12
/* Only accepted messages (<= 16 KiB) are journaled: a longer record is corrupt. */
#define RECORD_MAX (PW_PAYLOAD_MAX * 64 + 4096)

struct journal {
	int fd;
	char *path;
	long records;
	off_t size;          /* what the file holds */
	int deferred;        /* appends go to `held` until journal_write_deferred */
	unsigned char *held; /* whole records, in order, not yet written */
	size_t held_len, held_cap;
};

/* A checksum to tell a whole record from a torn or garbled one: 64-bit
 * multiply-xor over 8-byte words (about 20x cheaper than a bytewise CRC-32
 * on this path), folded to 32 bits. Not a defence against tampering. */
uint32_t journal_checksum(uint32_t seed, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0x9E3779B97F4A7C15ull ^ seed ^ ((uint64_t)len << 32);

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001B3ull;
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;

		memcpy(&w, p, len);
		h = (h ^ w ^ 0xFF) * 0x100000001B3ull;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	return (uint32_t)h;
}

static void put_u32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

struct journal *journal_open(const char *path)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct stat st;

	if (!j)
		return NULL;
	j->path = strdup(path);
	if (!j->path)
		goto out_free;
	j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		log_error("journal", "cannot open %s: %s", path, strerror(errno));
		goto out_free;
	}
	if (fstat(j->fd, &st) == 0)
		j->size = st.st_size;
	return j;

out_free:
	free(j->path);
	free(j);
	return NULL;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	journal_write_deferred(j);
	free(j->held);
	close(j->fd);
	free(j->path);
	free(j);
}

/* Writes iov (whole records) at the file's end with one pwritev. */
static int write_records(struct journal *j, const struct iovec *iov, int iovcnt, size_t total)
{
	ssize_t n = pwritev(j->fd, iov, iovcnt, j->size);

	if (n != (ssize_t)total) {
		log_error("journal", "cannot append to %s: %s", j->path,
		          n < 0 ? strerror(errno) : "short write");
		/* leave the file as it was; a torn tail would be cut at replay anyway */
		if (ftruncate(j->fd, j->size) != 0)
			log_error("journal", "cannot cut %s back: %s", j->path, strerror(errno));
		return PW_EIO;
	}
	j->size += (off_t)total;
	return PW_OK;
}

/* Copies a record into `held`; PW_ENOMEM if it cannot grow. */
static int hold_record(struct journal *j, const struct iovec *iov, size_t total)
{
	if (j->held_len + total > j->held_cap) {
		size_t cap = j->held_cap ? j->held_cap : 64 * 1024;
		unsigned char *nb;

		while (cap < j->held_len + total)
			cap *= 2;
		if (!(nb = realloc(j->held, cap)))
			return PW_ENOMEM;
		j->held = nb;
		j->held_cap = cap;
	}
	for (int i = 0; i < 4; i++) {
		memcpy(j->held + j->held_len, iov[i].iov_base, iov[i].iov_len);
		j->held_len += iov[i].iov_len;
	}
	return PW_OK;
}

int journal_append(struct journal *j, const char *topic, size_t topic_len, const void *payload,
                   size_t payload_len)
{
	unsigned char head[HEADER_BYTES], tail[4];
	uint32_t crc;
	struct iovec iov[4];
	size_t total = HEADER_BYTES + topic_len + payload_len + 4;

	if (topic_len > UINT32_MAX || payload_len > UINT32_MAX)
		return PW_EINVAL;
	put_u32(head, MAGIC);
	put_u32(head + 4, (uint32_t)topic_len);
	put_u32(head + 8, (uint32_t)payload_len);
	crc = journal_checksum(0, head, HEADER_BYTES);
	crc = journal_checksum(crc, topic, topic_len);
	crc = journal_checksum(crc, payload, payload_len);
	put_u32(tail, crc);
	iov[0] = (struct iovec){head, HEADER_BYTES};
	iov[1] = (struct iovec){(void *)topic, topic_len};
	iov[2] = (struct iovec){(void *)payload, payload_len};
	iov[3] = (struct iovec){tail, 4};
	if (j->deferred && hold_record(j, iov, total) == PW_OK) {
		j->records++;
		return PW_OK;
	}
	/* written now: after what is held (no memory to hold it: the same) */
	if (journal_write_deferred(j) != PW_OK || write_records(j, iov, 4, total) != PW_OK)
		return PW_EIO;
	j->records++;
	return PW_OK;
}

void journal_set_deferred(struct journal *j, int on)
{
	if (!on)
		journal_write_deferred(j);
	j->deferred = on;
}

int journal_write_deferred(struct journal *j)
{
	struct iovec iov = {j->held, j->held_len};

	if (!j->held_len)
		return PW_OK;
	if (write_records(j, &iov, 1, j->held_len) != PW_OK)
		return PW_EIO;
	j->held_len = 0;
	return PW_OK;
}

int journal_replay(struct journal *j,
                   int (*fn)(void *ctx, const char *topic, size_t topic_len, const void *payload,
                             size_t payload_len),
                   void *ctx, long *count)
{
	unsigned char head[HEADER_BYTES], tail[4];
	char *buf = NULL;
	size_t cap = 0;
	off_t pos = 0;
	int rc = PW_OK;

	*count = 0;
	if (journal_write_deferred(j) != PW_OK)
		return PW_EIO;
	while (pos + HEADER_BYTES <= j->size) {
		uint32_t tlen, plen;
		size_t body;

		if (pread(j->fd, head, HEADER_BYTES, pos) != HEADER_BYTES || get_u32(head) != MAGIC)
			break;
		tlen = get_u32(head + 4);
		plen = get_u32(head + 8);
		body = (size_t)tlen + plen;
		if (body > RECORD_MAX || pos + HEADER_BYTES + (off_t)body + 4 > j->size)
			break;
		if (body > cap) {
			char *nb = realloc(buf, body ? body : 1);

			if (!nb) {
				rc = PW_ENOMEM;
				goto out;
			}
			buf = nb;
			cap = body;
		}
		if (pread(j->fd, buf, body, pos + HEADER_BYTES) != (ssize_t)body ||
		    pread(j->fd, tail, 4, pos + HEADER_BYTES + (off_t)body) != 4)
			break;
		if (get_u32(tail) !=
		    journal_checksum(
		        journal_checksum(journal_checksum(0, head, HEADER_BYTES), buf, tlen),
		        buf + tlen, plen))
			break;
		if (fn(ctx, buf, tlen, buf + tlen, plen) != 0) {
			rc = PW_EIO;
			goto out;
		}
		(*count)++;
		pos += HEADER_BYTES + (off_t)body + 4;
	}
	if (pos < j->size) {
		log_warn("journal",
		         "%s: cutting a torn or corrupt tail of %lld bytes at offset %lld", j->path,
		         (long long)(j->size - pos), (long long)pos);
		if (ftruncate(j->fd, pos) != 0) {
			rc = PW_EIO;
			goto out;
		}
		j->size = pos;
	}
	j->records = *count;
out:
	free(buf);
	return rc;
}

int journal_reset(struct journal *j)
{
	j->held_len = 0; /* committed to SQLite: nothing to write */
	if (ftruncate(j->fd, 0) != 0) {
		log_error("journal", "cannot empty %s: %s", j->path, strerror(errno));
		return PW_EIO;
	}
	j->size = 0;
	j->records = 0;
	return PW_OK;
}

long journal_records(const struct journal *j)
{
	return j->records;
}
