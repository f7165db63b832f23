// SPDX-License-Identifier: MIT
/* Strict, bounded, allocation-free JSON tokenizer. See auth_json.h. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "policy/auth_json.h"
#include "lib/str.h"

struct jp {
	const char *b;
	size_t len, pos;
	struct auth_json_tok *toks;
	size_t max, n;
	int err;
};

static void ws(struct jp *p)
{
	while (p->pos < p->len) {
		char c = p->b[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int new_tok(struct jp *p, enum auth_json_type type)
{
	struct auth_json_tok *t;

	if (p->n >= p->max) {
		p->err = -E2BIG;
		return -1;
	}
	t = &p->toks[p->n];
	t->type = (uint8_t)type;
	t->start = (uint32_t)p->pos;
	t->end = (uint32_t)p->pos;
	t->size = 0;
	t->next = 0;
	return (int)p->n++;
}

/* Read 4 hex digits at s (bounds checked by caller). -1 if not hex. */
static long hex4(const char *s)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = str_hexval(s[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		if (n < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;	/* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0;	/* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;	/* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;	/* > U+10FFFF */
		return 4;
	}
	return 0;
}

static int parse_string(struct jp *p)
{
	int t;

	/* at '"' */
	p->pos++;
	t = new_tok(p, AUTH_JSON_STRING);
	if (t < 0)
		return -1;
	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->b[p->pos];

		if (c == '"') {
			p->toks[t].end = (uint32_t)p->pos;
			p->toks[t].next = (uint32_t)p->n;
			p->pos++;
			return t;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			long u;

			if (p->pos + 1 >= p->len)
				return -1;
			switch (p->b[p->pos + 1]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				p->pos += 2;
				continue;
			case 'u':
				break;
			default:
				return -1;
			}
			if (p->len - p->pos < 6)
				return -1;
			u = hex4(p->b + p->pos + 2);
			if (u < 0)
				return -1;
			p->pos += 6;
			if (u >= 0xdc00 && u <= 0xdfff)
				return -1;	/* lone low surrogate */
			if (u >= 0xd800 && u <= 0xdbff) {
				long lo;

				if (p->len - p->pos < 6 || p->b[p->pos] != '\\' ||
				    p->b[p->pos + 1] != 'u')
					return -1;
				lo = hex4(p->b + p->pos + 2);
				if (lo < 0xdc00 || lo > 0xdfff)
					return -1;
				p->pos += 6;
			}
			continue;
		}
		{
			size_t l = utf8_len((const unsigned char *)p->b + p->pos,
					    p->len - p->pos);

			if (!l)
				return -1;
			p->pos += l;
		}
	}
	return -1;
}

static bool digit(struct jp *p)
{
	return p->pos < p->len && p->b[p->pos] >= '0' && p->b[p->pos] <= '9';
}

static int parse_number(struct jp *p)
{
	int t = new_tok(p, AUTH_JSON_NUMBER);

	if (t < 0)
		return -1;
	if (p->pos < p->len && p->b[p->pos] == '-')
		p->pos++;
	if (!digit(p))
		return -1;
	if (p->b[p->pos] == '0') {
		p->pos++;
		if (digit(p))
			return -1;	/* leading zero */
	} else {
		while (digit(p))
			p->pos++;
	}
	if (p->pos < p->len && p->b[p->pos] == '.') {
		p->pos++;
		if (!digit(p))
			return -1;
		while (digit(p))
			p->pos++;
	}
	if (p->pos < p->len && (p->b[p->pos] == 'e' || p->b[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len &&
		    (p->b[p->pos] == '+' || p->b[p->pos] == '-'))
			p->pos++;
		if (!digit(p))
			return -1;
		while (digit(p))
			p->pos++;
	}
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = (uint32_t)p->n;
	return t;
}

static int parse_lit(struct jp *p, const char *lit, enum auth_json_type type)
{
	size_t n = strlen(lit);
	int t;

	if (p->len - p->pos < n || memcmp(p->b + p->pos, lit, n))
		return -1;
	t = new_tok(p, type);
	if (t < 0)
		return -1;
	p->pos += n;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = (uint32_t)p->n;
	return t;
}

/* Byte iterator over a validated, escaped JSON string's decoded form. */
struct sit {
	const char *p, *end;
	unsigned char pend[4];
	int npend, ipend;
};

static int sit_next(struct sit *s)
{
	unsigned long cp;

	if (s->ipend < s->npend)
		return s->pend[s->ipend++];
	if (s->p >= s->end)
		return -1;
	if (*s->p != '\\')
		return (unsigned char)*s->p++;
	s->p++;
	switch (*s->p++) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': break;
	default: return (unsigned char)s->p[-1];	/* " \ / */
	}
	cp = (unsigned long)hex4(s->p);
	s->p += 4;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		unsigned long lo = (unsigned long)hex4(s->p + 2);

		s->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	s->npend = 0;
	s->ipend = 0;
	if (cp < 0x80)
		return (int)cp;
	if (cp < 0x800) {
		s->pend[s->npend++] = (unsigned char)(0x80 | (cp & 0x3f));
		return (int)(0xc0 | cp >> 6);
	}
	if (cp < 0x10000) {
		s->pend[s->npend++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		s->pend[s->npend++] = (unsigned char)(0x80 | (cp & 0x3f));
		return (int)(0xe0 | cp >> 12);
	}
	s->pend[s->npend++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	s->pend[s->npend++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	s->pend[s->npend++] = (unsigned char)(0x80 | (cp & 0x3f));
	return (int)(0xf0 | cp >> 18);
}

static void sit_init(struct sit *s, const char *buf,
		     const struct auth_json_tok *t)
{
	s->p = buf + t->start;
	s->end = buf + t->end;
	s->npend = s->ipend = 0;
}

static bool tok_str_eq(const char *buf, const struct auth_json_tok *a,
		       const struct auth_json_tok *b)
{
	struct sit x, y;
	int cx, cy;

	sit_init(&x, buf, a);
	sit_init(&y, buf, b);
	do {
		cx = sit_next(&x);
		cy = sit_next(&y);
		if (cx != cy)
			return false;
	} while (cx >= 0);
	return true;
}

static int parse_value(struct jp *p, unsigned int depth);

static int parse_container(struct jp *p, unsigned int depth, bool obj)
{
	int t = new_tok(p, obj ? AUTH_JSON_OBJECT : AUTH_JSON_ARRAY);
	char close = obj ? '}' : ']';

	if (t < 0)
		return -1;
	if (depth >= AUTH_JSON_MAX_DEPTH) {
		p->err = -E2BIG;
		return -1;
	}
	p->pos++;	/* '{' or '[' */
	ws(p);
	if (p->pos < p->len && p->b[p->pos] == close) {
		p->pos++;
		goto done;
	}
	for (;;) {
		if (obj) {
			int k;

			if (p->pos >= p->len || p->b[p->pos] != '"')
				return -1;
			k = parse_string(p);
			if (k < 0)
				return -1;
			/* duplicate member names are rejected */
			for (uint32_t i = (uint32_t)t + 1; i < (uint32_t)k;) {
				if (tok_str_eq(p->b, &p->toks[i], &p->toks[k]))
					return -1;
				i = p->toks[i + 1].next;	/* skip key+value */
			}
			ws(p);
			if (p->pos >= p->len || p->b[p->pos] != ':')
				return -1;
			p->pos++;
		}
		if (parse_value(p, depth + 1) < 0)
			return -1;
		p->toks[t].size++;
		ws(p);
		if (p->pos >= p->len)
			return -1;
		if (p->b[p->pos] == ',') {
			p->pos++;
			ws(p);
			continue;
		}
		if (p->b[p->pos] != close)
			return -1;
		p->pos++;
		break;
	}
done:
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = (uint32_t)p->n;
	return t;
}

static int parse_value(struct jp *p, unsigned int depth)
{
	ws(p);
	if (p->pos >= p->len)
		return -1;
	switch (p->b[p->pos]) {
	case '{':
		return parse_container(p, depth, true);
	case '[':
		return parse_container(p, depth, false);
	case '"':
		return parse_string(p);
	case 't':
		return parse_lit(p, "true", AUTH_JSON_TRUE);
	case 'f':
		return parse_lit(p, "false", AUTH_JSON_FALSE);
	case 'n':
		return parse_lit(p, "null", AUTH_JSON_NULL);
	default:
		return parse_number(p);
	}
}

int auth_json_parse(const char *buf, size_t len, struct auth_json_tok *toks,
		    size_t max_toks)
{
	struct jp p = {
		.b = buf, .len = len, .toks = toks, .max = max_toks,
	};

	if (len >= (size_t)INT32_MAX || max_toks > (size_t)INT32_MAX)
		return -E2BIG;
	if (parse_value(&p, 0) < 0)
		return p.err ? p.err : -EINVAL;
	ws(&p);
	if (p.pos != len)
		return -EINVAL;
	return (int)p.n;
}

int auth_json_get(const char *buf, const struct auth_json_tok *toks, int obj,
		  const char *key)
{
	const struct auth_json_tok *o = &toks[obj];
	size_t klen = strlen(key);
	uint32_t i = (uint32_t)obj + 1;

	if (o->type != AUTH_JSON_OBJECT)
		return -EINVAL;
	for (uint32_t m = 0; m < o->size; m++) {
		if (auth_json_str_eq(buf, &toks[i], key, klen))
			return (int)i + 1;
		i = toks[i + 1].next;
	}
	return -ENOENT;
}

int auth_json_elem(const struct auth_json_tok *toks, int arr, uint32_t idx)
{
	const struct auth_json_tok *a = &toks[arr];
	uint32_t i = (uint32_t)arr + 1;

	if (a->type != AUTH_JSON_ARRAY || idx >= a->size)
		return -ENOENT;
	while (idx--)
		i = toks[i].next;
	return (int)i;
}

bool auth_json_str_eq(const char *buf, const struct auth_json_tok *t,
		      const char *s, size_t n)
{
	struct sit it;
	size_t i = 0;
	int c;

	if (t->type != AUTH_JSON_STRING)
		return false;
	sit_init(&it, buf, t);
	while ((c = sit_next(&it)) >= 0) {
		if (i >= n || (unsigned char)s[i] != c)
			return false;
		i++;
	}
	return i == n;
}

ssize_t auth_json_str(const char *buf, const struct auth_json_tok *t,
		      char *out, size_t outlen)
{
	struct sit it;
	size_t i = 0;
	int c;

	if (t->type != AUTH_JSON_STRING)
		return -EINVAL;
	sit_init(&it, buf, t);
	while ((c = sit_next(&it)) >= 0) {
		if (c == 0)
			return -EINVAL;
		if (i + 1 >= outlen)
			return -ENOSPC;
		out[i++] = (char)c;
	}
	if (!outlen)
		return -ENOSPC;
	out[i] = '\0';
	return (ssize_t)i;
}

int auth_json_int(const char *buf, const struct auth_json_tok *t, int64_t *v)
{
	const char *s = buf + t->start, *e = buf + t->end;
	bool neg = false;
	uint64_t acc = 0;

	if (t->type != AUTH_JSON_NUMBER)
		return -EINVAL;
	for (const char *q = s; q < e; q++)
		if (*q == 'e' || *q == 'E')
			return -EINVAL;
	if (*s == '-') {
		neg = true;
		s++;
	}
	for (; s < e && *s != '.'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (acc > (UINT64_MAX - d) / 10)
			return -ERANGE;
		acc = acc * 10 + d;
	}
	if (neg) {
		if (acc > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		*v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	} else {
		if (acc > (uint64_t)INT64_MAX)
			return -ERANGE;
		*v = (int64_t)acc;
	}
	return 0;
}
