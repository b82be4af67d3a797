/*
 * decode — turns MQTT topics and payloads from outside into checked C values.
 *
 * Pure: no I/O, no globals, no clock of its own (the caller passes `now_ms`),
 * so it is unit-tested and fuzzed alone. Every rule of the contract's
 * telemetry object, status and plate-read payloads is checked here, and
 * schemas/ says the same thing in JSON Schema; tests/corpus keeps the two in
 * agreement. A rejected object yields a reason code (counted in metrics,
 * published on .../rejected) and a short human detail naming the field.
 *
 * Thread: any; the functions share nothing. json_scan reads the JSON in one
 * pass over the caller's bytes, allocating nothing (it is on the ingest hot
 * path); the caller owns the result structs (decode_batch is large: allocate
 * it once).
 */
#ifndef PW_DECODE_H
#define PW_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "pw.h"

#define PW_DTC_MAX      32 /* codes in one dtc set; schema maxItems agrees */
#define PW_DETAIL_MAX   96 /* a reject detail: "tires.fl.kpa: out of range" */
#define PW_TS_FUTURE_MS (5LL * 60 * 1000)
#define PW_TS_PAST_MS   (30LL * 24 * 3600 * 1000)

/* Why a message or object was rejected. The names (decode_reason_name) are
 * the `reason` label of pitwall_rejected_total and the `reason` on
 * .../rejected; they are part of the external contract once shipped. */
enum pw_reject {
	PW_REJ_NONE = 0,
	PW_REJ_TOO_LARGE,       /* "too_large": payload over PW_PAYLOAD_MAX */
	PW_REJ_BAD_UTF8,        /* "bad_utf8" */
	PW_REJ_BAD_JSON,        /* "bad_json": syntax, NaN/Infinity literals, trailing data */
	PW_REJ_TOO_DEEP,        /* "too_deep": nesting deeper than the payload can ever need */
	PW_REJ_NUMBER_OVERFLOW, /* "number_overflow": 1e999 and friends */
	PW_REJ_NOT_OBJECT,      /* "not_object": top level (or batch element) not an object */
	PW_REJ_BATCH_SIZE,      /* "batch_size": empty array or more than PW_BATCH_MAX */
	PW_REJ_MISSING_FIELD,   /* "missing_field": v, vin, seq or ts absent */
	PW_REJ_BAD_TYPE,        /* "bad_type": a known field of the wrong JSON type */
	PW_REJ_OUT_OF_RANGE,    /* "out_of_range": number outside its range, bad enum string */
	PW_REJ_BAD_VERSION,     /* "bad_version": v != 1 */
	PW_REJ_BAD_VIN,         /* "bad_vin": not 17 chars of [A-HJ-NPR-Z0-9] */
	PW_REJ_VIN_MISMATCH,    /* "vin_mismatch": payload vin != topic vin */
	PW_REJ_TS_FUTURE,       /* "ts_future": more than 5 min ahead of now */
	PW_REJ_TS_TOO_OLD,      /* "ts_too_old": more than 30 days behind now */
	PW_REJ_BAD_POSITION,    /* "bad_position": lat without lon or the reverse */
	PW_REJ_BAD_DTC,         /* "bad_dtc": code pattern, status or mil wrong */
	PW_REJ_BAD_TOPIC,       /* "bad_topic": topic not one the gateway handles */
	PW_REJ_NO_MEMORY,       /* "no_memory": kept as a metrics label; the decoder
	                         * allocates nothing, so it no longer occurs */
	PW_REJ__COUNT
};

/* Bits of pw_telemetry.has: which optional fields the object carried. */
enum pw_field {
	PW_F_ODOMETER = 1u << 0,
	PW_F_SPEED = 1u << 1,
	PW_F_IGNITION = 1u << 2,
	PW_F_FUEL_PCT = 1u << 3,
	PW_F_FUEL_RATE = 1u << 4, /* fuel_l_per_100km */
	PW_F_BATTERY = 1u << 5,
	PW_F_ENGINE_HOURS = 1u << 6,
	PW_F_POSITION = 1u << 7, /* lat and lon together */
	PW_F_HEADING = 1u << 8,
	PW_F_TIRES = 1u << 9, /* at least one tire member; see pw_tire.has */
	PW_F_DTC = 1u << 10,  /* the full current DTC set (possibly empty) */
};

enum pw_ignition { PW_IGN_UNKNOWN = 0, PW_IGN_OFF, PW_IGN_ACC, PW_IGN_ON };
enum pw_dtc_status { PW_DTC_PENDING = 1, PW_DTC_CONFIRMED, PW_DTC_PERMANENT };
enum pw_tire_pos { PW_TIRE_FL = 0, PW_TIRE_FR, PW_TIRE_RL, PW_TIRE_RR, PW_TIRE_COUNT };
enum pw_tire_member { PW_TIRE_KPA = 1u << 0, PW_TIRE_TREAD = 1u << 1, PW_TIRE_TEMP = 1u << 2 };

struct pw_tire {
	float kpa;
	float tread_mm;
	float temp_c;
	uint8_t has; /* PW_TIRE_* bits */
};

struct pw_dtc {
	char code[6];   /* "P0301" + NUL */
	uint8_t status; /* enum pw_dtc_status */
	uint8_t mil;    /* 0 or 1 */
};

/* The members a telemetry object and a vehicle's merged state share: all
 * but where the DTC entries live. One list, so that code reading either
 * struct reads the same names. */
#define PW_TELEMETRY_MEMBERS                                                                       \
	char vin[PW_VIN_LEN + 1];                                                                  \
	int64_t seq;                                                                               \
	int64_t ts_ms;                                                                             \
	uint32_t has;            /* PW_F_* */                                                      \
	uint32_t unknown_fields; /* members the contract does not name (ignored, counted) */       \
	double odometer_km;                                                                        \
	double engine_hours;                                                                       \
	double lat, lon;                                                                           \
	float speed_kmh;                                                                           \
	float fuel_pct;                                                                            \
	float fuel_l_per_100km;                                                                    \
	float battery_v;                                                                           \
	float heading_deg;                                                                         \
	uint8_t ignition; /* enum pw_ignition */                                                   \
	uint8_t dtc_count;                                                                         \
	struct pw_tire tires[PW_TIRE_COUNT];

/* One checked telemetry object. Fields not flagged in `has` are zero. A
 * plain value: copies are independent. */
struct pw_telemetry {
	PW_TELEMETRY_MEMBERS
	struct pw_dtc dtc[PW_DTC_MAX];
};

/* A vehicle's merged latest state (state.h): the same members, but the DTC
 * set out of line. `dtc` points at dtc_count entries, sorted, that are
 * immutable and shared with every vehicle holding an equal set (interned,
 * dtcset.h); NULL when there are none. A copy shares the entries: it is
 * valid while the vehicle it was copied from is (see dtcset.h). */
struct pw_latest {
	PW_TELEMETRY_MEMBERS
	const struct pw_dtc *dtc;
};

struct decode_item {
	enum pw_reject reason; /* PW_REJ_NONE: `t` is valid */
	char detail[PW_DETAIL_MAX];
	struct pw_telemetry t;
};

/* A telemetry MQTT message: one object or an array of up to PW_BATCH_MAX.
 * When the message as a whole is unreadable (too large, bad JSON, not an
 * object or array, bad batch size) `reason` is set and `count` is 0; such a
 * message counts as one rejected object. Otherwise `reason` is PW_REJ_NONE
 * and items[0..count) are judged one by one. */
struct decode_batch {
	enum pw_reject reason;
	char detail[PW_DETAIL_MAX];
	int is_array;
	int count;
	struct decode_item items[PW_BATCH_MAX];
};

/* Decodes a telemetry payload published on the topic of `topic_vin`.
 * `now_ms` is the (virtual) clock for the ts limits. Always fills `out`;
 * returns PW_OK when the message could be read at all (items may still be
 * rejected one by one), PW_EINVAL when out->reason is set (an invalid
 * `topic_vin` is PW_REJ_BAD_VIN for the whole message).
 * Shared with schemas/: null is never a value (bad_type); integer fields
 * take any integral number (1.0, 1e3), as JSON Schema does; unknown members
 * are ignored and counted at the top level, in a tire and in a dtc entry;
 * tires keys are fl fr rl rr only (else out_of_range); a dtc entry needs
 * code and status, mil defaults to false; anything wrong inside the dtc
 * array is bad_dtc. Rules are checked in the contract's table order and
 * the first broken one names the reason. */
int decode_telemetry(const char *topic_vin, const void *payload, size_t len, int64_t now_ms,
                     struct decode_batch *out);

/* The status topic: {"v":1,"online":bool,"ts":ms}. `ts` must be an integer
 * >= 0 but has no age limit (a will message carries its connect time).
 * decode_status and decode_anpr return PW_OK, or PW_EINVAL (PW_ENOMEM when
 * out of memory) with *reason set; `reason` and `detail` may be NULL, and
 * `out` is zeroed on a reject. */
struct pw_status {
	int online;
	int64_t ts_ms;
};
int decode_status(const void *payload, size_t len, struct pw_status *out, enum pw_reject *reason,
                  char *detail, size_t detail_len);

/* The plate camera: {"v":1,"ts":ms,"plate":"鲁A12345","camera":"entrance-1","confidence":0.97}.
 * plate: a Chinese plate (province character + letter + 5 or 6 of
 * [A-HJ-NP-Z0-9]) or any other plate of 2-12 characters of [A-Z0-9-] plus
 * CJK; ts limits as for telemetry; confidence 0..1; camera 1-64 chars. */
struct pw_plate_read {
	int64_t ts_ms;
	char plate[64]; /* UTF-8, normalised to upper case */
	char camera[65];
	double confidence;
};
int decode_anpr(const void *payload, size_t len, int64_t now_ms, struct pw_plate_read *out,
                enum pw_reject *reason, char *detail, size_t detail_len);

/* What an MQTT topic addresses. */
enum pw_topic_kind {
	PW_TOPIC_UNKNOWN = 0,
	PW_TOPIC_TELEMETRY, /* pitwall/v1/vehicles/{vin}/telemetry */
	PW_TOPIC_STATUS,    /* pitwall/v1/vehicles/{vin}/status */
	PW_TOPIC_ANPR,      /* pitwall/v1/sites/{site}/anpr */
};
struct pw_topic {
	enum pw_topic_kind kind;
	char vin[PW_VIN_LEN + 1];  /* for vehicle topics; may be invalid: checked later */
	char site[PW_SITE_ID_MAX]; /* for site topics */
};
/* Splits a topic (not NUL-terminated: `len` bytes). PW_EINVAL for anything
 * that is not one of the three shapes above (site ids must be 1-63 of
 * [A-Za-z0-9_-]). A vin segment longer than 17 bytes is left as "", which
 * no VIN check accepts: it is never truncated into a valid-looking VIN. */
int decode_topic(const char *topic, size_t len, struct pw_topic *out);

/* True when `vin` is 17 characters of [A-HJ-NPR-Z0-9]. */
int decode_vin_valid(const char *vin);

/* Stable snake_case name of a reason ("bad_json"); "unknown" for bad values. */
const char *decode_reason_name(enum pw_reject reason);

#endif
