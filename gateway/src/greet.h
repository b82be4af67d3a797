/*
 * greet — what the welcome display and the car say to an arriving
 * customer, and nothing more than they may: a polite short name, a masked
 * plate, the desk, and the in-car welcome text.
 *
 * Names (greet_display_name):
 * - Chinese: surname + 先生 (M) / 女士 (F) / 贵宾 (gender "-": a polite
 *   form that assumes nothing). The surname is the first character, or the
 *   first two for a compound surname (欧阳, 司马, 诸葛, 上官 … the table in
 *   greet.c) when the name is longer than the surname.
 * - A transliterated name with a middle dot (买买提·艾力): such names have
 *   no family name, so the part before the first dot + honorific.
 * - Latin letters: "Mr. Smith" / "Ms. Smith" / "Smith 贵宾"; the surname is
 *   the part before a comma ("Smith, John"), else a token in capitals among
 *   mixed-case ones ("ZHANG Wei"), else the last token.
 * - No name: "贵宾".
 * Plates (greet_mask_plate): a Chinese plate (province character, letter,
 * 5 or 6 more) keeps province and letter, a "·", stars, and its last two:
 * 鲁A12345 → 鲁A·***45, 鲁AD12345 → 鲁A·****45; any other plate keeps its
 * first and last two characters (5 or more), or only its last one (2 to
 * 4; a single character is masked too).
 *
 * Every text out is NUL-terminated UTF-8, cut at a code point when it does
 * not fit. Pure, no I/O. Thread: any.
 */
#ifndef PW_GREET_H
#define PW_GREET_H

#include <stddef.h>
#include <jansson.h>

#define GREET_NAME_MAX  96  /* a display name, bytes with NUL */
#define GREET_PLATE_MAX 64  /* a masked plate, bytes with NUL */
#define GREET_TEXT_MAX  256 /* the in-car welcome text */
#define GREET_TTL_S     120 /* how long a display shows a greeting */

/* The display name of `name` (UTF-8, may be NULL or empty) for `gender`
 * ('M', 'F', anything else unknown) into buf. Always NUL-terminated. */
void greet_display_name(const char *name, char gender, char *buf, size_t len);

/* The masked `plate` (UTF-8) into buf; "" for NULL or empty. */
void greet_mask_plate(const char *plate, char *buf, size_t len);

/* Who is greeted and where they go. Strings borrowed; NULL = unknown. */
struct greet_input {
	const char *id;      /* "g<arrival id>" */
	const char *name;    /* the customer's full name (only its display form is used) */
	char gender;         /* 'M', 'F', '-' */
	int display_consent; /* 0: neither name nor plate on the display */
	const char *plate;   /* the full plate (only its masked form is used) */
	const char *desk;
	const char *advisor; /* the advisor's name */
	const char *service; /* the appointment's service */
	int ttl_s;           /* how long the display shows it; <= 0: GREET_TTL_S */
};

/* The contract's greeting object (type, id, display_name, plate_masked,
 * desk, advisor, service, ttl_s): a new reference, NULL on ENOMEM. Without
 * consent (or without a customer: consent 0) display_name and plate_masked
 * are left out; unknown desk, advisor or service are null. */
json_t *greet_greeting(const struct greet_input *in);

/* The welcome display's frame from a greeting event (which may carry more,
 * such as vin and ts for dealer systems): only the contract's members. A
 * new reference, NULL on ENOMEM or when `event` is not a greeting. */
json_t *greet_frame(const json_t *event);

/* The in-car welcome text: "欢迎光临，张先生！请到 3 号前台，服务顾问李娜
 * 为您服务。" — without a name, without a desk or advisor, shorter. */
void greet_welcome_text(char *buf, size_t len, const char *display_name, const char *desk,
                        const char *advisor);

#endif
