/*
 * pub — picks the transport (pub.h) and forwards to it. Caller thread.
 */
#include <stdlib.h>
#include <string.h>

#include "pub.h"
#include "pub_impl.h"
#include "pw.h"

struct pub {
	struct pub_paho *paho;
	struct pub_raw *raw;
};

struct pub *pub_new(const struct pub_options *o)
{
	struct pub *p = calloc(1, sizeof(*p));
	enum pub_transport t = o->transport;

	if (!p)
		return NULL;
	if (t == PUB_AUTO)
		t = o->uri && (strncmp(o->uri, "tcp://", 6) == 0 ||
		               strncmp(o->uri, "mqtt://", 7) == 0)
		        ? PUB_RAW
		        : PUB_PAHO;
	if (t == PUB_RAW)
		p->raw = pub_raw_new(o);
	else
		p->paho = pub_paho_new(o);
	if (!p->raw && !p->paho) {
		free(p);
		return NULL;
	}
	return p;
}

int pub_connect(struct pub *p, int timeout_ms)
{
	return p->raw ? pub_raw_connect(p->raw, timeout_ms) : pub_paho_connect(p->paho, timeout_ms);
}

int pub_send(struct pub *p, const char *topic, const void *payload, size_t len, int qos,
             int retained, uint64_t tag)
{
	return p->raw ? pub_raw_send(p->raw, topic, payload, len, qos, retained, tag)
	              : pub_paho_send(p->paho, topic, payload, len, qos, retained, tag);
}

int pub_wait(struct pub *p, int timeout_ms)
{
	return p->raw ? pub_raw_wait(p->raw, timeout_ms) : pub_paho_wait(p->paho, timeout_ms);
}

int pub_outstanding(struct pub *p)
{
	return p->raw ? pub_raw_outstanding(p->raw) : pub_paho_outstanding(p->paho);
}

void pub_get_stats(struct pub *p, struct pub_stats *s)
{
	if (p->raw)
		pub_raw_get_stats(p->raw, s);
	else
		pub_paho_get_stats(p->paho, s);
}

int pub_disconnect(struct pub *p, int timeout_ms)
{
	return p->raw ? pub_raw_disconnect(p->raw, timeout_ms)
	              : pub_paho_disconnect(p->paho, timeout_ms);
}

int pub_flush(struct pub *p)
{
	if (p->raw)
		return pub_raw_flush(p->raw);
	return pub_paho_is_connected(p->paho) ? PW_OK : PW_EIO;
}

void pub_drop(struct pub *p)
{
	if (p->raw)
		pub_raw_drop(p->raw);
	else
		pub_paho_disconnect(p->paho, 0);
}

int pub_is_connected(struct pub *p)
{
	return p->raw ? pub_raw_is_connected(p->raw) : pub_paho_is_connected(p->paho);
}

int pub_set_will_payload(struct pub *p, const char *payload)
{
	return p->raw ? pub_raw_set_will_payload(p->raw, payload)
	              : pub_paho_set_will_payload(p->paho, payload);
}

void pub_free(struct pub *p)
{
	if (!p)
		return;
	pub_raw_free(p->raw);
	pub_paho_free(p->paho);
	free(p);
}
