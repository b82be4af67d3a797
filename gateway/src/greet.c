/*
 * greet — display names, masked plates, the greeting object and the
 * in-car welcome (see greet.h for the rules). Works on UTF-8 by code
 * points; input comes from the dealer's data, so malformed bytes are taken
 * one at a time rather than trusted.
 */
#include "greet.h"

#include <stdio.h>
#include <string.h>

#include "pw.h"

/* Compound (two-character) surnames: the common ones of 《百家姓》 and
 * those still met today. */
static const char *const compound_surnames[] = {
    "欧阳", "太史", "端木", "上官", "司马", "东方", "独孤", "南宫", "万俟", "闻人", "夏侯", "诸葛",
    "尉迟", "公羊", "赫连", "澹台", "皇甫", "宗政", "濮阳", "公冶", "太叔", "申屠", "公孙", "慕容",
    "仲孙", "钟离", "长孙", "宇文", "司徒", "鲜于", "司空", "闾丘", "子车", "亓官", "司寇", "巫马",
    "公西", "颛孙", "壤驷", "公良", "漆雕", "乐正", "宰父", "谷梁", "拓跋", "夹谷", "轩辕", "令狐",
    "段干", "百里", "呼延", "东郭", "南门", "羊舌", "微生", "公户", "公玉", "公仪", "梁丘", "公仲",
    "公上", "公门", "公山", "公坚", "左丘", "公伯", "西门", "公祖", "第五", "公乘", "贯丘", "公皙",
    "南荣", "东里", "东宫", "仲长", "子书", "子桑", "即墨", "达奚", "褚师",
};

/* Bytes of the code point at s; 1 for an ASCII byte and for anything
 * that is not strict UTF-8 (bad lead, overlong, surrogate, above
 * U+10FFFF, truncated), which callers treat as one malformed byte. */
static size_t cp_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xC2 && u[0] <= 0xDF)
		n = 2;
	else if (u[0] >= 0xE0 && u[0] <= 0xEF)
		n = 3;
	else if (u[0] >= 0xF0 && u[0] <= 0xF4)
		n = 4;
	else
		return 1;
	for (size_t i = 1; i < n; i++)
		if ((u[i] & 0xC0) != 0x80)
			return 1;
	if ((u[0] == 0xE0 && u[1] < 0xA0) || (u[0] == 0xED && u[1] >= 0xA0) ||
	    (u[0] == 0xF0 && u[1] < 0x90) || (u[0] == 0xF4 && u[1] >= 0x90))
		return 1;
	return n;
}

static unsigned cp_value(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	switch (cp_len(s)) {
	case 2:
		return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
	case 3:
		return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
	case 4:
		return ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) |
		       (u[3] & 0x3Fu);
	default:
		return u[0];
	}
}

static size_t cp_count(const char *s)
{
	size_t n = 0;

	for (; *s; s += cp_len(s))
		n++;
	return n;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

/* Cuts buf at its first byte that does not start a whole code point (a
 * truncation by snprintf, or malformed input): the result is UTF-8. */
static void trim_utf8(char *buf)
{
	for (char *p = buf; *p;) {
		size_t c = cp_len(p);

		if (c == 1 && (unsigned char)*p >= 0x80) {
			*p = '\0';
			return;
		}
		p += c;
	}
}

/* Copies s[0..n) into buf, bounded, on a code point boundary. */
static void copy_span(char *buf, size_t len, const char *s, size_t n)
{
	size_t k = 0;

	if (!len)
		return;
	while (k < n) {
		size_t c = cp_len(s + k);

		if (k + c > n || k + c >= len)
			break;
		k += c;
	}
	memcpy(buf, s, k);
	buf[k] = '\0';
}

/* The Latin surname's span within name (trimmed) into *start, *n. */
static void latin_surname(const char *name, const char **start, size_t *n)
{
	const char *comma = strchr(name, ',');
	const char *p, *tok[16];
	size_t tlen[16];
	int nt = 0, mixed = 0;

	if (comma && comma > name) {
		const char *e = comma;

		while (e > name && is_space(e[-1]))
			e--;
		*start = name;
		*n = (size_t)(e - name);
		return;
	}
	for (p = name; *p && nt < 16;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		tok[nt] = p;
		while (*p && !is_space(*p))
			p++;
		tlen[nt] = (size_t)(p - tok[nt]);
		nt++;
	}
	for (int i = 0; i < nt; i++)
		for (size_t k = 0; k < tlen[i]; k++)
			if (is_lower(tok[i][k]))
				mixed = 1;
	if (mixed && nt > 1) {
		for (int i = 0; i < nt; i++) {
			int caps = tlen[i] >= 2;

			for (size_t k = 0; k < tlen[i] && caps; k++)
				caps = is_upper(tok[i][k]) || tok[i][k] == '-' || tok[i][k] == '\'';
			if (caps) {
				*start = tok[i];
				*n = tlen[i];
				return;
			}
		}
	}
	*start = nt ? tok[nt - 1] : name;
	*n = nt ? tlen[nt - 1] : 0;
}

void greet_display_name(const char *name, char gender, char *buf, size_t len)
{
	const char *honorific = gender == 'M' ? "先生" : gender == 'F' ? "女士" : "贵宾";
	char surname[GREET_NAME_MAX];
	const char *s, *dot;
	size_t n;

	if (!len)
		return;
	buf[0] = '\0';
	while (name && is_space(*name))
		name++;
	if (!name || !*name) {
		snprintf(buf, len, "贵宾");
		trim_utf8(buf);
		return;
	}
	n = strlen(name);
	while (n && is_space(name[n - 1]))
		n--;

	if (cp_value(name) < 0x0250 && cp_len(name) <= 2) {
		/* Latin letters */
		char trimmed[GREET_NAME_MAX * 2];

		copy_span(trimmed, sizeof(trimmed), name, n);
		latin_surname(trimmed, &s, &n);
		copy_span(surname, sizeof(surname), s, n);
		if (gender == 'M')
			snprintf(buf, len, "Mr. %s", surname);
		else if (gender == 'F')
			snprintf(buf, len, "Ms. %s", surname);
		else
			snprintf(buf, len, "%s 贵宾", surname);
		trim_utf8(buf);
		return;
	}
	/* a transliterated name: the part before the first separator dot */
	if ((dot = strstr(name, "·")) != NULL || (dot = strstr(name, "•")) != NULL ||
	    (dot = strstr(name, "・")) != NULL) {
		if (dot > name && (size_t)(dot - name) < n) {
			copy_span(surname, sizeof(surname), name, (size_t)(dot - name));
			snprintf(buf, len, "%s%s", surname, honorific);
			trim_utf8(buf);
			return;
		}
	}
	n = cp_len(name);
	if (cp_count(name) >= 3) {
		for (size_t i = 0; i < PW_ARRAY_LEN(compound_surnames); i++) {
			size_t cl = strlen(compound_surnames[i]);

			if (strncmp(name, compound_surnames[i], cl) == 0) {
				n = cl;
				break;
			}
		}
	}
	copy_span(surname, sizeof(surname), name, n);
	snprintf(buf, len, "%s%s", surname, honorific);
	trim_utf8(buf);
}

void greet_mask_plate(const char *plate, char *buf, size_t len)
{
	size_t total, i, kept_head, pos = 0;
	const char *p;
	int chinese;

	if (!len)
		return;
	buf[0] = '\0';
	if (!plate || !*plate)
		return;
	total = cp_count(plate);
	chinese =
	    cp_value(plate) >= 0x2E80 && total >= 7 && total <= 8 && is_upper(plate[cp_len(plate)]);
	kept_head = chinese ? 2 : total >= 5 ? 1 : 0;
	for (p = plate, i = 0; *p; p += cp_len(p), i++) {
		size_t c = cp_len(p);
		int keep =
		    i < kept_head || (total >= 5 ? i + 2 >= total : total >= 2 && i + 1 == total);

		if (c == 1 && (unsigned char)*p >= 0x80)
			keep = 0; /* a malformed byte: never copied */

		if (chinese && i == 2) {
			if (pos + sizeof("·") - 1 >= len)
				break;
			memcpy(buf + pos, "·", sizeof("·") - 1);
			pos += sizeof("·") - 1;
		}
		if (keep) {
			if (pos + c >= len)
				break;
			memcpy(buf + pos, p, c);
			pos += c;
		} else {
			if (pos + 1 >= len)
				break;
			buf[pos++] = '*';
		}
	}
	buf[pos] = '\0';
}

static int set_str_or_null(json_t *o, const char *key, const char *v)
{
	return json_object_set_new(o, key, v && *v ? json_string(v) : json_null());
}

json_t *greet_greeting(const struct greet_input *in)
{
	json_t *o = json_object();
	char name[GREET_NAME_MAX], plate[GREET_PLATE_MAX];

	if (!o)
		return NULL;
	if (json_object_set_new(o, "type", json_string("greeting")) ||
	    set_str_or_null(o, "id", in->id))
		goto fail;
	if (in->display_consent) {
		greet_display_name(in->name, in->gender, name, sizeof(name));
		greet_mask_plate(in->plate, plate, sizeof(plate));
		if (json_object_set_new(o, "display_name", json_string(name)) ||
		    set_str_or_null(o, "plate_masked", plate))
			goto fail;
	}
	if (set_str_or_null(o, "desk", in->desk) || set_str_or_null(o, "advisor", in->advisor) ||
	    set_str_or_null(o, "service", in->service) ||
	    json_object_set_new(o, "ttl_s", json_integer(in->ttl_s > 0 ? in->ttl_s : GREET_TTL_S)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *greet_frame(const json_t *event)
{
	static const char *const keys[] = {"type", "id",      "display_name", "plate_masked",
	                                   "desk", "advisor", "service",      "ttl_s"};
	const json_t *type = json_object_get(event, "type");
	json_t *o;

	if (!json_is_string(type) || strcmp(json_string_value(type), "greeting") != 0)
		return NULL;
	o = json_object();
	if (!o)
		return NULL;
	for (size_t i = 0; i < PW_ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(event, keys[i]);

		if (v && json_object_set(o, keys[i], v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

void greet_welcome_text(char *buf, size_t len, const char *display_name, const char *desk,
                        const char *advisor)
{
	char who[GREET_NAME_MAX + 8] = "";
	char where[160] = "";

	if (display_name && *display_name)
		snprintf(who, sizeof(who), "，%s", display_name);
	if (desk && *desk && advisor && *advisor)
		snprintf(where, sizeof(where), "请到 %s 号前台，服务顾问%s为您服务。", desk,
		         advisor);
	else if (desk && *desk)
		snprintf(where, sizeof(where), "请到 %s 号前台办理。", desk);
	else if (advisor && *advisor)
		snprintf(where, sizeof(where), "服务顾问%s将为您服务。", advisor);
	else
		snprintf(where, sizeof(where), "服务顾问将很快为您服务。");
	snprintf(buf, len, "欢迎光临%s！%s", who, where);
	trim_utf8(buf);
}
