// SPDX-License-Identifier: MIT
/*
 * xdpbench: the measuring half of `make bench` (scripts/bench-xdp.sh runs it).
 * Not a test: it reports numbers, it asserts nothing.
 *
 *   xdpbench cost [--xdpf-id ID] [--repeat N] [--rounds N]
 *       Per-packet cost by BPF_PROG_TEST_RUN with repeat, on identical
 *       64-byte TCP frames: Sluice's program with every rule in use
 *       (denylist, bans, allowlist, rate classes, drop sampling) in several
 *       cases, xdp-filter's program (prog id ID, loaded by the script), and a
 *       bare XDP_PASS program whose cost is the test harness's own. Prints
 *       one JSON object.
 *   xdpbench attach IFNAME pass|drop|sluice|id:N [--deny SRC]
 *       Attach (or atomically replace) a native XDP program on IFNAME and
 *       exit; the attachment outlives the process. sluice: the Sluice
 *       program with its maps filled as in `cost`, plus SRC in the denylist.
 *   xdpbench gen IFNAME --src IP --dst IP --dst-mac MAC [--seconds S]
 *       Traffic generator: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 *       and a program that returns XDP_TX, so each repetition transmits the
 *       frame out of IFNAME (run it in IFNAME's namespace). Calls last about
 *       200 ms each (every call sets up a page pool, which waits for an RCU
 *       grace period). Prints {"packets":N,"seconds":S,"calls":N}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
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
#include <linux/if_link.h>

#include <sluice/abi.h>

#include "sluice_xdp.skel.h"

#define FRAME_LEN 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "xdpbench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A 64-byte Ethernet/IPv4/TCP frame (flags: 0x02 SYN, 0x10 ACK). */
static void frame4(uint8_t f[FRAME_LEN], const uint8_t dmac[6], const char *src,
		   const char *dst, uint16_t dport, uint8_t flags)
{
	static const uint8_t smac[6] = {0x02, 0x5c, 0, 0, 0x30, 0x02};
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint32_t ph = 0;

	memset(f, 0, FRAME_LEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, 40);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 6;
	if (inet_pton(AF_INET, src, ip + 12) != 1 ||
	    inet_pton(AF_INET, dst, ip + 16) != 1)
		die("bad address", EINVAL);
	put16(ip + 10, csum(ip, 20, 0));
	put16(tcp, 40000);
	put16(tcp + 2, dport);
	tcp[7] = 1;
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	for (int i = 12; i < 20; i += 2)
		ph += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	ph += 6 + 20;
	put16(tcp + 16, csum(tcp, 20, ph));
}

/* A two-instruction XDP program: r0 = action; exit. */
static int tiny_prog(int action)
{
	struct bpf_insn insns[2];
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	int fd;

	memset(insns, 0, sizeof(insns));
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[0].dst_reg = BPF_REG_0;
	insns[0].imm = action;
	insns[1].code = BPF_JMP | BPF_EXIT;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, action == XDP_TX ? "bench_tx"
					      : action == XDP_PASS ? "bench_pass"
								 : "bench_drop",
			   "GPL", insns, 2, &o);
	if (fd < 0)
		die("loading a tiny XDP program", errno);
	return fd;
}

/* ---- Sluice with every rule in use --------------------------------------- */

static void lpm4_put(int fd, const char *addr, uint32_t plen, const void *v)
{
	struct sluice_lpm4_key k = {.prefixlen = plen};

	inet_pton(AF_INET, addr, k.addr);
	if (bpf_map_update_elem(fd, &k, v, BPF_ANY))
		die("map update", errno);
}

static void class_put(int fd, uint32_t id, uint32_t rate, uint32_t burst)
{
	struct sluice_class c = {0};

	if (rate) {
		c.pkt_rate = rate;
		c.pkt_burst = burst;
		c.pkt_interval_ns = (1000000000ull + rate / 2) / rate;
		if (!c.pkt_interval_ns)
			c.pkt_interval_ns = 1;
		c.pkt_tolerance_ns = c.pkt_interval_ns * (burst - 1);
	}
	if (bpf_map_update_elem(fd, &id, &c, BPF_ANY))
		die("class update", errno);
}

/*
 * 1000 deny /32s + 100 deny /24s, 1000 bans, 1000 allowlist /24s; the bench
 * clients: 198.51.100.0/25 (class 1: a bucket that always admits),
 * 198.51.100.128/25 (class 2: a spent bucket), guarded port 8080, drops
 * sampled 1 in 64. extra_deny: one more denied source (the generator's).
 */
static struct sluice_xdp *sluice_load(const char *extra_deny)
{
	struct sluice_settings set = {
		.flags = SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE |
			 SLUICE_SET_EVENTS,
		.abi_version = SLUICE_ABI_VERSION,
		.gen = 1,
		.v6_prefix = 64,
		.sample_shift = 6,
	};
	struct sluice_port_key pk = {.port = 8080};
	struct sluice_port_val pv = {.flags = SLUICE_PORT_GUARDED};
	struct sluice_rule r0 = {0}, r1 = {.class_id = 1}, r2 = {.class_id = 2};
	struct sluice_ban ban = {.expires_ns = mono_ns() + 36000000000000ull,
				 .source = SLUICE_BAN_OPERATOR};
	struct sluice_xdp *skel;
	struct bpf_map *m;
	char a[32];
	__u32 zero = 0;
	int err;

	skel = sluice_xdp__open();
	if (!skel)
		die("opening the Sluice skeleton", errno);
	bpf_object__for_each_map(m, skel->obj) bpf_map__set_pin_path(m, NULL);
	err = sluice_xdp__load(skel);
	if (err)
		die("loading the Sluice program", err);
	for (int i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "10.1.%d.%d", i / 250, i % 250 + 1);
		lpm4_put(bpf_map__fd(skel->maps.sl_deny4_v1), a, 32, &r0);
		snprintf(a, sizeof(a), "10.2.%d.%d", i / 250, i % 250 + 1);
		lpm4_put(bpf_map__fd(skel->maps.sl_ban4_v1), a, 32, &ban);
		snprintf(a, sizeof(a), "10.3.%d.0", i % 250);
		lpm4_put(bpf_map__fd(skel->maps.sl_allow4_v1), a, 24, &r0);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(a, sizeof(a), "10.4.%d.0", i);
		lpm4_put(bpf_map__fd(skel->maps.sl_deny4_v1), a, 24, &r0);
	}
	if (extra_deny)
		lpm4_put(bpf_map__fd(skel->maps.sl_deny4_v1), extra_deny, 32,
			 &r0);
	lpm4_put(bpf_map__fd(skel->maps.sl_allow4_v1), "198.51.100.0", 25, &r1);
	lpm4_put(bpf_map__fd(skel->maps.sl_allow4_v1), "198.51.100.128", 25,
		 &r2);
	class_put(bpf_map__fd(skel->maps.sl_classes_v1), 1, 100000000,
		  100000000);
	class_put(bpf_map__fd(skel->maps.sl_classes_v1), 2, 1, 1);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.sl_ports_v1), &pk, &pv,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.sl_settings_v2), &zero,
				&set, BPF_ANY))
		die("map update", errno);
	return skel;
}

/* Average ns per repetition of one test run. */
static double run_ns(int prog_fd, const uint8_t *frame, __u32 repeat,
		     __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = FRAME_LEN, .repeat = repeat);
	int err = bpf_prog_test_run_opts(prog_fd, &o);

	if (err)
		die("BPF_PROG_TEST_RUN", err);
	if (retval)
		*retval = o.retval;
	return (double)o.duration;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct bcase {
	const char *name, *what;
	int fd;
	uint8_t frame[FRAME_LEN];
	double samples[64];
	__u32 retval;
};

static int cmd_cost(int argc, char **argv)
{
	static const uint8_t dmac[6] = {0x02, 0x5c, 0, 0, 0x30, 0x01};
	struct bcase c[9];
	int n = 0, rounds = 9, xdpf_fd = -1;
	__u32 repeat = 2000000;
	struct sluice_xdp *skel;
	int sfd, pass_fd;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--xdpf-id") && i + 1 < argc) {
			xdpf_fd = bpf_prog_get_fd_by_id((__u32)atoi(argv[++i]));
			if (xdpf_fd < 0)
				die("xdp-filter program by id", errno);
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = (__u32)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		}
	}
	if (rounds < 1 || rounds > 64 || repeat < 1000)
		die("--rounds 1..64, --repeat >= 1000", EINVAL);
	skel = sluice_load(NULL);
	sfd = bpf_program__fd(skel->progs.sluice_xdp);
	pass_fd = tiny_prog(XDP_PASS);

#define CASE(nm, wh, f, src, port, fl)                                         \
	do {                                                                   \
		c[n].name = nm;                                                \
		c[n].what = wh;                                                \
		c[n].fd = f;                                                   \
		frame4(c[n].frame, dmac, src, "198.18.30.1", port, fl);        \
		n++;                                                           \
	} while (0)
	CASE("baseline_xdp_pass", "2-instruction XDP_PASS program", pass_fd,
	     "198.51.100.7", 8080, 0x10);
	CASE("sluice_rate_admit",
	     "allowed client, cached verdict, bucket admits", sfd,
	     "198.51.100.7", 8080, 0x10);
	CASE("sluice_rate_drop", "allowed client over its bucket (drop_rate)",
	     sfd, "198.51.100.200", 8080, 0x10);
	CASE("sluice_deny", "source in the denylist (drop_deny)", sfd,
	     "10.1.0.5", 8080, 0x10);
	CASE("sluice_not_allowed",
	     "source outside the allowlist (drop_not_allowed)", sfd,
	     "203.0.113.9", 8080, 0x10);
	CASE("sluice_unguarded", "TCP to an unguarded port (pass)", sfd,
	     "203.0.113.9", 22, 0x10);
	if (xdpf_fd >= 0) {
		CASE("xdpfilter_pass",
		     "xdp-filter, all features, source not listed (pass)",
		     xdpf_fd, "198.51.100.7", 8080, 0x10);
		CASE("xdpfilter_drop", "xdp-filter, source listed (drop)",
		     xdpf_fd, "198.18.9.9", 8080, 0x10);
	}
#undef CASE

	/* warm up (fills the bucket entries), then interleave rounds */
	for (int i = 0; i < n; i++)
		run_ns(c[i].fd, c[i].frame, 1000, &c[i].retval);
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++)
			c[i].samples[r] =
				run_ns(c[i].fd, c[i].frame, repeat, NULL);
	printf("{\"repeat\":%u,\"rounds\":%d,\"cases\":{", repeat, rounds);
	for (int i = 0; i < n; i++) {
		qsort(c[i].samples, (size_t)rounds, sizeof(double), dbl_cmp);
		printf("%s\"%s\":{\"what\":\"%s\",\"retval\":%u,"
		       "\"ns_median\":%.2f,\"ns_min\":%.2f,\"ns_max\":%.2f}",
		       i ? "," : "", c[i].name, c[i].what, c[i].retval,
		       c[i].samples[rounds / 2], c[i].samples[0],
		       c[i].samples[rounds - 1]);
	}
	printf("}}\n");
	sluice_xdp__destroy(skel);
	return 0;
}

/* ---- attach ---------------------------------------------------------------- */

static int cmd_attach(int argc, char **argv)
{
	const char *ifname, *what, *deny = NULL;
	struct sluice_xdp *skel = NULL;
	int ifindex, fd, err;

	if (argc < 2)
		die("attach IFNAME pass|drop|sluice|id:N [--deny SRC]", EINVAL);
	ifname = argv[0];
	what = argv[1];
	if (argc >= 4 && !strcmp(argv[2], "--deny"))
		deny = argv[3];
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		die(ifname, ENODEV);
	if (!strcmp(what, "pass")) {
		fd = tiny_prog(XDP_PASS);
	} else if (!strcmp(what, "drop")) {
		fd = tiny_prog(XDP_DROP);
	} else if (!strcmp(what, "sluice")) {
		skel = sluice_load(deny);
		fd = bpf_program__fd(skel->progs.sluice_xdp);
	} else if (!strncmp(what, "id:", 3)) {
		fd = bpf_prog_get_fd_by_id((__u32)atoi(what + 3));
		if (fd < 0)
			die("program by id", errno);
	} else {
		die(what, EINVAL);
	}
	/* no UPDATE_IF_NOEXIST: replaces what runs, without a detach (the
	 * veth keeps its NAPI instance and thread) */
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		die("attach", errno);
	if (skel)
		sluice_xdp__destroy(skel); /* the attachment keeps it alive */
	return 0;
}

/* ---- generator --------------------------------------------------------------- */

static int parse_mac(const char *s, uint8_t m[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	return 0;
}

static int cmd_gen(int argc, char **argv)
{
	const char *src = NULL, *dst = NULL, *mac = NULL;
	double seconds = 5, t0, t_end, call_s = 0.2;
	unsigned long long packets = 0;
	uint8_t frame[FRAME_LEN], dmac[6];
	__u32 repeat = 200000;
	int ifindex, fd, calls = 0;

	if (argc < 1)
		die("gen IFNAME --src --dst --dst-mac [--seconds]", EINVAL);
	ifindex = (int)if_nametoindex(argv[0]);
	if (!ifindex)
		die(argv[0], ENODEV);
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--src"))
			src = argv[i + 1];
		else if (!strcmp(argv[i], "--dst"))
			dst = argv[i + 1];
		else if (!strcmp(argv[i], "--dst-mac"))
			mac = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
	}
	if (!src || !dst || !mac || parse_mac(mac, dmac) || seconds <= 0 ||
	    seconds > 120)
		die("gen needs --src, --dst, --dst-mac; --seconds 0..120",
		    EINVAL);
	frame4(frame, dmac, src, dst, 8080, 0x02);
	fd = tiny_prog(XDP_TX);
	t0 = now_s();
	t_end = t0 + seconds;
	while (now_s() < t_end) {
		struct xdp_md ctx = {.data_end = FRAME_LEN,
				      .ingress_ifindex = (__u32)ifindex};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .data_size_in = FRAME_LEN, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = repeat,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = 64);
		double t = now_s(), dt;
		int err = bpf_prog_test_run_opts(fd, &o);

		if (err)
			die("BPF_PROG_TEST_RUN (live frames)", err);
		dt = now_s() - t;
		packets += repeat;
		calls++;
		/* aim for ~200 ms a call, within the time left */
		if (dt > 0) {
			double want = call_s;
			double left = t_end - now_s();

			if (left < want)
				want = left > 0.02 ? left : 0.02;
			repeat = (__u32)((double)repeat * want / dt);
			if (repeat < 10000)
				repeat = 10000;
			if (repeat > 50000000)
				repeat = 50000000;
		}
	}
	printf("{\"packets\":%llu,\"seconds\":%.3f,\"calls\":%d}\n", packets,
	       now_s() - t0, calls);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(NULL);
	if (argc < 2) {
		fprintf(stderr, "usage: xdpbench cost|attach|gen ...\n");
		return 2;
	}
	if (!strcmp(argv[1], "cost"))
		return cmd_cost(argc - 2, argv + 2);
	if (!strcmp(argv[1], "attach"))
		return cmd_attach(argc - 2, argv + 2);
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(argc - 2, argv + 2);
	fprintf(stderr, "xdpbench: unknown command %s\n", argv[1]);
	return 2;
}
