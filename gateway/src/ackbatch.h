/*
 * ackbatch — the gateway's PUBACKs to the broker, written in batches.
 *
 * Paho's MQTTAsync (1.3.12) acknowledges an incoming QoS 1 PUBLISH just
 * after the messageArrived callback has returned: one writev() of four
 * bytes per message, and one read for the broker. The gateway's callback
 * returns only once the message is committed (mqtt.c), so a PUBACK may as
 * well go out a little later, together with the next ones.
 *
 * How: the gateway defines writev() and poll(); Paho's shared library
 * resolves to them (an executable's definitions come first in the dynamic
 * symbol lookup). Other callers pass straight through to the kernel.
 * On Paho's receive thread (bound at every connect) a writev() that is
 * exactly a PUBACK (two iovecs: 0x40 0x02, then the packet id) is appended
 * to a buffer and reported written. The buffer goes out in one write:
 *   - when it holds ACKBATCH_MAX PUBACKs;
 *   - when the receive thread is about to wait for the socket and nothing
 *     is there to read (poll() with a timeout is first tried without one) —
 *     so an idle or slow stream is acknowledged at once, and the broker's
 *     in-flight window (however small) never waits on the batch;
 *   - at every ackbatch_flush() (the main loop's tick, and before a
 *     disconnect).
 *
 * The stream stays whole: other writes to the socket (PUBLISH, PINGREQ, ...
 * from Paho's send thread) take the same lock; a batch is never written
 * while Paho has written only part of a packet, and while a PUBACK of the
 * batch is only partly out Paho's writes see EAGAIN (which Paho handles as
 * for any full socket: it retries once the socket is writable).
 *
 * A new connection forgets PUBACKs not yet written: the broker redelivers
 * those messages and they are duplicates by (vin, seq), skipped.
 *
 * Over TLS Paho writes through OpenSSL: nothing is batched, every PUBACK
 * goes out as Paho writes it.
 */
#ifndef PW_ACKBATCH_H
#define PW_ACKBATCH_H

#include <stddef.h>

#define ACKBATCH_MAX 32 /* PUBACKs held before they are written regardless */

/* Marks the calling thread as Paho's receive thread (whose PUBACK writes are
 * batched) and forgets what an earlier connection left unwritten. */
void ackbatch_bind_receiver(void);

/* Writes the held PUBACKs now, unless Paho is in the middle of a packet.
 * Any thread. */
void ackbatch_flush(void);

/* PUBACKs held and not yet written (tests, metrics). */
size_t ackbatch_pending(void);

/* Tests: forgets everything and unbinds the calling thread. */
void ackbatch_test_reset(void);

#endif
