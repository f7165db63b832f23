// SPDX-License-Identifier: MIT
/*
 * Unit tests for daemon/policy/balance.c: each picker's spread (tables of
 * weights, 10,000 picks, within 5% of the weights' share), how few keys
 * the hash ring moves when a target leaves, least request preferring the
 * less loaded target, outlier ejection with its cap and back-off, health
 * thresholds, panic mode, the retry budget, and the service config that
 * feeds them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "policy/balance.h"

#define PICKS 10000

static struct balance_set all(unsigned int n)
{
	struct balance_set s = {0};

	for (unsigned int i = 0; i < n; i++)
		balance_set_add(&s, i);
	return s;
}

struct spread_case {
	const char *name;
	unsigned int n;
	uint32_t w[8];
};

static const struct spread_case spread_cases[] = {
	{"equal 3", 3, {1, 1, 1}},
	{"1:3", 2, {1, 3}},
	{"5:1:1", 3, {5, 1, 1}},
	{"1:2:3:4", 4, {1, 2, 3, 4}},
	{"single", 1, {7}},
	{"heavy 100:1", 2, {100, 1}},
	{"eight mixed", 8, {1, 2, 1, 5, 3, 1, 1, 2}},
};

/* counts[i] within 5% (of PICKS) of the weight's share */
static void check_spread(const char *what, const struct spread_case *c,
			 const unsigned int *counts)
{
	uint32_t total = 0;

	for (unsigned int i = 0; i < c->n; i++)
		total += c->w[i];
	for (unsigned int i = 0; i < c->n; i++) {
		double want = (double)PICKS * c->w[i] / total;

		if (fabs(counts[i] - want) > PICKS * 0.05)
			fail_msg("%s %s: target %u got %u picks, want ~%.0f",
				 what, c->name, i, counts[i], want);
	}
}

static void test_wrr_spread(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(spread_cases) / sizeof(*spread_cases);
	     k++) {
		const struct spread_case *c = &spread_cases[k];
		struct balance_set ok = all(c->n);
		int64_t cur[8] = {0};
		unsigned int counts[8] = {0};

		for (int i = 0; i < PICKS; i++) {
			int t = balance_wrr(c->n, c->w, cur, &ok);

			assert_true(t >= 0 && (unsigned int)t < c->n);
			counts[t]++;
		}
		check_spread("wrr", c, counts);
	}
}

/* Smooth: 5,1,1 interleaves (NGINX's sequence a a b a c a a). */
static void test_wrr_smooth(void **state)
{
	uint32_t w[3] = {5, 1, 1};
	int64_t cur[3] = {0};
	struct balance_set ok = all(3);
	char seq[8] = {0};

	(void)state;
	for (int i = 0; i < 7; i++)
		seq[i] = (char)('a' + balance_wrr(3, w, cur, &ok));
	assert_string_equal(seq, "aabacaa");
}

static void test_wrr_skips_unavailable(void **state)
{
	uint32_t w[3] = {1, 1, 1};
	int64_t cur[3] = {0};
	struct balance_set ok = all(3), none = {0};

	(void)state;
	balance_set_del(&ok, 1);
	for (int i = 0; i < 100; i++)
		assert_int_not_equal(balance_wrr(3, w, cur, &ok), 1);
	assert_int_equal(balance_wrr(3, w, cur, &none), -1);
}

/*
 * p2c's spread under load: every request takes the same time (LAT picks),
 * so a target's share of picks is its average number in flight over LAT,
 * and least request keeps that in proportion to the weights.
 */
#define LAT 64

static void test_p2c_spread(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(spread_cases) / sizeof(*spread_cases);
	     k++) {
		const struct spread_case *c = &spread_cases[k];
		struct balance_set ok = all(c->n);
		uint32_t active[8] = {0};
		unsigned int counts[8] = {0};
		int fifo[LAT];
		uint64_t rnd = 42;

		for (int i = 0; i < LAT; i++)
			fifo[i] = -1;
		for (int i = 0; i < PICKS + LAT; i++) {
			int t, *slot = &fifo[i % LAT];

			if (*slot >= 0)
				active[*slot]--; /* the oldest finished */
			t = balance_p2c(c->n, c->w, active, &ok,
					balance_rand(&rnd));
			assert_true(t >= 0 && (unsigned int)t < c->n);
			active[t]++;
			*slot = t;
			if (i >= LAT) /* steady state only */
				counts[t]++;
		}
		if (c->w[0] != 100) /* 100:1 has no steady state at LAT */
			check_spread("p2c", c, counts);
	}
}

static void test_p2c_prefers_less_loaded(void **state)
{
	uint32_t w[4] = {1, 1, 1, 1};
	uint32_t active[4] = {10, 0, 10, 10};
	struct balance_set ok = all(4);
	uint64_t rnd = 7;
	unsigned int idle = 0, n = 0;

	(void)state;
	for (int i = 0; i < PICKS; i++) {
		int t = balance_p2c(4, w, active, &ok, balance_rand(&rnd));

		/* whenever target 1 is one of the two, it wins */
		idle += t == 1;
		n++;
		assert_true(t >= 0 && t < 4);
	}
	/* it is among the two (drawn by weight, with replacement) in
	 * 1 - (3/4)^2 = 7/16 of the draws */
	assert_true(fabs(idle - n * 7.0 / 16) < n * 0.05);

	/* weight-aware: 10 in flight on weight 10 beats 2 on weight 1 */
	{
		uint32_t w2[2] = {10, 1}, a2[2] = {10, 2};
		struct balance_set ok2 = all(2);

		for (int i = 0; i < 100; i++)
			assert_int_equal(balance_p2c(2, w2, a2, &ok2,
						     balance_rand(&rnd)),
					 0);
	}
	/* never a target outside the set */
	balance_set_del(&ok, 1);
	for (int i = 0; i < 1000; i++)
		assert_int_not_equal(
			balance_p2c(4, w, active, &ok, balance_rand(&rnd)), 1);
}

static void ring_of(struct balance_ring *r, unsigned int n, const uint32_t *w)
{
	static char names[16][32];
	const char *p[16];

	for (unsigned int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "10.0.0.%u:80", i + 1);
		p[i] = names[i];
	}
	assert_int_equal(balance_ring_build(r, n, w, p), 0);
}

static void test_ring_spread(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(spread_cases) / sizeof(*spread_cases);
	     k++) {
		const struct spread_case *c = &spread_cases[k];
		struct balance_ring r;
		struct balance_set ok = all(c->n);
		unsigned int counts[8] = {0};

		if (c->w[0] == 100)
			continue; /* 101 * 160 points: fine, but slow */
		ring_of(&r, c->n, c->w);
		for (int i = 0; i < PICKS; i++) {
			char key[32];
			int t;

			snprintf(key, sizeof(key), "user-%d", i);
			t = balance_ring_pick(
				&r, balance_hash(key, strlen(key)), &ok);
			assert_true(t >= 0 && (unsigned int)t < c->n);
			counts[t]++;
		}
		check_spread("ring", c, counts);
		balance_ring_free(&r);
	}
}

/* A target leaving moves at most 1/N + 5% of the keys, and only its own. */
static void test_ring_moves_few_keys(void **state)
{
	static const unsigned int ns[] = {2, 3, 5, 8, 16};

	(void)state;
	for (size_t k = 0; k < sizeof(ns) / sizeof(*ns); k++) {
		unsigned int n = ns[k];
		uint32_t w[16];
		struct balance_ring r;
		struct balance_set ok = all(n), less;
		unsigned int moved = 0;

		for (unsigned int i = 0; i < n; i++)
			w[i] = 1;
		ring_of(&r, n, w);
		for (unsigned int gone = 0; gone < n; gone++) {
			less = ok;
			balance_set_del(&less, gone);
			moved = 0;
			for (int i = 0; i < PICKS; i++) {
				char key[32];
				uint64_t h;
				int a, b;

				snprintf(key, sizeof(key), "key-%d", i);
				h = balance_hash(key, strlen(key));
				a = balance_ring_pick(&r, h, &ok);
				b = balance_ring_pick(&r, h, &less);
				if (a != b) {
					moved++;
					if (a != (int)gone)
						fail_msg(
							"n=%u: key of %d moved "
							"when %u left",
							n, a, gone);
				}
			}
			if (moved > PICKS / n + PICKS / 20)
				fail_msg(
					"n=%u: %u keys of %d moved when %u "
					"left (max %d)",
					n, moved, PICKS, gone,
					PICKS / n + PICKS / 20);
		}
		balance_ring_free(&r);
	}
}

/* Cookie values for hash_on: cookie:NAME, hostile rows included. */
static void test_cookie(void **state)
{
	static const struct {
		const char *field, *name, *want; /* want NULL: absent */
	} rows[] = {
		{"session=abc", "session", "abc"},
		{"a=1; session=abc; b=2", "session", "abc"},
		{"a=1;session=abc", "session", "abc"},
		{"session=abc ; b=2", "session", "abc"},
		{"session=", "session", ""},
		{"xsession=abc", "session", NULL},
		{"sessionx=abc", "session", NULL},
		{"Session=abc", "session", NULL},
		{"session", "session", NULL},
		{"a=session=abc", "session", NULL},
		{"a=1; session=first; session=second", "session", "first"},
		{";;;", "session", NULL},
		{"", "session", NULL},
		{"session=a\0b", "session", "a\0b"},
		{"a=1", "", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		const char *v = NULL;
		size_t vlen = 0;
		bool got = balance_cookie(rows[i].field, strlen(rows[i].field),
					  rows[i].name, &v, &vlen);

		if (got != (rows[i].want != NULL))
			fail_msg("row %zu '%s': found %d", i, rows[i].field,
				 got);
		if (got && (vlen != strlen(rows[i].want) ||
			    memcmp(v, rows[i].want, vlen)))
			fail_msg("row %zu '%s': got '%.*s'", i, rows[i].field,
				 (int)vlen, v);
	}
}

/* ---- shared state -------------------------------------------------------- */

static struct config *load(const char *svc_yaml)
{
	char text[4096];
	struct config *c = NULL;
	char *errs = NULL;

	snprintf(text, sizeof(text),
		 "listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
		 "xdp: {enabled: false}\n"
		 "services:\n%s"
		 "routes: [{name: r, path_prefix: /, service: s}]\n",
		 svc_yaml);
	if (config_parse("b.yaml", text, strlen(text), &c, &errs)) {
		print_error("config errors:\n%s", errs ? errs : "");
		free(errs);
		fail();
	}
	return c;
}

static void test_config_service(void **state)
{
	struct config *c = load(
		"  - name: s\n"
		"    targets: [127.0.0.1:9001, {address: '127.0.0.1:9002', "
		"weight: 3}]\n"
		"    lb: hash\n"
		"    hash_on: header:X-User\n"
		"    health: {path: /hz, interval_ms: 500, expect: [200-299, "
		"404]}\n"
		"    outlier: {consecutive_5xx: 4}\n"
		"    retries: {attempts: 3, budget_percent: 50}\n"
		"    limits: {max_connections: 10, max_pending: 5}\n");
	const struct config_service *s = &c->services[0];

	(void)state;
	assert_int_equal(s->targets[0].weight, 1);
	assert_int_equal(s->targets[1].weight, 3);
	assert_string_equal(s->targets[1].text, "127.0.0.1:9002");
	assert_int_equal(s->lb, CFG_LB_HASH);
	assert_int_equal(s->hash_kind, CFG_HASH_HEADER);
	assert_string_equal(s->hash_name, "X-User");
	assert_true(s->health.enabled);
	assert_string_equal(s->health.path, "/hz");
	assert_int_equal(s->health.timeout_ms, 1000);
	assert_int_equal(s->health.expect_lo[1], 404);
	assert_int_equal(s->health.expect_hi[0], 299);
	assert_true(s->outlier.enabled);
	assert_int_equal(s->outlier.consecutive_5xx, 4);
	assert_int_equal(s->outlier.consecutive_connect_failures, 3);
	assert_int_equal(s->retries.attempts, 3);
	assert_int_equal(s->limits.max_pending, 5);
	config_put(c);

	/* today's form: plain targets, defaults */
	c = load("  - {name: s, targets: [127.0.0.1:9001]}\n");
	s = &c->services[0];
	assert_int_equal(s->lb, CFG_LB_ROUND_ROBIN);
	assert_false(s->health.enabled);
	assert_false(s->outlier.enabled);
	assert_int_equal(s->retries.attempts, 2);
	assert_int_equal(s->targets[0].weight, 1);
	config_put(c);
}

/* Hostile or wrong service config: each row is refused with its message. */
static void test_config_service_errors(void **state)
{
	static const struct {
		const char *yaml, *msg;
	} rows[] = {
		{"[{address: '127.0.0.1:1', weight: 0}]", "weight"},
		{"[{address: '127.0.0.1:1', weight: 1001}]", "weight"},
		{"[{weight: 2}]", "missing required key 'address'"},
		{"[{address: '127.0.0.1:1', port: 2}]", "unknown key"},
		{"[{address: 'nohost'}]", "targets[0].address"},
	};
	static const struct {
		const char *extra, *msg;
	} svc_rows[] = {
		{"lb: random", "lb"},
		{"hash_on: body", "invalid hash_on"},
		{"hash_on: 'header:'", "invalid hash_on"},
		{"health: {expect: [600]}", "invalid status range"},
		{"health: {expect: [399-200]}", "invalid status range"},
		{"health: {path: healthz}", "must start with '/'"},
		{"health: {interval_ms: 1}", "interval_ms"},
		{"retries: {attempts: 11}", "attempts"},
		{"retries: {per_try_timeout_ms: 600001}", "per_try_timeout_ms"},
		{"outlier: {max_ejected_percent: 101}", "max_ejected_percent"},
	};
	char yaml[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		struct config *c = NULL;
		char *errs = NULL;

		snprintf(yaml, sizeof(yaml),
			 "listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
			 "xdp: {enabled: false}\n"
			 "services: [{name: s, targets: %s}]\n"
			 "routes: [{name: r, path_prefix: /, service: s}]\n",
			 rows[i].yaml);
		if (!config_parse("b.yaml", yaml, strlen(yaml), &c, &errs))
			fail_msg("row %zu (%s): accepted", i, rows[i].yaml);
		if (!errs || !strstr(errs, rows[i].msg))
			fail_msg("row %zu (%s): '%s' not in: %s", i,
				 rows[i].yaml, rows[i].msg, errs ? errs : "");
		free(errs);
	}
	for (size_t i = 0; i < sizeof(svc_rows) / sizeof(*svc_rows); i++) {
		struct config *c = NULL;
		char *errs = NULL;

		snprintf(yaml, sizeof(yaml),
			 "listeners: [{name: l, address: '127.0.0.1:8080'}]\n"
			 "xdp: {enabled: false}\n"
			 "services:\n  - name: s\n    targets: [127.0.0.1:1]\n"
			 "    %s\n"
			 "routes: [{name: r, path_prefix: /, service: s}]\n",
			 svc_rows[i].extra);
		if (!config_parse("b.yaml", yaml, strlen(yaml), &c, &errs))
			fail_msg("row %zu (%s): accepted", i,
				 svc_rows[i].extra);
		if (!errs || !strstr(errs, svc_rows[i].msg))
			fail_msg("row %zu (%s): '%s' not in: %s", i,
				 svc_rows[i].extra, svc_rows[i].msg,
				 errs ? errs : "");
		free(errs);
	}
}

static struct balance_state *state_of(struct config **cp, const char *yaml)
{
	struct balance_state *st;

	*cp = load(yaml);
	st = balance_state_new(&(*cp)->services[0], 2);
	assert_non_null(st);
	return st;
}

static void test_outlier_ejection(void **state)
{
	struct config *c;
	struct balance_state *st = state_of(
		&c,
		"  - name: s\n"
		"    targets: [127.0.0.1:1, 127.0.0.1:2, 127.0.0.1:3, "
		"127.0.0.1:4]\n"
		"    outlier: {consecutive_5xx: 3, base_ejection_ms: 1000, "
		"max_ejected_percent: 50}\n");
	const struct config_outlier *o = &c->services[0].outlier;
	uint64_t now = 10000;

	(void)state;
	/* two 5xx, a success, two more: no ejection (consecutive) */
	assert_false(balance_report(st, o, 0, false, 500, now, 1));
	assert_false(balance_report(st, o, 0, false, 502, now, 1));
	assert_false(balance_report(st, o, 0, false, 200, now, 1));
	assert_false(balance_report(st, o, 0, false, 503, now, 1));
	assert_false(balance_report(st, o, 0, false, 0, now, 1));
	assert_true(balance_report(st, o, 0, false, 500, now, 1));
	assert_false(balance_target_ok(st, 0, now));
	assert_true(balance_target_ok(st, 0, now + 1000));
	/* the cap: 50% of 4 = 2 out at once */
	for (int i = 0; i < 3; i++)
		balance_report(st, o, 1, false, 500, now, 1);
	assert_false(balance_target_ok(st, 1, now));
	for (int i = 0; i < 5; i++)
		assert_false(balance_report(st, o, 2, false, 500, now, 1));
	assert_true(balance_target_ok(st, 2, now));
	/* back-off: the second ejection of target 0 lasts twice as long */
	now += 1001;
	for (int i = 0; i < 3; i++)
		balance_report(st, o, 0, false, 500, now, 1);
	assert_false(balance_target_ok(st, 0, now + 1999));
	assert_true(balance_target_ok(st, 0, now + 2000));
	/* connect failures count separately (3 by default) */
	assert_false(balance_report(st, o, 3, true, 0, now + 5000, 1));
	balance_state_put(st);
	config_put(c);
}

static void test_health_thresholds_and_panic(void **state)
{
	struct config *c;
	struct balance_state *st =
		state_of(&c,
			 "  - name: s\n"
			 "    targets: [127.0.0.1:1, 127.0.0.1:2]\n"
			 "    health: {healthy: 2, unhealthy: 3}\n");
	const struct config_health *h = &c->services[0].health;
	struct balance_set ok;
	bool panic;

	(void)state;
	assert_int_equal(balance_health_result(st, h, 0, false, 5), 0);
	assert_int_equal(balance_health_result(st, h, 0, false, 5), 0);
	assert_int_equal(balance_health_result(st, h, 0, true, 5), 0);
	assert_int_equal(balance_health_result(st, h, 0, false, 5), 0);
	assert_int_equal(balance_health_result(st, h, 0, false, 5), 0);
	assert_int_equal(balance_health_result(st, h, 0, false, 6), -1);
	assert_int_equal(atomic_load(&st->t[0].last_change_s), 6);
	balance_candidates(st, 0, NULL, &ok, &panic);
	assert_false(panic);
	assert_int_equal(balance_set_count(&ok), 1);
	assert_true(balance_set_has(&ok, 1));
	/* both out: panic mode offers both */
	for (int i = 0; i < 3; i++)
		balance_health_result(st, h, 1, false, 7);
	balance_candidates(st, 0, NULL, &ok, &panic);
	assert_true(panic);
	assert_int_equal(balance_set_count(&ok), 2);
	/* a recovered target comes back after `healthy` passes */
	assert_int_equal(balance_health_result(st, h, 0, true, 8), 0);
	assert_int_equal(balance_health_result(st, h, 0, true, 9), 1);
	balance_candidates(st, 0, NULL, &ok, &panic);
	assert_false(panic);
	assert_true(balance_set_has(&ok, 0));
	assert_int_equal(atomic_load(&st->t[0].health_changes), 2);
	balance_state_put(st);
	config_put(c);
}

static void test_retry_budget(void **state)
{
	struct config *c;
	struct balance_state *st =
		state_of(&c, "  - {name: s, targets: [127.0.0.1:1]}\n");

	(void)state;
	/* the floor: 3 retries at once even with nothing in flight */
	atomic_store(&st->retrying, 2);
	assert_true(balance_retry_allowed(st, 20));
	atomic_store(&st->retrying, 3);
	assert_false(balance_retry_allowed(st, 20));
	/* 20% of 100 in flight */
	atomic_store(&st->active, 100);
	atomic_store(&st->retrying, 19);
	assert_true(balance_retry_allowed(st, 20));
	atomic_store(&st->retrying, 20);
	assert_false(balance_retry_allowed(st, 20));
	balance_state_put(st);
	config_put(c);
}

/* A reload with the same targets shares; a changed list carries state. */
static void test_state_reload(void **state)
{
	struct config *c1, *c2;
	struct balance_state *a = state_of(
		&c1, "  - {name: s, targets: [127.0.0.1:1, 127.0.0.1:2]}\n");
	struct balance_state *b = state_of(
		&c2, "  - {name: s, targets: [127.0.0.1:2, 127.0.0.1:3]}\n");

	(void)state;
	assert_true(balance_state_fits(a, &c1->services[0]));
	assert_false(balance_state_fits(a, &c2->services[0]));
	atomic_store(&a->t[1].hc_up, 0);
	balance_state_carry(b, a);
	assert_int_equal(atomic_load(&b->t[0].hc_up), 0); /* :2 */
	assert_int_equal(atomic_load(&b->t[1].hc_up), 1); /* :3 new */
	balance_state_put(a);
	balance_state_put(b);
	config_put(c1);
	config_put(c2);
}

/* A resolved address as control/dns.c makes it. */
static struct config_addr v4(const char *ip, uint16_t port)
{
	struct config_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	a.salen = sizeof(*sin);
	a.port = port;
	snprintf(a.text, sizeof(a.text), "%s:%u", ip, port);
	return a;
}

/* DNS-named targets: a state over the literal targets and the names'
 * addresses (each with the name's weight and its origin), rebased on a
 * reload with the addresses and health of what stays. */
static void test_state_names(void **state)
{
	struct config *c1 = load("  - {name: s, targets: [127.0.0.1:1, "
				 "{address: api.test:9, weight: 3}]}\n");
	struct config *c2 = load("  - {name: s, targets: [api.test:9, "
				 "other.test:8]}\n");
	const struct config_service *s1 = &c1->services[0];
	struct config_addr addrs[3];
	unsigned int from[3] = { 0, 1, 1 };
	struct balance_state *a, *b, *empty;

	(void)state;
	/* before any answer: the literal target only */
	empty = balance_state_new(s1, 2);
	assert_non_null(empty);
	assert_int_equal(empty->n_targets, 1);
	assert_string_equal(empty->targets[0].text, "127.0.0.1:1");
	assert_string_equal(empty->origin[0], "");
	assert_false(balance_state_fits(empty, s1));	/* names: never */
	balance_state_put(empty);

	addrs[0] = s1->targets[0];
	addrs[1] = v4("127.0.0.2", 9);
	addrs[2] = v4("127.0.0.3", 9);
	a = balance_state_build(s1, addrs, from, 3, 2);
	assert_non_null(a);
	assert_int_equal(a->n_targets, 3);
	assert_int_equal(a->weight[0], 1);
	assert_int_equal(a->weight[1], 3);
	assert_int_equal(a->targets[2].weight, 3);
	assert_string_equal(a->origin[1], "api.test:9");
	assert_string_equal(a->targets[2].text, "127.0.0.3:9");
	atomic_store(&a->t[2].hc_up, 0);	/* 127.0.0.3:9 out */

	/* reload: api.test:9 keeps both addresses and 127.0.0.3's health;
	 * the literal target and its state are gone; other.test has none */
	b = balance_state_rebase(&c2->services[0], a, 2);
	assert_non_null(b);
	assert_int_equal(b->n_targets, 2);
	assert_string_equal(b->targets[0].text, "127.0.0.2:9");
	assert_string_equal(b->targets[1].text, "127.0.0.3:9");
	assert_int_equal(b->weight[0], 1);	/* the new config's weight */
	assert_int_equal(atomic_load(&b->t[0].hc_up), 1);
	assert_int_equal(atomic_load(&b->t[1].hc_up), 0);
	assert_string_equal(b->origin[1], "api.test:9");
	balance_state_put(a);
	balance_state_put(b);
	config_put(c1);
	config_put(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrr_spread),
		cmocka_unit_test(test_wrr_smooth),
		cmocka_unit_test(test_wrr_skips_unavailable),
		cmocka_unit_test(test_p2c_spread),
		cmocka_unit_test(test_p2c_prefers_less_loaded),
		cmocka_unit_test(test_ring_spread),
		cmocka_unit_test(test_ring_moves_few_keys),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_config_service),
		cmocka_unit_test(test_config_service_errors),
		cmocka_unit_test(test_outlier_ejection),
		cmocka_unit_test(test_health_thresholds_and_panic),
		cmocka_unit_test(test_retry_budget),
		cmocka_unit_test(test_state_reload),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
