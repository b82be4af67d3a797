/*
 * pub_impl — the two transports behind pub.h; only pub.c calls these.
 */
#ifndef PWSIM_PUB_IMPL_H
#define PWSIM_PUB_IMPL_H

#include "pub.h"

struct pub_paho;
struct pub_paho *pub_paho_new(const struct pub_options *o);
int pub_paho_connect(struct pub_paho *p, int timeout_ms);
int pub_paho_send(struct pub_paho *p, const char *topic, const void *payload, size_t len, int qos,
                  int retained, uint64_t tag);
int pub_paho_wait(struct pub_paho *p, int timeout_ms);
int pub_paho_outstanding(struct pub_paho *p);
void pub_paho_get_stats(struct pub_paho *p, struct pub_stats *s);
int pub_paho_disconnect(struct pub_paho *p, int timeout_ms);
void pub_paho_free(struct pub_paho *p);
int pub_paho_is_connected(struct pub_paho *p);
int pub_paho_set_will_payload(struct pub_paho *p, const char *payload);

struct pub_raw;
struct pub_raw *pub_raw_new(const struct pub_options *o);
int pub_raw_connect(struct pub_raw *p, int timeout_ms);
int pub_raw_send(struct pub_raw *p, const char *topic, const void *payload, size_t len, int qos,
                 int retained, uint64_t tag);
int pub_raw_wait(struct pub_raw *p, int timeout_ms);
int pub_raw_outstanding(struct pub_raw *p);
void pub_raw_get_stats(struct pub_raw *p, struct pub_stats *s);
int pub_raw_disconnect(struct pub_raw *p, int timeout_ms);
void pub_raw_free(struct pub_raw *p);
int pub_raw_flush(struct pub_raw *p);
void pub_raw_drop(struct pub_raw *p);
int pub_raw_is_connected(struct pub_raw *p);
int pub_raw_set_will_payload(struct pub_raw *p, const char *payload);

#endif
