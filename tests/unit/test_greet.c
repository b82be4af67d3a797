/*
 * test_greet — display names (single and compound surnames, every gender,
 * middle-dot names, Latin names, no name), plate masking (ordinary,
 * new-energy, other plates, short ones), the greeting object with and
 * without display consent (never the full name or plate), the frame a
 * welcome display gets, and the in-car welcome text; malformed UTF-8 never
 * gets through, truncation cuts at a code point; allocation failing at
 * every step of the greeting is handled (NULL, no leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <jansson.h>

#include "greet.h"

static void name_is(const char *name, char gender, const char *want)
{
	char buf[GREET_NAME_MAX];

	greet_display_name(name, gender, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("%s/%c: got \"%s\", want \"%s\"", name ? name : "(null)", gender, buf,
		         want);
}

static void plate_is(const char *plate, const char *want)
{
	char buf[GREET_PLATE_MAX];

	greet_mask_plate(plate, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", plate ? plate : "(null)", buf, want);
}

static void test_chinese_names(void **unused)
{
	(void)unused;
	name_is("张伟", 'M', "张先生");
	name_is("周红", 'F', "周女士");
	name_is("黎勇艳", '-', "黎贵宾");
	name_is("贺娜敏", 'M', "贺先生");
	/* compound surnames kept whole */
	name_is("欧阳娜娜", 'F', "欧阳女士");
	name_is("司马光", 'M', "司马先生");
	name_is("诸葛亮", 'M', "诸葛先生");
	name_is("上官婉儿", 'F', "上官女士");
	name_is("东方明", '-', "东方贵宾");
	name_is("皇甫嵩", 'M', "皇甫先生");
	name_is("尉迟恭", 'M', "尉迟先生");
	name_is("慕容复", 'M', "慕容先生");
	name_is("令狐冲", 'M', "令狐先生");
	/* a two-character name is surname + given name, even if it reads like a
	 * compound surname */
	name_is("司马", 'M', "司先生");
	/* not compound: 欧 alone, 马 starts no compound */
	name_is("欧明", 'M', "欧先生");
	name_is("马司徒", 'M', "马先生");
	/* spaces around */
	name_is("  王强 ", 'M', "王先生");
	/* unknown gender letters */
	name_is("李娜", 'x', "李贵宾");
}

static void test_other_names(void **unused)
{
	(void)unused;
	name_is("John Smith", 'M', "Mr. Smith");
	name_is("Anna Maria Schmidt", 'F', "Ms. Schmidt");
	name_is("Smith, John", 'M', "Mr. Smith");
	name_is("ZHANG Wei", 'M', "Mr. ZHANG");
	name_is("Kim", '-', "Kim 贵宾");
	name_is("Émile Zola", 'M', "Mr. Zola");
	/* transliterated names: no family name, the first part */
	name_is("买买提·艾力", 'M', "买买提先生");
	name_is("迪丽热巴·迪力木拉提", 'F', "迪丽热巴女士");
	/* no name at all */
	name_is("", 'M', "贵宾");
	name_is(NULL, 'F', "贵宾");
	name_is("   ", '-', "贵宾");
}

static void test_plates(void **unused)
{
	(void)unused;
	plate_is("鲁A12345", "鲁A·***45");
	plate_is("鲁A9QHFG", "鲁A·***FG");
	plate_is("鲁AD12345", "鲁A·****45"); /* new energy: 6 after the letter */
	plate_is("京B1234学", "京B·***4学");
	plate_is("ABC1234", "A****34");
	plate_is("WJ12345", "W****45");
	plate_is("AB12", "***2");
	plate_is("AB", "*B");
	plate_is("", "");
	plate_is(NULL, "");
	/* never the full plate, and never longer than the buffer */
	{
		char small[8];

		greet_mask_plate("鲁A12345", small, sizeof(small));
		assert_true(strlen(small) < sizeof(small));
	}
}

static void test_greeting_with_consent(void **unused)
{
	json_t *g, *f, *ev;
	char *s;

	(void)unused;
	g = greet_greeting(&(struct greet_input){.id = "g7",
	                                         .name = "欧阳娜娜",
	                                         .gender = 'F',
	                                         .display_consent = 1,
	                                         .plate = "鲁A12345",
	                                         .desk = "3",
	                                         .advisor = "赵敏",
	                                         .service = "首保"});
	assert_non_null(g);
	s = json_dumps(g, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s, "{\"type\":\"greeting\",\"id\":\"g7\",\"display_name\":\"欧阳女士\","
	                       "\"plate_masked\":\"鲁A·***45\",\"desk\":\"3\",\"advisor\":\"赵敏\","
	                       "\"service\":\"首保\",\"ttl_s\":120}");
	assert_null(strstr(s, "欧阳娜娜"));
	assert_null(strstr(s, "12345"));
	free(s);
	/* the event carries more; the display's frame only the contract's */
	ev = json_deep_copy(g);
	json_object_set_new(ev, "vin", json_string("LSVAB2354T7100113"));
	json_object_set_new(ev, "ts", json_integer(1));
	json_object_set_new(ev, "severity", json_string("info"));
	f = greet_frame(ev);
	assert_non_null(f);
	assert_true(json_equal(f, g));
	json_decref(f);
	json_object_set_new(ev, "type", json_string("arrival"));
	assert_null(greet_frame(ev));
	json_decref(ev);
	json_decref(g);
}

static void test_greeting_without_consent(void **unused)
{
	json_t *g;
	char *s;

	(void)unused;
	g = greet_greeting(&(struct greet_input){.id = "g8",
	                                         .name = "贺娜敏",
	                                         .gender = 'M',
	                                         .display_consent = 0,
	                                         .plate = "鲁A12345",
	                                         .desk = "5",
	                                         .advisor = "周静",
	                                         .service = NULL});
	s = json_dumps(g, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s, "{\"type\":\"greeting\",\"id\":\"g8\",\"desk\":\"5\","
	                       "\"advisor\":\"周静\",\"service\":null,\"ttl_s\":120}");
	free(s);
	json_decref(g);
	/* no customer on file, no advisor: still a greeting, nothing personal */
	g = greet_greeting(&(struct greet_input){.id = "g9", .gender = '-'});
	assert_null(json_object_get(g, "display_name"));
	assert_null(json_object_get(g, "plate_masked"));
	assert_true(json_is_null(json_object_get(g, "desk")));
	json_decref(g);
}

static void test_welcome_text(void **unused)
{
	char buf[GREET_TEXT_MAX];

	(void)unused;
	greet_welcome_text(buf, sizeof(buf), "张先生", "3", "李娜");
	assert_string_equal(buf, "欢迎光临，张先生！请到 3 号前台，服务顾问李娜为您服务。");
	greet_welcome_text(buf, sizeof(buf), NULL, "2", NULL);
	assert_string_equal(buf, "欢迎光临！请到 2 号前台办理。");
	greet_welcome_text(buf, sizeof(buf), NULL, NULL, NULL);
	assert_string_equal(buf, "欢迎光临！服务顾问将很快为您服务。");
}

static int alloc_budget = -1; /* allocations left; -1: unlimited */

static void *chaos_malloc(size_t n)
{
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return malloc(n);
}

static void test_allocation_failures(void **unused)
{
	struct greet_input in = {.id = "g1",
	                         .name = "欧阳娜娜",
	                         .gender = 'F',
	                         .display_consent = 1,
	                         .plate = "鲁A12345",
	                         .desk = "3",
	                         .advisor = "赵敏",
	                         .service = "首保"};
	int ok = 0;

	(void)unused;
	json_set_alloc_funcs(chaos_malloc, free);
	for (int budget = 0; budget < 100 && !ok; budget++) {
		json_t *g, *f;

		alloc_budget = budget;
		g = greet_greeting(&in);
		f = g ? greet_frame(g) : NULL;
		ok = g && f && json_equal(g, f);
		json_decref(f);
		json_decref(g);
	}
	alloc_budget = -1;
	json_set_alloc_funcs(malloc, free);
	assert_true(ok);
}

static void test_malformed_and_truncated(void **unused)
{
	char buf[8];

	(void)unused;
	/* an overlong encoding and a stray continuation byte are not copied */
	name_is("\xc0\xbbSmith", 'M', "Mr. "); /* cut there: the DMS import rejects such */
	plate_is("\x81"
	         "A12345",
	         "*****45");
	/* "贵宾" does not fit in 6 bytes: the whole first character only */
	greet_display_name("", 'M', buf, 6);
	assert_string_equal(buf, "贵");
	greet_display_name("王强", 'M', buf, sizeof(buf));
	assert_string_equal(buf, "王先"); /* 6 bytes + NUL; never half a character */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chinese_names),
	    cmocka_unit_test(test_other_names),
	    cmocka_unit_test(test_plates),
	    cmocka_unit_test(test_greeting_with_consent),
	    cmocka_unit_test(test_greeting_without_consent),
	    cmocka_unit_test(test_welcome_text),
	    cmocka_unit_test(test_allocation_failures),
	    cmocka_unit_test(test_malformed_and_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
