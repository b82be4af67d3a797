/*
 * wgate — the write gate: how the lws thread's writes (API changes, audit
 * rows, sessions) get SQLite's write lock while ingest is busy.
 *
 * The core keeps a write transaction open across a whole group of messages
 * and opens the next one as soon as it commits, so under a steady stream
 * another connection's BEGIN IMMEDIATE would wait in SQLite's busy handler
 * and, unlucky, never get in ("database is locked"). A writer instead goes
 * through the gate: wgate_enter() takes the core lock (no message is in
 * hand), commits the core's open group (ingest_flush) and leaves SQLite's
 * write lock free until wgate_leave(). Ingest waits for that short while;
 * nobody starves.
 *
 * Before MQTT runs (start-up) and after it stops there is no core to quiet:
 * the gate then only serialises its users. Lock order: the gate's mutex,
 * then the core lock. Never call Paho between enter and leave.
 */
#ifndef PW_WGATE_H
#define PW_WGATE_H

struct ingest;
struct mqtt;
struct wgate;

struct wgate *wgate_new(void);
void wgate_free(struct wgate *g);
/* Sets (or, with NULLs, clears) the core the gate quiets: the MQTT client
 * whose core lock it takes and the ingest whose group it commits. After
 * mqtt_start, and before mqtt_stop. Any thread. */
void wgate_set_core(struct wgate *g, struct mqtt *m, struct ingest *in);
/* Around one write transaction. Accept NULL (no gate: tests). */
void wgate_enter(struct wgate *g);
void wgate_leave(struct wgate *g);

#endif
