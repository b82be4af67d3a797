/*
 * test_pahoio — Paho's receive-thread I/O on a real socket pair. Reads:
 * served from one buffered read, poll says readable while bytes are left,
 * close drops them, EOF and other threads pass through. PUBACKs: held on
 * the bound thread only, written at PAHOIO_ACKS_MAX, on flush and when the
 * thread is about to wait with nothing to read; never inside a packet that
 * was written only partly; forgotten at a new connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "pahoio.h"

struct pair {
	int ours, peer; /* ours: the "MQTT socket"; peer: the "broker" */
};

static int setup(void **state)
{
	static struct pair p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK); /* as Paho's socket */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	p.ours = sv[0];
	p.peer = sv[1];
	pahoio_test_reset();
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	pahoio_test_reset();
	if (p->ours >= 0)
		close(p->ours);
	close(p->peer);
	return 0;
}

/* Writes a PUBACK for `id` the way Paho does: two iovecs. */
static ssize_t paho_puback(int fd, unsigned id)
{
	unsigned char head[2] = {0x40, 0x02},
	              body[2] = {(unsigned char)(id >> 8), (unsigned char)id};
	struct iovec iov[2] = {{head, 2}, {body, 2}};

	return writev(fd, iov, 2);
}

static ssize_t paho_write(int fd, const void *data, size_t len)
{
	struct iovec iov[1] = {{(void *)data, len}};

	return writev(fd, iov, 1);
}

/* What the peer can read right now. */
static size_t drain(int fd, unsigned char *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n <= 0)
			return got;
		got += (size_t)n;
		if (got == cap)
			return got;
	}
}

static void assert_pubacks(const unsigned char *buf, unsigned first, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		unsigned id = first + i;

		assert_int_equal(buf[4 * i], 0x40);
		assert_int_equal(buf[4 * i + 1], 0x02);
		assert_int_equal(buf[4 * i + 2], id >> 8);
		assert_int_equal(buf[4 * i + 3], id & 0xff);
	}
}

static void held_until_a_batch_is_full(void **state)
{
	struct pair *p = *state;
	unsigned char buf[4 * PAHOIO_ACKS_MAX + 16];

	pahoio_bind_receiver();
	for (unsigned id = 1; id < PAHOIO_ACKS_MAX; id++)
		assert_int_equal(paho_puback(p->ours, id), 4); /* Paho sees it written */
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 0);
	assert_int_equal(pahoio_pending(), PAHOIO_ACKS_MAX - 1);
	assert_int_equal(paho_puback(p->ours, PAHOIO_ACKS_MAX), 4);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4 * PAHOIO_ACKS_MAX);
	assert_pubacks(buf, 1, PAHOIO_ACKS_MAX);
	assert_int_equal(pahoio_pending(), 0);
}

static void flush_writes_what_is_held(void **state)
{
	struct pair *p = *state;
	unsigned char buf[64];

	pahoio_bind_receiver();
	paho_puback(p->ours, 300);
	paho_puback(p->ours, 301);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 0);
	pahoio_flush();
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 8);
	assert_pubacks(buf, 300, 2);
}

static void other_writes_and_other_threads_pass_through(void **state)
{
	struct pair *p = *state;
	unsigned char buf[64];
	const char publish[] = "\x30\x05\x00\x01tx";

	/* not bound: a PUBACK from this thread goes straight out */
	assert_int_equal(paho_puback(p->ours, 7), 4);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4);
	assert_pubacks(buf, 7, 1);
	/* bound: anything but a PUBACK goes straight out, ahead of held ones */
	pahoio_bind_receiver();
	paho_puback(p->ours, 8);
	assert_int_equal(paho_write(p->ours, publish, 7), 7);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, publish, 7);
	pahoio_flush();
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4);
	assert_pubacks(buf, 8, 1);
}

static void *puback_from_other_thread(void *arg)
{
	struct pair *p = arg;

	return (void *)(intptr_t)paho_puback(p->ours, 9);
}

static void only_the_bound_thread_is_batched(void **state)
{
	struct pair *p = *state;
	unsigned char buf[64];
	pthread_t t;
	void *ret;

	pahoio_bind_receiver();
	assert_int_equal(pthread_create(&t, NULL, puback_from_other_thread, p), 0);
	pthread_join(t, &ret);
	assert_int_equal((intptr_t)ret, 4);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4);
	assert_pubacks(buf, 9, 1);
}

static void waiting_with_nothing_to_read_writes_them(void **state)
{
	struct pair *p = *state;
	unsigned char buf[64];
	struct pollfd pfd = {.fd = p->ours, .events = POLLIN};

	pahoio_bind_receiver();
	paho_puback(p->ours, 20);
	/* something to read: poll returns at once, the PUBACK stays held */
	assert_int_equal(write(p->peer, "x", 1), 1);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 0);
	assert_int_equal(read(p->ours, buf, 1), 1);
	/* nothing to read: before it waits, the PUBACK goes out */
	assert_int_equal(poll(&pfd, 1, 10), 0);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4);
	assert_pubacks(buf, 20, 1);
	/* a zero timeout is not a wait */
	paho_puback(p->ours, 21);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 0);
	pahoio_flush();
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4);
}

/* Paho writes a packet only partly (socket full); the batch must wait until
 * Paho has written the rest, so the peer reads the packet whole, then the
 * PUBACKs. */
static void never_inside_a_partly_written_packet(void **state)
{
	struct pair *p = *state;
	static unsigned char big[1 << 20], got[(1 << 20) + 64];
	size_t sent, total = 0;
	ssize_t n;
	int small = 4096;
	struct pollfd wpfd = {.fd = p->ours, .events = POLLOUT};

	setsockopt(p->ours, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + 1);
	big[0] = 0x30; /* any packet but a PUBACK */
	pahoio_bind_receiver();
	paho_puback(p->ours, 40); /* binds the batch to this socket */
	pahoio_flush();
	assert_int_equal(drain(p->peer, got, 4), 4);

	n = paho_write(p->ours, big, sizeof(big));
	assert_true(n > 0 && (size_t)n < sizeof(big)); /* partial: the socket is full */
	sent = (size_t)n;
	/* full: poll must not claim otherwise (the kernel is asked) */
	wpfd.revents = 0;
	assert_int_equal(poll(&wpfd, 1, 0), 0);
	paho_puback(p->ours, 41);
	paho_puback(p->ours, 42);
	while (sent < sizeof(big)) {
		size_t got_now = drain(p->peer, got + total, sizeof(got) - total);

		total += got_now;
		pahoio_flush(); /* must not write: Paho owes the rest */
		n = paho_write(p->ours, big + sent, sizeof(big) - sent);
		if (n > 0)
			sent += (size_t)n;
	}
	pahoio_flush();
	for (int tries = 0; tries < 1000 && total < sizeof(big) + 8; tries++)
		total += drain(p->peer, got + total, sizeof(got) - total);
	assert_int_equal(total, sizeof(big) + 8);
	assert_int_equal(poll(&wpfd, 1, 0), 1); /* all went in: writable again */
	assert_int_equal(wpfd.revents, POLLOUT);
	assert_memory_equal(got, big, sizeof(big));
	assert_pubacks(got + sizeof(big), 41, 2);
}

static void a_new_connection_forgets_what_is_held(void **state)
{
	struct pair *p = *state;
	unsigned char buf[64];

	pahoio_bind_receiver();
	paho_puback(p->ours, 50);
	pahoio_bind_receiver(); /* Paho connected again */
	assert_int_equal(pahoio_pending(), 0);
	pahoio_flush();
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 0);
}

static void reads_are_served_from_one_buffered_read(void **state)
{
	struct pair *p = *state;
	char buf[16];
	struct pollfd pfd = {.fd = p->ours, .events = POLLIN};

	pahoio_bind_receiver();
	assert_int_equal(write(p->peer, "ABCDEFGH", 8), 8);
	assert_int_equal(recv(p->ours, buf, 1, 0), 1); /* Paho's header byte */
	assert_int_equal(buf[0], 'A');
	assert_int_equal(pahoio_buffered(), 7); /* the rest came with it */
	/* the kernel has nothing left, but poll must say readable at once */
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(pfd.revents, POLLIN);
	assert_int_equal(recv(p->ours, buf, 16, 0), 7); /* a short read, as TCP may give */
	assert_memory_equal(buf, "BCDEFGH", 7);
	assert_int_equal(pahoio_buffered(), 0);
	/* empty: the kernel's answer, as is */
	assert_int_equal(recv(p->ours, buf, 1, 0), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	/* the peer goes away: EOF reaches Paho */
	close(p->peer);
	p->peer = open("/dev/null", O_RDONLY);
	assert_int_equal(recv(p->ours, buf, 1, 0), 0);
}

static void *recv_from_other_thread(void *arg)
{
	struct pair *p = arg;
	char c;

	return (void *)(intptr_t)recv(p->ours, &c, 1, 0);
}

static void other_threads_and_flags_read_the_socket_directly(void **state)
{
	struct pair *p = *state;
	pthread_t t;
	void *ret;
	char buf[4];

	assert_int_equal(write(p->peer, "ab", 2), 2);
	pahoio_bind_receiver();
	assert_int_equal(pthread_create(&t, NULL, recv_from_other_thread, p), 0);
	pthread_join(t, &ret);
	assert_int_equal((intptr_t)ret, 1);
	assert_int_equal(pahoio_buffered(), 0);
	assert_int_equal(recv(p->ours, buf, 4, MSG_PEEK), 1); /* flags: straight through */
	assert_int_equal(buf[0], 'b');
	assert_int_equal(pahoio_buffered(), 0);
}

static void close_drops_what_is_buffered(void **state)
{
	struct pair *p = *state;
	char c;

	pahoio_bind_receiver();
	assert_int_equal(write(p->peer, "XYZ", 3), 3);
	assert_int_equal(recv(p->ours, &c, 1, 0), 1);
	assert_int_equal(pahoio_buffered(), 2);
	assert_int_equal(close(p->ours), 0);
	p->ours = -1;
	assert_int_equal(pahoio_buffered(), 0);
}

/* before_acks runs before any held PUBACK is written (the journal's
 * deferred records must be on disk first); a PUBACK held while it runs
 * waits for the next flush. */
struct hook_probe {
	struct pair *p;
	int calls;
	size_t peer_had; /* bytes the peer could read when the hook ran */
	int hold_one;    /* the hook holds a PUBACK of its own, as a racing
	                  * callback's would be */
};

static void probe_hook(void *ctx)
{
	struct hook_probe *h = ctx;
	unsigned char buf[256];
	ssize_t n = recv(h->p->peer, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);

	h->calls++;
	h->peer_had = n > 0 ? (size_t)n : 0;
	if (h->hold_one) {
		h->hold_one = 0;
		paho_puback(h->p->ours, 99);
	}
}

static void before_acks_runs_first(void **state)
{
	struct pair *p = *state;
	struct hook_probe h = {.p = p};
	unsigned char buf[4 * PAHOIO_ACKS_MAX + 16];

	pahoio_set_before_acks(probe_hook, &h);
	pahoio_bind_receiver();
	paho_puback(p->ours, 60);
	paho_puback(p->ours, 61);
	assert_int_equal(h.calls, 0); /* holding calls nothing */
	h.hold_one = 1;
	pahoio_flush();
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.peer_had, 0);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 8); /* 60 and 61, not 99 */
	assert_pubacks(buf, 60, 2);
	assert_int_equal(pahoio_pending(), 1);
	pahoio_flush();
	assert_int_equal(h.calls, 2);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4);
	assert_pubacks(buf, 99, 1);
	pahoio_flush(); /* nothing held: no call */
	assert_int_equal(h.calls, 2);
	/* while the hook is set, even another thread's PUBACK on another
	 * socket is held (none may leave before its message is on file) */
	{
		int sv[2];
		pthread_t t;
		void *ret;
		struct pair other;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		other.ours = sv[0];
		other.peer = sv[1];
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		assert_int_equal(pthread_create(&t, NULL, puback_from_other_thread, &other), 0);
		pthread_join(t, &ret);
		assert_int_equal((intptr_t)ret, 4);
		assert_int_equal(drain(other.peer, buf, sizeof(buf)), 0);
		pahoio_flush();
		assert_int_equal(h.calls, 3);
		assert_int_equal(drain(other.peer, buf, sizeof(buf)), 4);
		assert_pubacks(buf, 9, 1);
		close(sv[0]);
		close(sv[1]);
	}
	/* a full batch on the receive thread: the hook first, too */
	for (unsigned id = 1; id <= PAHOIO_ACKS_MAX; id++)
		paho_puback(p->ours, id);
	assert_int_equal(h.calls, 4);
	assert_int_equal(h.peer_had, 0);
	assert_int_equal(drain(p->peer, buf, sizeof(buf)), 4 * PAHOIO_ACKS_MAX);
	assert_pubacks(buf, 1, PAHOIO_ACKS_MAX);
	pahoio_set_before_acks(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(reads_are_served_from_one_buffered_read, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(other_threads_and_flags_read_the_socket_directly, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(close_drops_what_is_buffered, setup, teardown),
	    cmocka_unit_test_setup_teardown(held_until_a_batch_is_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(flush_writes_what_is_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(other_writes_and_other_threads_pass_through, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(only_the_bound_thread_is_batched, setup, teardown),
	    cmocka_unit_test_setup_teardown(waiting_with_nothing_to_read_writes_them, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(never_inside_a_partly_written_packet, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_new_connection_forgets_what_is_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(before_acks_runs_first, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
