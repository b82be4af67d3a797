/*
 * ackbatch — Paho's PUBACKs written in batches; see ackbatch.h for why and
 * for the promises.
 *
 * State (one MQTT connection at a time), under `lock`:
 *   fd         the socket the held PUBACKs belong to (-1: none yet);
 *   buf        held PUBACK packets, written up to `off`;
 *   paho_owed  bytes of a packet Paho wrote only partly: nothing of ours
 *              may land before them.
 * `gated_fd` and `pending` mirror `fd` and "something held" for the
 * lock-free tests on every writev() and poll(). Our own writes and polls
 * go to the kernel directly, never through the wrappers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ackbatch.h"

#define PUBACK_BYTES 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int fd;
	unsigned char *buf;
	size_t len, off, cap;
	size_t paho_owed;
} g = {.fd = -1};
static atomic_int gated_fd = -1;
static atomic_int pending;
static _Thread_local int is_receiver;

static ssize_t sys_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return syscall(SYS_writev, fd, iov, iovcnt);
}

static int sys_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};

	return ppoll(fds, nfds, timeout_ms >= 0 ? &ts : NULL, NULL);
}

/* Exactly an MQTT 3.1.1 PUBACK as Paho writes it: fixed header 0x40 0x02,
 * then the two-byte packet id, as two iovecs. */
static int is_puback(const struct iovec *iov, int iovcnt)
{
	const unsigned char *h;

	if (iovcnt != 2 || iov[0].iov_len != 2 || iov[1].iov_len != 2)
		return 0;
	h = iov[0].iov_base;
	return h[0] == 0x40 && h[1] == 0x02;
}

static void forget_locked(int fd)
{
	g.fd = fd;
	g.len = g.off = 0;
	g.paho_owed = 0;
	atomic_store_explicit(&gated_fd, fd, memory_order_relaxed);
	atomic_store_explicit(&pending, 0, memory_order_relaxed);
}

/* Writes what is held, as far as the socket takes it. A broken connection
 * drops it: Paho notices, reconnects, the broker redelivers. */
static void write_held_locked(void)
{
	while (g.off < g.len) {
		ssize_t n = send(g.fd, g.buf + g.off, g.len - g.off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0)
			break;
		g.off += (size_t)n;
	}
	g.len = g.off = 0;
	atomic_store_explicit(&pending, 0, memory_order_relaxed);
}

static void flush_locked(void)
{
	if (g.fd >= 0 && !g.paho_owed)
		write_held_locked();
}

/* The receive thread writes a PUBACK: hold it. */
static ssize_t hold_puback(int fd, const struct iovec *iov, int iovcnt)
{
	pthread_mutex_lock(&lock);
	if (fd != g.fd)
		forget_locked(fd); /* the first PUBACK on this connection */
	if (g.len + PUBACK_BYTES > g.cap) {
		size_t cap = g.cap ? g.cap * 2 : ACKBATCH_MAX * PUBACK_BYTES * 2;
		unsigned char *nb = realloc(g.buf, cap);

		if (!nb) {
			/* cannot hold it: write it as Paho meant to, unless a
			 * PUBACK of ours is half out (then Paho retries) */
			ssize_t n = -1;

			if (g.off % PUBACK_BYTES == 0)
				n = sys_writev(fd, iov, iovcnt);
			else
				errno = EAGAIN;
			pthread_mutex_unlock(&lock);
			return n;
		}
		g.buf = nb;
		g.cap = cap;
	}
	memcpy(g.buf + g.len, iov[0].iov_base, 2);
	memcpy(g.buf + g.len + 2, iov[1].iov_base, 2);
	g.len += PUBACK_BYTES;
	atomic_store_explicit(&pending, 1, memory_order_relaxed);
	if (g.len - g.off >= ACKBATCH_MAX * PUBACK_BYTES)
		flush_locked();
	pthread_mutex_unlock(&lock);
	return PUBACK_BYTES;
}

/* Any other write to the socket: never inside a PUBACK of ours, and a
 * partial one of Paho's keeps our batch back until Paho has finished it. */
static ssize_t gated_writev(int fd, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	ssize_t n;
	int saved;

	pthread_mutex_lock(&lock);
	if (fd != g.fd) {
		pthread_mutex_unlock(&lock);
		return sys_writev(fd, iov, iovcnt);
	}
	if (g.off % PUBACK_BYTES) {
		write_held_locked();
		if (g.off % PUBACK_BYTES) {
			pthread_mutex_unlock(&lock);
			errno = EAGAIN; /* Paho retries once the socket is writable */
			return -1;
		}
	}
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	n = sys_writev(fd, iov, iovcnt);
	saved = errno;
	if (n >= 0) {
		if (g.paho_owed) /* the rest of a packet begun earlier */
			g.paho_owed = (size_t)n >= g.paho_owed ? 0 : g.paho_owed - (size_t)n;
		else if ((size_t)n < total)
			g.paho_owed = total - (size_t)n;
	}
	pthread_mutex_unlock(&lock);
	errno = saved;
	return n;
}

/* The process's writev(): Paho's shared library calls this one. */
ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (is_receiver && is_puback(iov, iovcnt))
		return hold_puback(fd, iov, iovcnt);
	if (fd >= 0 && fd == atomic_load_explicit(&gated_fd, memory_order_relaxed))
		return gated_writev(fd, iov, iovcnt);
	return sys_writev(fd, iov, iovcnt);
}

/* The process's poll(): before the receive thread waits, and only if there
 * is nothing to read right now, what it holds goes out. */
int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (is_receiver && timeout != 0 && atomic_load_explicit(&pending, memory_order_relaxed)) {
		int n = sys_poll(fds, nfds, 0);

		if (n != 0)
			return n;
		ackbatch_flush();
	}
	return sys_poll(fds, nfds, timeout);
}

void ackbatch_bind_receiver(void)
{
	is_receiver = 1;
	pthread_mutex_lock(&lock);
	forget_locked(-1);
	pthread_mutex_unlock(&lock);
}

void ackbatch_flush(void)
{
	if (!atomic_load_explicit(&pending, memory_order_relaxed))
		return;
	pthread_mutex_lock(&lock);
	flush_locked();
	pthread_mutex_unlock(&lock);
}

size_t ackbatch_pending(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = (g.len - g.off + PUBACK_BYTES - 1) / PUBACK_BYTES;
	pthread_mutex_unlock(&lock);
	return n;
}

void ackbatch_test_reset(void)
{
	pthread_mutex_lock(&lock);
	forget_locked(-1);
	free(g.buf);
	g.buf = NULL;
	g.cap = 0;
	pthread_mutex_unlock(&lock);
	is_receiver = 0;
}
