/*
 * fuzz_config — libFuzzer target over config_load_string(): any bytes, as a
 * config file. Beyond "no crash, no leak, no UB" it checks the loader's
 * promises: a failed load leaves the config untouched and says why in one
 * line naming the file; a successful one passes config_validate() and
 * every string in it is terminated. The input is also replayed, line by
 * line, as "key=value" flags through config_set().
 *
 * Seeds: tests/fuzz/corpus/config/. Build with -DPW_FUZZ=ON (clang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_terminated(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static void check_message(const char *err)
{
	if (err[0] == '\0' || strchr(err, '\n') || strncmp(err, "fuzz", 4) != 0)
		abort();
}

/* Treats each line "path=value" of the input as a flag. */
static void replay_as_flags(const uint8_t *data, size_t size)
{
	struct pw_config cfg;
	char err[PW_CONFIG_ERR_MAX];
	char line[2048];
	size_t start = 0;

	config_defaults(&cfg);
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (data + start)) : size - start;
		char *eq;

		if (len < sizeof(line)) {
			memcpy(line, data + start, len);
			line[len] = '\0';
			eq = strchr(line, '=');
			if (eq) {
				struct pw_config before = cfg;
				int rc;

				*eq = '\0';
				rc = config_set(&cfg, line, eq + 1, err, sizeof(err));
				if (rc != 0 && memcmp(&before, &cfg, sizeof(cfg)) != 0)
					abort(); /* a rejected flag changes nothing */
			}
		}
		start += len + 1;
	}
	/* validate must cope with whatever the flags left */
	(void)config_validate(&cfg, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pw_config cfg, before;
	char err[PW_CONFIG_ERR_MAX];
	int rc;

	config_defaults(&cfg);
	before = cfg;
	err[0] = '\0';
	rc = config_load_string(&cfg, "fuzz", (const char *)data, size, err, sizeof(err));
	if (rc != 0) {
		if (rc != PW_EINVAL && rc != PW_ENOMEM)
			abort();
		if (memcmp(&cfg, &before, sizeof(cfg)) != 0)
			abort();
		check_message(err);
	} else {
		if (config_validate(&cfg, err, sizeof(err)) != 0)
			abort();
		check_terminated(cfg.site.id, sizeof(cfg.site.id));
		check_terminated(cfg.site.name, sizeof(cfg.site.name));
		check_terminated(cfg.mqtt.uri, sizeof(cfg.mqtt.uri));
		check_terminated(cfg.mqtt.client_id, sizeof(cfg.mqtt.client_id));
		check_terminated(cfg.db.path, sizeof(cfg.db.path));
		check_terminated(cfg.http.listen, sizeof(cfg.http.listen));
		for (int i = 0; i < cfg.http.n_allowed_origins; i++)
			check_terminated(cfg.http.allowed_origins[i],
			                 sizeof(cfg.http.allowed_origins[i]));
	}
	replay_as_flags(data, size);
	return 0;
}
