/*
 * vin — vehicle identification numbers for simulated cars: ISO 3779 check
 * digit (position 9, the North American / Chinese GB 16735 rule) and a
 * generator of unique, valid VINs under a world manufacturer code. Pure.
 */
#ifndef PWSIM_VIN_H
#define PWSIM_VIN_H

#include <stdint.h>

#define VIN_LEN 17

/* The check digit ('0'-'9' or 'X') for a 17-character VIN (position 9 is
 * ignored). PW_EINVAL (negative) if a character is outside [A-HJ-NPR-Z0-9]. */
int vin_check_digit(const char *vin, char *out);
/* True when vin is 17 valid characters and its check digit is right. */
int vin_is_valid(const char *vin);
/* Writes VIN number `n` (0 <= n < 33,000,000) of the fleet generated from
 * `seed` under the 3-letter `wmi` (e.g. "LSV") into out[18]. Different n give
 * different VINs; the model code, year and plant vary with seed and n. */
int vin_make(const char *wmi, uint64_t seed, uint32_t n, char out[VIN_LEN + 1]);

#endif
