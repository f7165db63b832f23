// SPDX-License-Identifier: MIT
/*
 * rulesbench: large allow/deny lists (`make bench-rules`). Not a test: it
 * reports numbers, it asserts nothing.
 *
 *   rulesbench [--sizes 1,1000,100000,1000000] [--repeat N] [--rounds N]
 *              [--family 4|6] [--list allow|deny] [--prealloc]
 *
 * For each family (IPv4 /32s, IPv6 /128s: the most entries a list holds
 * for a given number of clients; they go to the host hash, the covering
 * prefix to the trie), list (allowlist, denylist) and size N:
 *  - load: open and load the program with the tries and host hashes sized
 *    for 2N entries (what xdp.list_size gives), ms;
 *  - fill: the first sync of N random entries plus a covering prefix of the
 *    probe source (xdpctl_sync_maps() from empty), s;
 *  - same: a sync to the same N entries again (a reload that changes
 *    nothing in the list: every entry is kept), s;
 *  - resync: a sync to a disjoint set of N entries whose covering prefix
 *    also holds the probe (the worst reload: every entry changes), s; a
 *    thread runs the probe through the program meanwhile and counts runs
 *    that got the wrong action (allowlist: anything but pass; denylist:
 *    anything but drop): `gap_runs` must be 0. Besides the wall time, the
 *    CPU time of the syncing thread (its system calls included), which
 *    moves less with other load on the machine;
 *  - memory: the list's memlock (its trie and its host hash) as the kernel
 *    reports it (fdinfo), bytes;
 *  - per-packet cost: BPF_PROG_TEST_RUN with repeat on the probe frame (a
 *    listed source, found by the trie after a host hash miss) and a miss (a
 *    source in no list: one hash lookup and one trie walk per list),
 *    the median of --rounds runs, ns. Rate limits are off, so the tries are
 *    walked for every packet (with rate limits on, an IPv4 source that
 *    passed is cached and skips them).
 * --prealloc loads the host hashes preallocated (map_flags 0 instead of
 * BPF_F_NO_PREALLOC), to measure that trade: load time and memory against
 * sync time.
 * Prints one JSON object (scripts/bench-rules.sh stores it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <sluice/abi.h>

#include "config/allowlist.h"
#include "config/config.h"
#include "lib/log.h"
#include "sluice_xdp.skel.h"
#include "xdp/xdpctl.h"

#define PORT	   8080
#define FRAME_LEN  74
#define MAX_ROUNDS 31

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of the calling thread, user and system. */
static double cpu_s(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "rulesbench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* A TCP SYN to PORT from src (family 4 or 6), FRAME_LEN bytes or so. */
static size_t build_frame(uint8_t *b, int family, const char *src)
{
	uint8_t *ip = b + 14, *th;
	size_t len;

	memset(b, 0, 128);
	b[0] = 2;
	b[6] = 2;
	b[11] = 1;
	if (family == 4) {
		b[12] = 0x08;
		ip[0] = 0x45;
		ip[3] = 40;
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		inet_pton(AF_INET, src, ip + 12);
		inet_pton(AF_INET, "198.18.1.1", ip + 16);
		th = ip + 20;
	} else {
		b[12] = 0x86;
		b[13] = 0xdd;
		ip[0] = 0x60;
		ip[5] = 20;
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		inet_pton(AF_INET6, src, ip + 8);
		inet_pton(AF_INET6, "fd00:5c::1", ip + 24);
		th = ip + 40;
	}
	th[0] = 40000 >> 8;
	th[1] = 40000 & 0xff;
	th[2] = PORT >> 8;
	th[3] = PORT & 0xff;
	th[12] = 5 << 4;
	th[13] = 0x02;
	th[14] = 0xff;
	th[15] = 0xff;
	len = (size_t)(th + 20 - b);
	return len < 60 ? 60 : len;
}

/* N random host entries (seeded: the same lists every run), then the
 * probe's covering prefix. Random addresses avoid 198.18/15, fd00:5c::/32. */
static void fill_list(struct allowlist *l, int family, size_t n,
		      unsigned int seed, int cover_len)
{
	for (size_t i = 0; i < n; i++) {
		struct allowlist_entry *e = &l->entries[i];

		memset(e, 0, sizeof(*e));
		e->family = family == 4 ? AF_INET : AF_INET6;
		e->prefixlen = family == 4 ? 32 : 128;
		for (int j = 0; j < 16; j++)
			e->addr[j] = (uint8_t)rand_r(&seed);
		e->addr[0] = (uint8_t)(1 + e->addr[0] % 100); /* 1..100 */
	}
	memset(&l->entries[n], 0, sizeof(l->entries[n]));
	l->entries[n].family = family == 4 ? AF_INET : AF_INET6;
	l->entries[n].prefixlen = (uint8_t)cover_len;
	if (family == 4)
		inet_pton(AF_INET, "198.18.0.0", l->entries[n].addr);
	else
		inet_pton(AF_INET6, "fd00:5c::", l->entries[n].addr);
	l->n = n + 1;
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

static double cost_ns(int prog_fd, const uint8_t *f, size_t len, __u32 repeat,
		      int rounds, double *lo, double *hi)
{
	double v[MAX_ROUNDS];

	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
			    .data_size_in = (__u32)len, .repeat = repeat);

		if (bpf_prog_test_run_opts(prog_fd, &o))
			die("BPF_PROG_TEST_RUN", errno);
		v[r] = (double)o.duration;
	}
	median(v, rounds);
	*lo = v[0];
	*hi = v[rounds - 1];
	return v[rounds / 2];
}

/* memlock of a map, from /proc/self/fdinfo. */
static long memlock(int fd)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

struct probe {
	int prog_fd;
	const uint8_t *frame;
	size_t len;
	__u32 want;
	volatile int stop;
	unsigned long runs, wrong;
};

static void *probe_thread(void *arg)
{
	struct probe *p = arg;

	while (!p->stop) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->frame,
			    .data_size_in = (__u32)p->len, .repeat = 1);

		if (bpf_prog_test_run_opts(p->prog_fd, &o) == 0 &&
		    o.retval != p->want)
			p->wrong++;
		p->runs++;
	}
	return NULL;
}

static bool prealloc;

static void one(int family, bool deny, size_t n, __u32 repeat, int rounds,
		bool first)
{
	struct sluice_xdp *skel;
	struct xdpctl_map_fds fds;
	struct allowlist_entry *ents;
	struct config cfg;
	struct allowlist *l;
	struct bpf_map *m;
	struct probe p = {0};
	uint8_t hit[128], miss[128];
	size_t hit_len, miss_len;
	uint16_t port = PORT;
	__u32 cap = (__u32)(2 * n + 16 < 1024 ? 1024 : 2 * n + 16);
	double t0, c0, load_ms, fill_s, same_s, resync_s, resync_cpu_s;
	double hit_ns, miss_ns, lo, hi, mlo, mhi;
	int list_fd, host_fd, err;
	pthread_t th;

	t0 = now_s();
	skel = sluice_xdp__open();
	if (!skel)
		die("open", errno);
	bpf_object__for_each_map(m, skel->obj) bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_ALLOW4, cap);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_ALLOW6, cap);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_DENY4, cap);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_DENY6, cap);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_HALLOW4, cap);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_HALLOW6, cap);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_HDENY4, cap);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_HDENY6, cap);
	if (prealloc) {
		bpf_map__set_map_flags(skel->maps.SLUICE_MAP_HALLOW4, 0);
		bpf_map__set_map_flags(skel->maps.SLUICE_MAP_HALLOW6, 0);
		bpf_map__set_map_flags(skel->maps.SLUICE_MAP_HDENY4, 0);
		bpf_map__set_map_flags(skel->maps.SLUICE_MAP_HDENY6, 0);
	}
	err = sluice_xdp__load(skel);
	if (err)
		die("load", -err);
	load_ms = (now_s() - t0) * 1e3;
	fds = (struct xdpctl_map_fds){
		.ports_fd = bpf_map__fd(skel->maps.SLUICE_MAP_PORTS),
		.allow4_fd = bpf_map__fd(skel->maps.SLUICE_MAP_ALLOW4),
		.allow6_fd = bpf_map__fd(skel->maps.SLUICE_MAP_ALLOW6),
		.settings_fd = bpf_map__fd(skel->maps.SLUICE_MAP_SETTINGS),
		.deny4_fd = bpf_map__fd(skel->maps.SLUICE_MAP_DENY4),
		.deny6_fd = bpf_map__fd(skel->maps.SLUICE_MAP_DENY6),
		.classes_fd = bpf_map__fd(skel->maps.SLUICE_MAP_CLASSES),
		.hallow4_fd = bpf_map__fd(skel->maps.SLUICE_MAP_HALLOW4),
		.hallow6_fd = bpf_map__fd(skel->maps.SLUICE_MAP_HALLOW6),
		.hdeny4_fd = bpf_map__fd(skel->maps.SLUICE_MAP_HDENY4),
		.hdeny6_fd = bpf_map__fd(skel->maps.SLUICE_MAP_HDENY6),
	};
	list_fd = family == 4 ? (deny ? fds.deny4_fd : fds.allow4_fd)
			      : (deny ? fds.deny6_fd : fds.allow6_fd);
	host_fd = family == 4 ? (deny ? fds.hdeny4_fd : fds.hallow4_fd)
			      : (deny ? fds.hdeny6_fd : fds.hallow6_fd);

	ents = calloc(n + 1, sizeof(*ents));
	if (!ents)
		die("calloc", ENOMEM);
	memset(&cfg, 0, sizeof(cfg));
	cfg.xdp.ports = &port;
	cfg.xdp.n_ports = 1;
	cfg.xdp.allowlist_enabled = !deny;
	l = deny ? &cfg.xdp.deny : &cfg.xdp.allow;
	l->entries = ents;
	l->cap = n + 1;

	fill_list(l, family, n, 1, family == 4 ? 24 : 64);
	t0 = now_s();
	if (xdpctl_sync_maps(&fds, &cfg, NULL))
		die("fill sync", EIO);
	fill_s = now_s() - t0;
	t0 = now_s();
	if (xdpctl_sync_maps(&fds, &cfg, NULL))
		die("same sync", EIO);
	same_s = now_s() - t0;

	hit_len = build_frame(hit, family,
			      family == 4 ? "198.18.0.5" : "fd00:5c::5");
	miss_len = build_frame(miss, family,
			       family == 4 ? "203.0.113.9" : "2001:db8::9");

	fill_list(l, family, n, 2, family == 4 ? 16 : 48);
	p.prog_fd = bpf_program__fd(skel->progs.sluice_xdp);
	p.frame = hit;
	p.len = hit_len;
	p.want = deny ? XDP_DROP : XDP_PASS;
	if (pthread_create(&th, NULL, probe_thread, &p))
		die("pthread_create", errno);
	while (p.runs < 10)
		usleep(100);
	t0 = now_s();
	c0 = cpu_s();
	if (xdpctl_sync_maps(&fds, &cfg, NULL))
		die("resync", EIO);
	resync_cpu_s = cpu_s() - c0;
	resync_s = now_s() - t0;
	p.stop = 1;
	pthread_join(th, NULL);

	hit_ns = cost_ns(p.prog_fd, hit, hit_len, repeat, rounds, &lo, &hi);
	miss_ns =
		cost_ns(p.prog_fd, miss, miss_len, repeat, rounds, &mlo, &mhi);
	printf("%s\n    {\"family\": %d, \"list\": \"%s\", \"entries\": %zu, "
	       "\"load_ms\": %.1f, \"fill_s\": %.3f, \"same_s\": %.3f, "
	       "\"resync_s\": %.3f, \"resync_cpu_s\": %.3f, "
	       "\"gap_runs\": %lu, \"probe_runs\": %lu, "
	       "\"memlock_bytes\": %ld, "
	       "\"hit_ns\": %.1f, \"hit_ns_min\": %.1f, \"hit_ns_max\": %.1f, "
	       "\"miss_ns\": %.1f, \"miss_ns_min\": %.1f, "
	       "\"miss_ns_max\": %.1f}",
	       first ? "" : ",", family, deny ? "deny" : "allow", n, load_ms,
	       fill_s, same_s, resync_s, resync_cpu_s, p.wrong, p.runs,
	       memlock(list_fd) + memlock(host_fd), hit_ns, lo, hi, miss_ns,
	       mlo, mhi);
	fflush(stdout);
	free(ents);
	sluice_xdp__destroy(skel);
}

int main(int argc, char **argv)
{
	size_t sizes[8] = {1, 1000, 100000, 1000000};
	int n_sizes = 4, rounds = 5, only_family = 0, only_list = -1;
	__u32 repeat = 1000000;
	bool first = true;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *s = argv[++i], *end;

			n_sizes = 0;
			while (*s && n_sizes < 8) {
				sizes[n_sizes++] = strtoul(s, &end, 10);
				if (end == s || (*end && *end != ','))
					die("--sizes", EINVAL);
				s = *end ? end + 1 : end;
			}
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = (__u32)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--prealloc")) {
			prealloc = true;
		} else if (!strcmp(argv[i], "--family") && i + 1 < argc) {
			only_family = atoi(argv[++i]);
			if (only_family != 4 && only_family != 6)
				die("--family 4 or 6", EINVAL);
		} else if (!strcmp(argv[i], "--list") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "allow") && strcmp(argv[i], "deny"))
				die("--list allow or deny", EINVAL);
			only_list = !strcmp(argv[i], "deny");
		} else {
			die("usage: rulesbench [--sizes N,N,...] [--repeat N] "
			    "[--rounds N] [--family 4|6] [--list allow|deny] "
			    "[--prealloc]",
			    EINVAL);
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1000)
		die("--rounds 1..31, --repeat >= 1000", EINVAL);
	log_set_level(LOG_LVL_WARN);
	xdpctl_init_logging();
	printf("{\"repeat\": %u, \"rounds\": %d, \"prealloc\": %s, "
	       "\"results\": [",
	       repeat, rounds, prealloc ? "true" : "false");
	for (int fam = 4; fam <= 6; fam += 2)
		for (int d = 0; d < 2; d++)
			for (int i = 0; i < n_sizes; i++) {
				if ((only_family && fam != only_family) ||
				    (only_list >= 0 && d != only_list))
					continue;
				one(fam, d, sizes[i], repeat, rounds, first);
				first = false;
			}
	printf("\n]}\n");
	return 0;
}
