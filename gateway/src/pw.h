/*
 * pw.h — what every Pitwall module shares: the error codes, the version and
 * a few size limits from the contract (../shared/CONTRACT.md).
 *
 * Functions return int: 0 (PW_OK) on success, a negative PW_E* on failure,
 * and hand results back through out-parameters. Constructors return NULL.
 */
#ifndef PW_H
#define PW_H

#define PW_VERSION "0.1.0"

enum pw_err {
	PW_OK = 0,
	PW_EINVAL = -1, /* bad input from outside: payload, file, flag, key */
	PW_ENOMEM = -2, /* allocation failed */
	PW_EIO = -3,    /* file, socket or database failure */
	PW_ENOTFOUND = -4,
	PW_EEXIST = -5,
	PW_ERANGE = -6, /* a value outside its documented range */
	PW_EBUSY = -7,  /* a bounded queue is full or a lock is held */
	PW_EPERM = -8,  /* not allowed: wrong password, missing role */
};

#define PW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define PW_VIN_LEN     17
#define PW_SITE_ID_MAX 64          /* site ids are [A-Za-z0-9_-], at most 63 chars */
#define PW_PAYLOAD_MAX (16 * 1024) /* largest telemetry MQTT message accepted */
#define PW_BATCH_MAX   100         /* objects in one telemetry array */

#endif
