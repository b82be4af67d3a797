/*
 * pahoio — the socket I/O of Paho's receive thread, made cheaper from
 * outside: reads buffered, PUBACKs written in batches.
 *
 * Why: Paho's MQTTAsync (1.3.12) reads each incoming packet with separate
 * recv() calls (the fixed header byte, each remaining-length byte, then the
 * rest) and acknowledges each QoS 1 PUBLISH with its own four-byte writev(),
 * right after the messageArrived callback returned. At tens of thousands of
 * messages a second those system calls are a large share of the gateway's
 * CPU, and of the broker's (one read per PUBACK). Paho has no option for
 * either, so the gateway defines recv(), writev(), poll() and close();
 * Paho's shared library resolves to them (an executable's definitions come
 * first in the dynamic symbol lookup). Any thread but Paho's receive thread
 * (bound at every connect), and any other call, passes straight through.
 *
 * Reads: on the receive thread, recv() with no flags is served from a
 * 64 KiB buffer, refilled with one non-blocking read when empty; poll()
 * reports POLLIN at once for the buffered socket while bytes are left.
 * The buffer belongs to one socket: close() of it drops what is left (the
 * next connection may get the same descriptor number). Paho also asks on
 * every cycle, without waiting, whether the socket is writable: that is
 * answered without a system call unless the last write to it did not all
 * go in (were the answer wrong, Paho's write would see EAGAIN and wait for
 * the kernel's answer, as for any full socket).
 *
 * Writes: a writev() that is exactly a PUBACK (two iovecs: 0x40 0x02, then
 * the packet id) is appended to a buffer and reported written; Paho writes
 * it after the gateway's callback returned. Before held PUBACKs are
 * written, the before_acks hook runs: the gateway writes the journal
 * records it held back (journal.h), so a message is durable before the
 * broker forgets it, with one journal write per batch. Held PUBACKs are
 * written in one write:
 *   - when PAHOIO_ACKS_MAX are held;
 *   - when the receive thread is about to wait for the socket and there is
 *     nothing to read (poll() with a timeout first looks without one), so a
 *     slow stream is acknowledged at once and the broker's in-flight window,
 *     however small, never waits on a batch;
 *   - at every pahoio_flush() (the main loop's tick, and before a
 *     disconnect).
 * The stream stays whole: other writes to the socket (PUBLISH, PINGREQ from
 * Paho's send thread) take the same lock; a batch is never written while
 * Paho has written only part of a packet, and while a PUBACK of the batch
 * is only partly out Paho's writes see EAGAIN (Paho handles that as for
 * any full socket: it retries once the socket is writable). A new
 * connection forgets PUBACKs not yet written: the broker redelivers those
 * messages and they are duplicates by (vin, seq), skipped.
 *
 * Over TLS Paho reads and writes through OpenSSL: nothing of this applies.
 * Under ASan/TSan the wrappers call the sanitizer's interceptors, so the
 * tools still see every call.
 */
#ifndef PW_PAHOIO_H
#define PW_PAHOIO_H

#include <stddef.h>

#define PAHOIO_ACKS_MAX    32          /* PUBACKs held before they are written regardless */
#define PAHOIO_READ_BUFFER (64 * 1024) /* bytes read from the socket at once */

/* Marks the calling thread as Paho's receive thread (whose reads are
 * buffered and PUBACK writes batched) and forgets PUBACKs an earlier
 * connection left unwritten. Call from a Paho callback on that thread. */
void pahoio_bind_receiver(void);

/* Writes the held PUBACKs now, unless Paho is in the middle of a packet.
 * Any thread. */
void pahoio_flush(void);

/* Called (with no lock of pahoio's held) before held PUBACKs are written:
 * it must make durable every message whose callback has returned — the
 * gateway writes the journal's deferred records (journal.h). Any thread
 * that flushes calls it: the receive thread, the main tick, a stop. NULL:
 * nothing to do. */
void pahoio_set_before_acks(void (*fn)(void *ctx), void *ctx);

/* PUBACKs held and not yet written (tests). */
size_t pahoio_pending(void);

/* Bytes read from the socket and not yet handed to Paho (tests). */
size_t pahoio_buffered(void);

/* Tests: forgets everything and unbinds the calling thread. */
void pahoio_test_reset(void);

#endif
