/*
 * pahoio — Paho's receive-thread socket I/O: reads buffered, PUBACKs
 * batched; see pahoio.h for why and for the promises.
 *
 * Read state (`rx`, under rx_lock; the receive thread reads and refills,
 * close() on any thread drops it): the socket the bytes came from and the
 * unread bytes buf[start..end).
 * Write state (`g`, under `lock`; one MQTT connection at a time):
 *   fd         the socket the held PUBACKs belong to (-1: none yet);
 *   buf        held PUBACK packets, written up to `off`;
 *   base       stream position of buf[0] (bytes held before it, written);
 *   conn       bumped for every new connection;
 *   paho_owed  bytes of a packet Paho wrote only partly: nothing of ours
 *              may land before them.
 * A flush notes the stream position held so far, calls before_acks (the
 * journal's deferred records are written) with no lock held, then writes
 * only up to that position: a PUBACK held meanwhile waits for the next.
 * `rx_fd`, `gated_fd` and `pending` mirror them for the lock-free tests on
 * every call. Our own reads, writes and polls go to the kernel (or the
 * sanitizer's interceptor), never back through the wrappers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "pahoio.h"

#define PUBACK_BYTES 4

/* Present only in a sanitizer build: then our wrappers call them, so the
 * tools still see the calls they intercept. */
extern ssize_t __interceptor_recv(int, void *, size_t, int) __attribute__((weak));
extern ssize_t __interceptor_writev(int, const struct iovec *, int) __attribute__((weak));
extern int __interceptor_poll(struct pollfd *, nfds_t, int) __attribute__((weak));
extern int __interceptor_close(int) __attribute__((weak));

static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int fd;
	unsigned char *buf;
	size_t start, end;
} rx = {.fd = -1};
static atomic_int rx_fd = -1;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int fd;
	unsigned char *buf;
	size_t len, off, cap;
	uint64_t base;      /* stream position of buf[0]: bytes held before it */
	unsigned long conn; /* bumped for every new connection */
	size_t paho_owed;
} g = {.fd = -1};
static void (*before_acks)(void *ctx);
static void *before_acks_ctx;
static atomic_int deferring; /* before_acks is set: no PUBACK may pass unheld */
static atomic_int gated_fd = -1;
static atomic_int pending;
static atomic_int socket_full; /* the last write to fd did not all go in */
static _Thread_local int is_receiver;

static ssize_t sys_recv(int fd, void *buf, size_t len, int flags)
{
	if (__interceptor_recv)
		return __interceptor_recv(fd, buf, len, flags);
	return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

static ssize_t sys_writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (__interceptor_writev)
		return __interceptor_writev(fd, iov, iovcnt);
	return syscall(SYS_writev, fd, iov, iovcnt);
}

static int sys_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};

	if (__interceptor_poll)
		return __interceptor_poll(fds, nfds, timeout_ms);
	return ppoll(fds, nfds, timeout_ms >= 0 ? &ts : NULL, NULL);
}

static int sys_close(int fd)
{
	if (__interceptor_close)
		return __interceptor_close(fd);
	return syscall(SYS_close, fd);
}

/* ---- reads ---- */

static void rx_drop_locked(void)
{
	rx.fd = -1;
	rx.start = rx.end = 0;
	atomic_store_explicit(&rx_fd, -1, memory_order_relaxed);
}

/* The receive thread reads `len` bytes of Paho's: from the buffer, which
 * one read of up to PAHOIO_READ_BUFFER refills when empty. */
static ssize_t buffered_recv(int fd, void *out, size_t len)
{
	size_t got;

	pthread_mutex_lock(&rx_lock);
	if (fd != rx.fd) {
		if (rx.start < rx.end || (!rx.buf && !(rx.buf = malloc(PAHOIO_READ_BUFFER)))) {
			/* another socket's bytes are waiting (or no memory): as is */
			pthread_mutex_unlock(&rx_lock);
			return sys_recv(fd, out, len, 0);
		}
		rx.fd = fd;
		atomic_store_explicit(&rx_fd, fd, memory_order_relaxed);
	}
	if (rx.start == rx.end) {
		ssize_t n;
		int saved;

		if (len >= PAHOIO_READ_BUFFER) { /* a long packet: straight in */
			pthread_mutex_unlock(&rx_lock);
			return sys_recv(fd, out, len, 0);
		}
		n = sys_recv(fd, rx.buf, PAHOIO_READ_BUFFER, 0);
		if (n <= 0) { /* EOF, EAGAIN or an error: Paho sees it as is */
			saved = errno;
			pthread_mutex_unlock(&rx_lock);
			errno = saved;
			return n;
		}
		rx.start = 0;
		rx.end = (size_t)n;
	}
	got = rx.end - rx.start < len ? rx.end - rx.start : len;
	memcpy(out, rx.buf + rx.start, got);
	rx.start += got;
	pthread_mutex_unlock(&rx_lock);
	return (ssize_t)got;
}

/* The process's recv(): Paho's shared library calls this one. */
ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (!is_receiver || flags != 0 || len == 0)
		return sys_recv(fd, buf, len, flags);
	return buffered_recv(fd, buf, len);
}

/* Poll on the receive thread: a socket with buffered bytes is readable
 * now. Returns how many entries say so (0: ask the kernel). */
static int buffered_ready(struct pollfd *fds, nfds_t nfds)
{
	int ready = 0;

	if (atomic_load_explicit(&rx_fd, memory_order_relaxed) < 0)
		return 0;
	pthread_mutex_lock(&rx_lock);
	if (rx.start < rx.end)
		for (nfds_t i = 0; i < nfds; i++)
			if (fds[i].fd == rx.fd && (fds[i].events & POLLIN))
				ready = 1;
	if (ready)
		for (nfds_t i = 0; i < nfds; i++)
			fds[i].revents = fds[i].fd == rx.fd ? POLLIN : 0;
	pthread_mutex_unlock(&rx_lock);
	return ready;
}

/* ---- writes ---- */

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
	g.base = 0;
	g.conn++;
	g.paho_owed = 0;
	atomic_store_explicit(&socket_full, 0, memory_order_relaxed);
	atomic_store_explicit(&gated_fd, fd, memory_order_relaxed);
	atomic_store_explicit(&pending, 0, memory_order_relaxed);
}

/* Part of a PUBACK of ours is out and the rest is not: the stream is in
 * the middle of our packet. */
static int mid_puback_locked(void)
{
	return (g.base + g.off) % PUBACK_BYTES != 0;
}

/* Writes the held bytes up to stream position `upto`, as far as the socket
 * takes them. A broken connection drops what is held: Paho notices,
 * reconnects, the broker redelivers. */
static void write_held_locked(uint64_t upto)
{
	size_t end;

	if (upto <= g.base + g.off)
		return; /* written already */
	end = upto - g.base < g.len ? (size_t)(upto - g.base) : g.len;

	while (g.off < end) {
		ssize_t n = send(g.fd, g.buf + g.off, end - g.off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			atomic_store_explicit(&socket_full, 1, memory_order_relaxed);
			return;
		}
		if (n < 0) {
			g.off = g.len;
			break;
		}
		g.off += (size_t)n;
	}
	atomic_store_explicit(&socket_full, 0, memory_order_relaxed);
	if (g.off == g.len) {
		g.base += g.len;
		g.len = g.off = 0;
		atomic_store_explicit(&pending, 0, memory_order_relaxed);
	}
}

/* Writes the PUBACKs held now, once before_acks has made their messages
 * durable (every PUBACK held now was held after its callback returned, so
 * after its message's record was appended). Called with neither `lock` nor
 * the core lock held: before_acks takes the core lock. */
static void flush_held(void)
{
	uint64_t upto;
	unsigned long conn;
	void (*fn)(void *ctx);
	void *ctx;

	pthread_mutex_lock(&lock);
	if (g.fd < 0 || g.off == g.len) {
		pthread_mutex_unlock(&lock);
		return;
	}
	upto = g.base + g.len;
	conn = g.conn;
	fn = before_acks;
	ctx = before_acks_ctx;
	pthread_mutex_unlock(&lock);
	if (fn)
		fn(ctx);
	pthread_mutex_lock(&lock);
	if (g.conn == conn && !g.paho_owed && g.base + g.off < upto)
		write_held_locked(upto);
	pthread_mutex_unlock(&lock);
}

/* A PUBACK on its way out: hold it. 1 if a batch is full now (the caller
 * flushes, outside the lock); -1 with errno EAGAIN if it cannot be held
 * (Paho keeps it and writes it again later). */
static int hold_puback_locked(int fd, const struct iovec *iov)
{
	if (fd != g.fd)
		forget_locked(fd); /* the first PUBACK on this connection */
	if (g.len + PUBACK_BYTES > g.cap && g.off > 0 && !mid_puback_locked()) {
		/* what is written goes: the rest moves to the front */
		memmove(g.buf, g.buf + g.off, g.len - g.off);
		g.base += g.off;
		g.len -= g.off;
		g.off = 0;
	}
	if (g.len + PUBACK_BYTES > g.cap) {
		size_t cap = g.cap ? g.cap * 2 : PAHOIO_ACKS_MAX * PUBACK_BYTES * 2;
		unsigned char *nb = realloc(g.buf, cap);

		if (!nb) {
			errno = EAGAIN;
			return -1;
		}
		g.buf = nb;
		g.cap = cap;
	}
	memcpy(g.buf + g.len, iov[0].iov_base, 2);
	memcpy(g.buf + g.len + 2, iov[1].iov_base, 2);
	g.len += PUBACK_BYTES;
	atomic_store_explicit(&pending, 1, memory_order_relaxed);
	return g.len - g.off >= PAHOIO_ACKS_MAX * PUBACK_BYTES;
}

static ssize_t hold_puback(int fd, const struct iovec *iov)
{
	int full;

	pthread_mutex_lock(&lock);
	full = hold_puback_locked(fd, iov);
	pthread_mutex_unlock(&lock);
	if (full < 0)
		return -1;
	/* a full batch goes now, but only from the receive thread: before_acks
	 * takes the core lock, and another of Paho's threads may hold a lock
	 * of Paho's that the core lock's holder (the callback) waits for */
	if (full && is_receiver)
		flush_held();
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
	if (mid_puback_locked()) {
		write_held_locked(g.base + g.off + PUBACK_BYTES - (g.base + g.off) % PUBACK_BYTES);
		if (mid_puback_locked()) {
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
	atomic_store_explicit(&socket_full,
	                      n < 0 ? saved == EAGAIN || saved == EWOULDBLOCK : (size_t)n < total,
	                      memory_order_relaxed);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return n;
}

/* The process's writev(): Paho's shared library calls this one. */
ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	int gated = fd >= 0 && fd == atomic_load_explicit(&gated_fd, memory_order_relaxed);

	/* the receive thread's PUBACKs, and any other thread's on the same
	 * socket (Paho may queue one and write it later), and while the
	 * journal defers any PUBACK at all: all wait for before_acks */
	if ((is_receiver || gated || atomic_load_explicit(&deferring, memory_order_relaxed)) &&
	    is_puback(iov, iovcnt))
		return hold_puback(fd, iov);
	if (gated)
		return gated_writev(fd, iov, iovcnt);
	return sys_writev(fd, iov, iovcnt);
}

/* Paho's receive thread asks on every cycle, without waiting, whether the
 * socket is writable. Unless the last write to it did not all go in, it
 * is: answered without a system call. (Were it wrong, Paho's write would
 * see EAGAIN and wait for the kernel's answer, as for any full socket.) */
static int writable_now(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (timeout != 0 || nfds != 1 || fds[0].events != POLLOUT || fds[0].fd < 0 ||
	    fds[0].fd != atomic_load_explicit(&gated_fd, memory_order_relaxed) ||
	    atomic_load_explicit(&socket_full, memory_order_relaxed))
		return 0;
	fds[0].revents = POLLOUT;
	return 1;
}

/* The process's poll(): on the receive thread, buffered bytes are ready
 * at once, the batched socket is writable unless it was full, and before
 * the thread waits, if there is nothing to read, the PUBACKs it holds go
 * out. */
int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (is_receiver) {
		int n = buffered_ready(fds, nfds);

		if (n || (n = writable_now(fds, nfds, timeout)))
			return n;
		if (timeout != 0 && atomic_load_explicit(&pending, memory_order_relaxed)) {
			n = sys_poll(fds, nfds, 0);
			if (n != 0)
				return n;
			pahoio_flush();
		}
	}
	return sys_poll(fds, nfds, timeout);
}

/* The process's close(): the buffered or batched socket's state goes with
 * it (its number may come back for the next connection). */
int close(int fd)
{
	if (fd >= 0 && fd == atomic_load_explicit(&rx_fd, memory_order_relaxed)) {
		pthread_mutex_lock(&rx_lock);
		if (fd == rx.fd)
			rx_drop_locked();
		pthread_mutex_unlock(&rx_lock);
	}
	if (fd >= 0 && fd == atomic_load_explicit(&gated_fd, memory_order_relaxed)) {
		pthread_mutex_lock(&lock);
		if (fd == g.fd)
			forget_locked(-1);
		pthread_mutex_unlock(&lock);
	}
	return sys_close(fd);
}

void pahoio_bind_receiver(void)
{
	is_receiver = 1;
	pthread_mutex_lock(&lock);
	forget_locked(-1);
	pthread_mutex_unlock(&lock);
}

void pahoio_flush(void)
{
	if (atomic_load_explicit(&pending, memory_order_relaxed))
		flush_held();
}

void pahoio_set_before_acks(void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&lock);
	before_acks = fn;
	before_acks_ctx = ctx;
	atomic_store(&deferring, fn != NULL);
	pthread_mutex_unlock(&lock);
}

size_t pahoio_buffered(void)
{
	size_t n;

	pthread_mutex_lock(&rx_lock);
	n = rx.end - rx.start;
	pthread_mutex_unlock(&rx_lock);
	return n;
}

size_t pahoio_pending(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = (g.len - g.off + PUBACK_BYTES - 1) / PUBACK_BYTES;
	pthread_mutex_unlock(&lock);
	return n;
}

void pahoio_test_reset(void)
{
	pthread_mutex_lock(&rx_lock);
	rx_drop_locked();
	free(rx.buf);
	rx.buf = NULL;
	pthread_mutex_unlock(&rx_lock);
	pthread_mutex_lock(&lock);
	forget_locked(-1);
	free(g.buf);
	g.buf = NULL;
	g.cap = 0;
	pthread_mutex_unlock(&lock);
	is_receiver = 0;
}
