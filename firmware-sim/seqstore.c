/*
 * seqstore — "vin,next_seq" lines on disk. See seqstore.h. Main thread.
 * Lookups are a sort + binary search so 100,000 vehicles load instantly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pw.h"
#include "seqstore.h"

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct seqstore_entry *)a)->vin,
	              ((const struct seqstore_entry *)b)->vin);
}

int seqstore_load(const char *path, struct seqstore_entry **out, int *n)
{
	FILE *f = fopen(path, "r");
	struct seqstore_entry *arr = NULL;
	int count = 0, cap = 0, lineno = 0, rc = PW_OK;
	char line[128];

	*out = NULL;
	*n = 0;
	if (!f) {
		if (errno == ENOENT)
			return PW_OK;
		log_error("sim", "cannot read state file %s: %s", path, strerror(errno));
		return PW_EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		char *comma, *end;
		long long seq;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		comma = strchr(line, ',');
		if (!comma || comma - line != 17) {
			log_error("sim", "%s:%d: expected vin,next_seq", path, lineno);
			rc = PW_EINVAL;
			goto out;
		}
		errno = 0;
		seq = strtoll(comma + 1, &end, 10);
		if (errno || end == comma + 1 || *end != '\0' || seq < 0) {
			log_error("sim", "%s:%d: next_seq is not an integer >= 0", path, lineno);
			rc = PW_EINVAL;
			goto out;
		}
		if (count == cap) {
			int ncap = cap ? cap * 2 : 1024;
			struct seqstore_entry *na = realloc(arr, (size_t)ncap * sizeof(*arr));

			if (!na) {
				rc = PW_ENOMEM;
				goto out;
			}
			arr = na;
			cap = ncap;
		}
		memcpy(arr[count].vin, line, 17);
		arr[count].vin[17] = '\0';
		arr[count].next_seq = seq;
		count++;
	}
	qsort(arr, (size_t)count, sizeof(*arr), cmp_entry);
	*out = arr;
	*n = count;
	arr = NULL;
out:
	free(arr);
	fclose(f);
	return rc;
}

int64_t seqstore_find(const struct seqstore_entry *e, int n, const char *vin)
{
	struct seqstore_entry key;
	const struct seqstore_entry *hit;

	if (!e || n <= 0)
		return -1;
	snprintf(key.vin, sizeof(key.vin), "%s", vin);
	hit = bsearch(&key, e, (size_t)n, sizeof(*e), cmp_entry);
	return hit ? hit->next_seq : -1;
}

int seqstore_save(const char *path, const struct seqstore_entry *e, int n)
{
	char tmp[4096];
	FILE *f;
	int i;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return PW_EINVAL;
	f = fopen(tmp, "w");
	if (!f) {
		log_error("sim", "cannot write state file %s: %s", tmp, strerror(errno));
		return PW_EIO;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%s,%lld\n", e[i].vin, (long long)e[i].next_seq);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		log_error("sim", "cannot write state file %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return PW_EIO;
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		log_error("sim", "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return PW_EIO;
	}
	return PW_OK;
}
