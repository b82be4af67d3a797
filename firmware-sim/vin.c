/*
 * vin — ISO 3779 check digits and generated VINs. See vin.h. Pure.
 *
 * Layout of a generated VIN: WMI (3) + VDS (5, from seed and n) + check
 * digit + model year (A-Y without I/O/Q/U/Z, digits 1-9) + plant (from n /
 * 1,000,000) + serial (6 digits, n mod 1,000,000): (plant, serial) alone
 * make VINs unique, the rest only looks real.
 */
#include <string.h>

#include "pw.h"
#include "rng.h"
#include "vin.h"

static const char vin_alphabet[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"; /* 33 */
static const char year_codes[] = "GHJKLMNPRST";                         /* 2016-2026 */
static const int weights[VIN_LEN] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};

static int transliterate(char c)
{
	static const char letters[] = "ABCDEFGHJKLMNPRSTUVWXYZ";
	static const int values[] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
	                             5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9};
	const char *p;

	if (c >= '0' && c <= '9')
		return c - '0';
	if (c == '\0')
		return -1;
	p = strchr(letters, c);
	return p ? values[p - letters] : -1;
}

int vin_check_digit(const char *vin, char *out)
{
	int i, sum = 0;

	for (i = 0; i < VIN_LEN; i++) {
		int v = transliterate(vin[i]);

		if (v < 0)
			return PW_EINVAL;
		sum += v * weights[i];
	}
	if (vin[VIN_LEN] != '\0')
		return PW_EINVAL;
	sum %= 11;
	*out = sum == 10 ? 'X' : (char)('0' + sum);
	return PW_OK;
}

int vin_is_valid(const char *vin)
{
	char c;

	if (strlen(vin) != VIN_LEN || vin_check_digit(vin, &c) != PW_OK)
		return 0;
	return vin[8] == c;
}

int vin_make(const char *wmi, uint64_t seed, uint32_t n, char out[VIN_LEN + 1])
{
	struct rng r;
	uint32_t serial = n % 1000000u, plant = n / 1000000u;
	char check;
	int i;

	if (strlen(wmi) != 3 || plant >= 33)
		return PW_EINVAL;
	rng_seed_stream(&r, seed, 0x76696e00ULL + n);
	memcpy(out, wmi, 3);
	for (i = 3; i < 8; i++)
		out[i] = vin_alphabet[rng_below(&r, 33)];
	out[8] = '0';
	out[9] = year_codes[rng_below(&r, sizeof(year_codes) - 1)];
	out[10] = vin_alphabet[plant];
	for (i = 16; i >= 11; i--) {
		out[i] = (char)('0' + serial % 10);
		serial /= 10;
	}
	out[VIN_LEN] = '\0';
	if (vin_check_digit(out, &check) != PW_OK)
		return PW_EINVAL;
	out[8] = check;
	return PW_OK;
}
