/*
 * fuzz_greet — libFuzzer target over the greeting texts: display names,
 * plate masking, the greeting object and the in-car welcome, from the
 * dealer's data (names and plates are imported from a DMS: outside input).
 * The first byte is the gender ('M', 'F', anything) and a buffer size
 * (its high bits); the rest is "name\nplate".
 *
 * Beyond "no crash, no leak, no UB": every text out is NUL-terminated
 * UTF-8 within its buffer; a masked plate (without stars of its own) is
 * never the plate; for valid
 * UTF-8 input the greeting object always builds (a name Jansson would
 * refuse must not stall ingest).
 *
 * Seeds: tests/fuzz/corpus/greet/. Build with -DPW_FUZZ=ON (clang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "greet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8, as Jansson checks it. */
static int valid_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		size_t n;

		if (u[0] < 0x80)
			n = 1;
		else if (u[0] >= 0xC2 && u[0] <= 0xDF)
			n = 2;
		else if (u[0] >= 0xE0 && u[0] <= 0xEF)
			n = 3;
		else if (u[0] >= 0xF0 && u[0] <= 0xF4)
			n = 4;
		else
			return 0;
		for (size_t i = 1; i < n; i++)
			if ((u[i] & 0xC0) != 0x80)
				return 0;
		if (n > 1 && ((u[0] == 0xE0 && u[1] < 0xA0) || (u[0] == 0xED && u[1] >= 0xA0) ||
		              (u[0] == 0xF0 && u[1] < 0x90) || (u[0] == 0xF4 && u[1] >= 0x90)))
			return 0;
		u += n;
	}
	return 1;
}

static void check_text(const char *buf, size_t len)
{
	if (strnlen(buf, len) >= len || !valid_utf8(buf))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[512], name_buf[GREET_NAME_MAX], plate_buf[GREET_PLATE_MAX], text[GREET_TEXT_MAX];
	char gender;
	size_t small, n;
	char *nl;
	const char *plate = "";
	json_t *g;

	if (size < 1)
		return 0;
	gender = (data[0] & 3) == 0 ? 'M' : (data[0] & 3) == 1 ? 'F' : '-';
	small = 1 + (data[0] >> 3); /* 1..32 */
	n = size - 1 < sizeof(in) - 1 ? size - 1 : sizeof(in) - 1;
	memcpy(in, data + 1, n);
	in[n] = '\0';
	if ((nl = strchr(in, '\n')) != NULL) {
		*nl = '\0';
		plate = nl + 1;
	}

	greet_display_name(in, gender, name_buf, sizeof(name_buf));
	check_text(name_buf, sizeof(name_buf));
	greet_display_name(in, gender, name_buf, small);
	check_text(name_buf, small);
	greet_mask_plate(plate, plate_buf, sizeof(plate_buf));
	check_text(plate_buf, sizeof(plate_buf));
	if (valid_utf8(plate) && *plate && !strchr(plate, '*') && strcmp(plate, plate_buf) == 0)
		abort();
	greet_mask_plate(plate, plate_buf, small);
	check_text(plate_buf, small);
	greet_welcome_text(text, sizeof(text), in, plate, in);
	check_text(text, sizeof(text));

	g = greet_greeting(&(struct greet_input){.id = "g1",
	                                         .name = in,
	                                         .gender = gender,
	                                         .display_consent = 1,
	                                         .plate = plate,
	                                         .desk = "3"});
	if (!g && valid_utf8(in) && valid_utf8(plate))
		abort();
	json_decref(g);
	return 0;
}
