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
 *   xdpbench attach IFNAME pass|drop|tx|sluice|id:N [--deny SRC]
 *       Attach (or atomically replace) a native XDP program on IFNAME and
 *       exit; the attachment outlives the process. sluice: the Sluice
 *       program with its maps filled as in `cost`, plus SRC in the denylist.
 *   xdpbench gen IFNAME --src IP --dst IP --dst-mac MAC [--seconds S]
 *                [--spin N] [--batch N]
 *       Traffic generator: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 *       and a program that returns XDP_TX, so each repetition transmits the
 *       frame out of IFNAME (run it in IFNAME's namespace). Calls last about
 *       200 ms each (every call sets up a page pool, which waits for an RCU
 *       grace period). Batches of N frames (default 256: the page pool is as
 *       large as the batch, and a smaller pool sends pages in flight back to
 *       the page allocator). The program spins N iterations per frame first
 *       (pacing). Prints {"packets":N,"seconds":S,"calls":N,...}.
 *   xdpbench gen IFNAME --src --dst --dst-mac --calibrate [--rx-pid PID]
 *       Sweeps --spin in short runs and prints the pacing at which the
 *       receiving thread PID spends the least CPU per frame the veth took
 *       (without PID: at which the veth takes the most frames per second),
 *       as {"spin":N,"mpps":R,"rx_ns":T,"refused":F}. Reads IFNAME's
 *       tx_queue_N_xdp_xmit[_errors] ethtool counters.
 *   xdpbench loop X0 X1 OUT --src IP --src-bits N --dst IP --dst-mac MAC
 *                 --kind syn|ack|udp|icmp [--rate PPS] [--burst N]
 *                 [--frames N] [--seconds S] [--dport P]
 *       The flood generator of `make bench-flood` (bench/floodgen.bpf.c):
 *       attaches XDP_TX to X0 and floodgen_loop to X1 (a veth pair, both
 *       ends in this namespace), seeds N template frames into X0 with an
 *       AF_PACKET socket (again if the loop ever empties), and lets the
 *       loop send copies with random sources (the low N bits of the source
 *       address, the source port for TCP/UDP; IPv6 when IP has a colon)
 *       out of OUT for S seconds: all it can (--rate 0, default) or PPS, in
 *       bursts of --burst frames (default 32). Then stops the loop. Prints
 *       {"generated":N,"delivered":N,"refused":N,"seconds":S,...} with
 *       OUT's xdp_xmit counters (delivered to / refused by the peer's
 *       ring).
 *   xdpbench sink IFNAME --net4 CIDR --net6 CIDR
 *       Attach floodgen_sink on IFNAME (native XDP; outlives the process):
 *       frames to the two networks pass, other IP frames are dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>

#include <sluice/abi.h>

#include "sluice_xdp.skel.h"
#include "floodgen.skel.h"

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

/*
 * The generator's program: count r6 down from SPIN to 0, then XDP_TX. The
 * loop paces the generator (each iteration is a subtract and a taken branch,
 * about a cycle) so that it can be slowed to the receiver's speed: a
 * generator that overruns the receiving veth's ring has its surplus frames
 * returned to the live-frames page pool from the generating CPU while the
 * receiving CPU returns the frames it dropped to the same pool, and the two
 * CPUs then contend on the pool's ring lock, which is a cost of the
 * harness, not of the program under test.
 */
static int spin_tx_prog(int spin)
{
	struct bpf_insn insns[5];
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	int fd, n = 0;

	memset(insns, 0, sizeof(insns));
	if (spin > 0) {
		/* r6 = spin; loop: r6 -= 1; if r6 != 0 goto loop */
		insns[n].code = BPF_ALU64 | BPF_MOV | BPF_K;
		insns[n].dst_reg = BPF_REG_6;
		insns[n++].imm = spin;
		insns[n].code = BPF_ALU64 | BPF_SUB | BPF_K;
		insns[n].dst_reg = BPF_REG_6;
		insns[n++].imm = 1;
		insns[n].code = BPF_JMP | BPF_JNE | BPF_K;
		insns[n].dst_reg = BPF_REG_6;
		insns[n].off = -2;
		insns[n++].imm = 0;
	}
	insns[n].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[n].dst_reg = BPF_REG_0;
	insns[n++].imm = XDP_TX;
	insns[n++].code = BPF_JMP | BPF_EXIT;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_gen", "GPL", insns,
			   (size_t)n, &o);
	if (fd < 0)
		die("loading the generator's XDP program", errno);
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
	__u32 pk = 8080;
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
		lpm4_put(bpf_map__fd(skel->maps.SLUICE_MAP_DENY4), a, 32, &r0);
		snprintf(a, sizeof(a), "10.2.%d.%d", i / 250, i % 250 + 1);
		lpm4_put(bpf_map__fd(skel->maps.SLUICE_MAP_BAN4), a, 32, &ban);
		snprintf(a, sizeof(a), "10.3.%d.0", i % 250);
		lpm4_put(bpf_map__fd(skel->maps.SLUICE_MAP_ALLOW4), a, 24, &r0);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(a, sizeof(a), "10.4.%d.0", i);
		lpm4_put(bpf_map__fd(skel->maps.SLUICE_MAP_DENY4), a, 24, &r0);
	}
	if (extra_deny)
		lpm4_put(bpf_map__fd(skel->maps.SLUICE_MAP_DENY4), extra_deny,
			 32, &r0);
	lpm4_put(bpf_map__fd(skel->maps.SLUICE_MAP_ALLOW4), "198.51.100.0", 25,
		 &r1);
	lpm4_put(bpf_map__fd(skel->maps.SLUICE_MAP_ALLOW4), "198.51.100.128",
		 25, &r2);
	class_put(bpf_map__fd(skel->maps.SLUICE_MAP_CLASSES), 1, 100000000,
		  100000000);
	class_put(bpf_map__fd(skel->maps.SLUICE_MAP_CLASSES), 2, 1, 1);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.SLUICE_MAP_PORTS), &pk,
				&pv, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.SLUICE_MAP_SETTINGS),
				&zero, &set, BPF_ANY))
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
	struct bcase c[10];
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
	skel = sluice_load("198.18.30.2");
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
	CASE("sluice_deny_veth",
	     "the veth run's denied source (drop_deny, short trie walk)", sfd,
	     "198.18.30.2", 8080, 0x02);
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
		die("attach IFNAME pass|drop|tx|sluice|id:N [--deny SRC]", EINVAL);
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
	} else if (!strcmp(what, "tx")) {
		fd = tiny_prog(XDP_TX);
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

/*
 * The veth's own count of frames the generator handed to the peer's ring
 * (ok) and of frames the full ring refused (err): the sums of its
 * tx_queue_N_xdp_xmit and tx_queue_N_xdp_xmit_errors ethtool statistics.
 */
static int xmit_counters(const char *ifname, uint64_t *ok, uint64_t *err)
{
	struct ethtool_sset_info *si = NULL;
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_stats *st = NULL;
	struct ifreq ifr;
	__u32 n;
	int sk, rc = -EIO;

	sk = socket(AF_INET, SOCK_DGRAM, 0);
	if (sk < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	si = calloc(1, sizeof(*si) + sizeof(__u32));
	if (!si)
		goto out;
	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ull << ETH_SS_STATS;
	ifr.ifr_data = (char *)si;
	if (ioctl(sk, SIOCETHTOOL, &ifr) || !si->sset_mask)
		goto out;
	n = si->data[0];
	gs = calloc(1, sizeof(*gs) + (size_t)n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + (size_t)n * sizeof(__u64));
	if (!gs || !st)
		goto out;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_STATS;
	gs->len = n;
	ifr.ifr_data = (char *)gs;
	if (ioctl(sk, SIOCETHTOOL, &ifr))
		goto out;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	ifr.ifr_data = (char *)st;
	if (ioctl(sk, SIOCETHTOOL, &ifr))
		goto out;
	*ok = 0;
	*err = 0;
	for (__u32 i = 0; i < n; i++) {
		char name[ETH_GSTRING_LEN + 1];
		size_t len;

		memcpy(name, gs->data + (size_t)i * ETH_GSTRING_LEN,
		       ETH_GSTRING_LEN);
		name[ETH_GSTRING_LEN] = '\0';
		len = strlen(name);
		if (strncmp(name, "tx_queue_", 9))
			continue;
		if (len > 16 && !strcmp(name + len - 16, "_xdp_xmit_errors"))
			*err += st->data[i];
		else if (len > 9 && !strcmp(name + len - 9, "_xdp_xmit"))
			*ok += st->data[i];
	}
	rc = 0;
out:
	free(si);
	free(gs);
	free(st);
	close(sk);
	return rc;
}

struct gen_cfg {
	int ifindex;
	uint8_t frame[FRAME_LEN];
	__u32 batch;
};

struct gen_run {
	unsigned long long packets; /* frames the generator produced */
	double seconds;
	int calls;
};

/*
 * Generate for `seconds` with the given pacing, in calls of about call_s
 * each (every call sets up a page pool, which waits for an RCU grace
 * period, so calls are long).
 */
static void gen_for(const struct gen_cfg *g, int spin, double seconds,
		    double call_s, struct gen_run *out)
{
	static __u32 repeat = 100000; /* carried over: the last call's size */
	double t0 = now_s(), t_end = t0 + seconds;
	int fd = spin_tx_prog(spin);

	memset(out, 0, sizeof(*out));
	while (now_s() < t_end) {
		struct xdp_md ctx = {.data_end = FRAME_LEN,
				     .ingress_ifindex = (__u32)g->ifindex};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = g->frame,
			    .data_size_in = FRAME_LEN, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = repeat,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = g->batch);
		double t = now_s(), dt, want = call_s, left;
		int err = bpf_prog_test_run_opts(fd, &o);

		if (err)
			die("BPF_PROG_TEST_RUN (live frames)", err);
		dt = now_s() - t;
		out->packets += repeat;
		out->calls++;
		left = t_end - now_s();
		if (left < want)
			want = left > 0.02 ? left : 0.02;
		if (dt > 0) {
			double r = (double)repeat * want / dt;

			repeat = r < 10000 ? 10000 : r > 5e7 ? 50000000 : (__u32)r;
		}
	}
	out->seconds = now_s() - t0;
	close(fd);
}

/* CPU time of thread `pid` in ns (/proc/PID/schedstat), or -1 */
static double thread_ns(int pid)
{
	char path[64];
	double ns = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lf", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}

struct sample {
	double rate;   /* frames the receiver's ring took per second */
	double rx_ns;  /* receiver thread CPU ns per frame taken, or -1 */
	double refused; /* fraction of frames the full ring refused */
};

static void sample_at(const struct gen_cfg *g, const char *ifname, int spin,
		      double seconds, int rx_pid, struct sample *out)
{
	uint64_t ok0, ok1, e0, e1;
	double c0 = -1, c1 = -1, n;
	struct gen_run r;

	if (rx_pid > 0)
		c0 = thread_ns(rx_pid);
	if (xmit_counters(ifname, &ok0, &e0))
		die("reading the veth's xdp_xmit counters (ethtool -S)", EIO);
	gen_for(g, spin, seconds, seconds / 2, &r);
	if (xmit_counters(ifname, &ok1, &e1))
		die("reading the veth's xdp_xmit counters (ethtool -S)", EIO);
	if (rx_pid > 0)
		c1 = thread_ns(rx_pid);
	n = (double)(ok1 - ok0);
	out->rate = n / r.seconds;
	out->refused = (double)(e1 - e0) / (n + (double)(e1 - e0) + 1);
	out->rx_ns = c0 >= 0 && c1 >= c0 && n > 0 ? (c1 - c0) / n : -1;
	if (getenv("XDPBENCH_VERBOSE"))
		fprintf(stderr,
			"spin %d: %.3f Mpps taken, %.1f%% refused, rx %.0f ns\n",
			spin, out->rate / 1e6, 100 * out->refused, out->rx_ns);
}

/* lower is better: receiver ns per frame when known, else 1/rate */
static double score(const struct sample *s)
{
	if (s->rx_ns > 0)
		return s->rx_ns;
	return s->rate > 0 ? 1e9 / s->rate : 1e18;
}

/*
 * Find the pacing at which the receiving core spends the least CPU per
 * frame (or, without rx_pid, takes the most frames per second): a coarse
 * sweep of spin counts, then a finer one around the best. Too fast a
 * generator overruns the ring, and the surplus frames' return to the page
 * pool contends with the receiver's; too slow a one lets the receiver
 * sleep and wake for every few frames.
 */
static int calibrate(const struct gen_cfg *g, const char *ifname, double step,
		     int rx_pid, struct sample *best_s)
{
	static const int coarse[] = {0,   50,  100, 150,  200,  300,  400,
				     600, 800, 1100, 1500, 2000, 2800, 4000};
	struct sample sm;
	int best = -1;

	for (size_t i = 0; i < sizeof(coarse) / sizeof(coarse[0]); i++) {
		sample_at(g, ifname, coarse[i], step, rx_pid, &sm);
		if (best < 0 || score(&sm) < score(best_s)) {
			*best_s = sm;
			best = coarse[i];
		}
	}
	for (int k = -3, c = best; k <= 3; k++) {
		int s = c + k * (c / 10 > 10 ? c / 10 : 10);

		if (s < 0 || k == 0)
			continue;
		sample_at(g, ifname, s, step, rx_pid, &sm);
		if (score(&sm) < score(best_s)) {
			*best_s = sm;
			best = s;
		}
	}
	return best;
}

static int cmd_gen(int argc, char **argv)
{
	const char *src = NULL, *dst = NULL, *mac = NULL;
	double seconds = 5, step = 0.15;
	bool calib = false;
	int rx_pid = 0;
	struct gen_cfg g = {.batch = 256};
	struct gen_run r;
	uint8_t dmac[6];
	int spin = 0;

	if (argc < 1)
		die("gen IFNAME --src --dst --dst-mac [--seconds S] [--spin N] "
		    "[--batch N] [--calibrate [--rx-pid PID]]",
		    EINVAL);
	g.ifindex = (int)if_nametoindex(argv[0]);
	if (!g.ifindex)
		die(argv[0], ENODEV);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--calibrate")) {
			calib = true;
			continue;
		}
		if (!v)
			die(argv[i], EINVAL);
		if (!strcmp(argv[i], "--src"))
			src = v;
		else if (!strcmp(argv[i], "--dst"))
			dst = v;
		else if (!strcmp(argv[i], "--dst-mac"))
			mac = v;
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(v);
		else if (!strcmp(argv[i], "--batch"))
			g.batch = (__u32)atoi(v);
		else if (!strcmp(argv[i], "--spin"))
			spin = atoi(v);
		else if (!strcmp(argv[i], "--rx-pid"))
			rx_pid = atoi(v);
		else
			die(argv[i], EINVAL);
		i++;
	}
	if (!src || !dst || !mac || parse_mac(mac, dmac) || seconds <= 0 ||
	    seconds > 120 || spin < 0 || spin > 100000 || g.batch < 1 ||
	    g.batch > 256)
		die("gen needs --src, --dst, --dst-mac; --seconds 0..120, "
		    "--spin 0..100000, --batch 1..256",
		    EINVAL);
	frame4(g.frame, dmac, src, dst, 8080, 0x02);
	if (calib) {
		struct sample best;

		spin = calibrate(&g, argv[0], step, rx_pid, &best);
		printf("{\"spin\":%d,\"mpps\":%.3f,\"rx_ns\":%.1f,"
		       "\"refused\":%.4f}\n",
		       spin, best.rate / 1e6, best.rx_ns, best.refused);
		return 0;
	}
	gen_for(&g, spin, seconds, 0.2, &r);
	printf("{\"packets\":%llu,\"seconds\":%.3f,\"calls\":%d,\"spin\":%d,"
	       "\"batch\":%u}\n",
	       r.packets, r.seconds, r.calls, spin, g.batch);
	return 0;
}

/* ---- flood ------------------------------------------------------------------ */

#define FLOOD_MAX_FRAME 80

/* one's complement sum of n bytes (n even), not folded */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * A frame from src to dst:dport of the given kind, every L4 part 20 bytes
 * (TCP header; UDP header + 12 bytes; ICMP echo request + 12 bytes), valid
 * checksums. Returns its length.
 */
static size_t flood_frame(uint8_t *f, const uint8_t dmac[6], const char *src,
			  const char *dst, uint16_t dport, const char *kind,
			  bool *v6, int *proto)
{
	static const uint8_t smac[6] = {0x02, 0x5c, 0, 0, 0x31, 0x02};
	uint8_t *ip = f + 14, *l4, saddr[16], daddr[16];
	size_t alen, hlen;
	uint32_t ph;

	*v6 = strchr(src, ':') != NULL;
	alen = *v6 ? 16 : 4;
	if (inet_pton(*v6 ? AF_INET6 : AF_INET, src, saddr) != 1 ||
	    inet_pton(*v6 ? AF_INET6 : AF_INET, dst, daddr) != 1)
		die("bad --src or --dst (same family)", EINVAL);
	if (!strcmp(kind, "syn") || !strcmp(kind, "ack"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(kind, "udp"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(kind, "icmp"))
		*proto = *v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	else
		die("--kind syn|ack|udp|icmp", EINVAL);
	memset(f, 0, FLOOD_MAX_FRAME);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	if (*v6) {
		put16(f + 12, 0x86dd);
		ip[0] = 0x60;
		put16(ip + 4, 20);
		ip[6] = (uint8_t)*proto;
		ip[7] = 64;
		memcpy(ip + 8, saddr, 16);
		memcpy(ip + 24, daddr, 16);
		hlen = 40;
	} else {
		put16(f + 12, 0x0800);
		ip[0] = 0x45;
		put16(ip + 2, 40);
		put16(ip + 4, 0x1234);
		ip[8] = 64;
		ip[9] = (uint8_t)*proto;
		memcpy(ip + 12, saddr, 4);
		memcpy(ip + 16, daddr, 4);
		put16(ip + 10, csum(ip, 20, 0));
		hlen = 20;
	}
	l4 = ip + hlen;
	if (*proto == IPPROTO_TCP) {
		put16(l4, 40000);
		put16(l4 + 2, dport);
		l4[7] = 1;
		l4[12] = 5 << 4;
		l4[13] = !strcmp(kind, "syn") ? 0x02 : 0x10;
		put16(l4 + 14, 65535);
	} else if (*proto == IPPROTO_UDP) {
		put16(l4, 40000);
		put16(l4 + 2, dport);
		put16(l4 + 4, 20);
		memset(l4 + 8, 'x', 12);
	} else {
		l4[0] = *v6 ? 128 : 8; /* echo request */
		put16(l4 + 4, 0x5c5c);
		put16(l4 + 6, 1);
		memset(l4 + 8, 'x', 12);
	}
	/* pseudo-header for all but ICMPv4 */
	ph = 0;
	if (*proto != IPPROTO_ICMP) {
		ph = sum16(saddr, alen, 0);
		ph = sum16(daddr, alen, ph);
		ph += (uint32_t)*proto + 20;
	}
	put16(l4 + (*proto == IPPROTO_TCP ? 16 : *proto == IPPROTO_UDP ? 6 : 2),
	      fold(sum16(l4, 20, ph)));
	return 14 + hlen + 20;
}

/* Send one raw frame out of ifindex (AF_PACKET). */
static int send_raw(int fd, int ifindex, const uint8_t *f, size_t len)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_ifindex = ifindex, .sll_halen = 6};

	memcpy(sll.sll_addr, f, 6);
	return sendto(fd, f, len, 0, (struct sockaddr *)&sll, sizeof(sll)) ==
			       (ssize_t)len
		       ? 0
		       : -errno;
}

static int cmd_loop(int argc, char **argv)
{
	const char *src = NULL, *dst = NULL, *mac = NULL, *kind = "syn";
	double seconds = 5, rate = 0, t0, t;
	int bits = 0, dport = 8080, frames = 128, burst = 32, proto, fd, tx_fd;
	int if_x0, if_x1, if_out;
	uint8_t frame[FLOOD_MAX_FRAME], dmac[6];
	uint64_t ok0, e0, ok1, e1, last = 0;
	struct floodgen *skel;
	__u32 k0 = 0, k1 = 1;
	int reseeds = 0;
	size_t len;
	bool v6;

	if (argc < 3)
		die("loop X0 X1 OUT --src IP --src-bits N --dst IP --dst-mac MAC "
		    "--kind syn|ack|udp|icmp [--rate PPS] [--seconds S] "
		    "[--dport P] [--frames N] [--burst N]",
		    EINVAL);
	for (int i = 3; i + 1 < argc; i += 2) {
		const char *v = argv[i + 1];

		if (!strcmp(argv[i], "--src"))
			src = v;
		else if (!strcmp(argv[i], "--src-bits"))
			bits = atoi(v);
		else if (!strcmp(argv[i], "--dst"))
			dst = v;
		else if (!strcmp(argv[i], "--dst-mac"))
			mac = v;
		else if (!strcmp(argv[i], "--kind"))
			kind = v;
		else if (!strcmp(argv[i], "--rate"))
			rate = atof(v);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(v);
		else if (!strcmp(argv[i], "--dport"))
			dport = atoi(v);
		else if (!strcmp(argv[i], "--frames"))
			frames = atoi(v);
		else if (!strcmp(argv[i], "--burst"))
			burst = atoi(v);
		else
			die(argv[i], EINVAL);
	}
	if (!src || !dst || !mac || parse_mac(mac, dmac) || bits < 0 ||
	    bits > 32 || seconds <= 0 || seconds > 600 || rate < 0 ||
	    dport < 1 || dport > 65535 || frames < 1 || frames > 200 ||
	    burst < 1 || burst > 64)
		die("loop needs --src, --dst, --dst-mac; --src-bits 0..32, "
		    "--seconds 0..600, --rate >= 0, --frames 1..200, "
		    "--burst 1..64",
		    EINVAL);
	if_x0 = (int)if_nametoindex(argv[0]);
	if_x1 = (int)if_nametoindex(argv[1]);
	if_out = (int)if_nametoindex(argv[2]);
	if (!if_x0 || !if_x1 || !if_out)
		die("loop: no such interface", ENODEV);
	len = flood_frame(frame, dmac, src, dst, (uint16_t)dport, kind, &v6,
			  &proto);
	skel = floodgen__open();
	if (!skel)
		die("opening the floodgen skeleton", errno);
	skel->rodata->is_v6 = v6;
	skel->rodata->l4_proto = (__u32)proto;
	skel->rodata->src_mask = bits == 32 ? ~0u : (1u << bits) - 1;
	skel->rodata->rand_port = bits > 0;
	if (floodgen__load(skel))
		die("loading the floodgen program", errno);
	skel->bss->interval_ns = rate > 0 ? (__u64)(1e9 / rate) : 0;
	skel->bss->burst = (__u32)burst;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.loop_ports), &k0,
				&if_x1, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.loop_ports), &k1,
				&if_out, BPF_ANY))
		die("filling the loop's devmap", errno);
	tx_fd = tiny_prog(XDP_TX);
	/* replace, never detach: the veths keep their NAPI threads */
	if (bpf_xdp_attach(if_x0, tx_fd, XDP_FLAGS_DRV_MODE, NULL) ||
	    bpf_xdp_attach(if_x1, bpf_program__fd(skel->progs.floodgen_loop),
			   XDP_FLAGS_DRV_MODE, NULL))
		die("attaching the loop's programs", errno);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket(AF_PACKET)", errno);
	if (xmit_counters(argv[2], &ok0, &e0))
		die("reading the veth's xdp_xmit counters (ethtool -S)", EIO);
	t0 = now_s();
	for (int i = 0; i < frames; i++)
		if (send_raw(fd, if_x0, frame, len))
			die("seeding the loop", errno);
	while ((t = now_s()) - t0 < seconds) {
		struct timespec ts = {0, 50000000};

		nanosleep(&ts, NULL);
		/* frames lost from the loop (a full ring) are replaced */
		if (skel->bss->sent == last && reseeds < 1000) {
			for (int i = 0; i < frames; i++)
				send_raw(fd, if_x0, frame, len);
			reseeds++;
		}
		last = skel->bss->sent;
	}
	skel->bss->stop = 1;
	t = now_s() - t0;
	{
		struct timespec ts = {0, 50000000};

		nanosleep(&ts, NULL);
	}
	if (xmit_counters(argv[2], &ok1, &e1))
		die("reading the veth's xdp_xmit counters (ethtool -S)", EIO);
	printf("{\"generated\":%llu,\"delivered\":%llu,\"refused\":%llu,"
	       "\"seconds\":%.3f,\"burst\":%d,\"reseeds\":%d,"
	       "\"rate_target\":%.0f,\"kind\":\"%s\",\"v6\":%s}\n",
	       (unsigned long long)skel->bss->sent,
	       (unsigned long long)(ok1 - ok0), (unsigned long long)(e1 - e0),
	       t, burst, reseeds, rate, kind, v6 ? "true" : "false");
	close(fd);
	close(tx_fd);
	floodgen__destroy(skel); /* the attachment keeps the program */
	return 0;
}

static void cidr(const char *s, int af, uint8_t *addr, int *plen)
{
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash)
		die(s, EINVAL);
	*slash = '\0';
	*plen = atoi(slash + 1);
	if (inet_pton(af, buf, addr) != 1)
		die(s, EINVAL);
}

static int cmd_sink(int argc, char **argv)
{
	uint8_t a4[4], a6[16];
	int p4 = -1, p6 = -1, ifindex;
	struct floodgen *skel;
	uint32_t m4;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--net4"))
			cidr(argv[i + 1], AF_INET, a4, &p4);
		else if (!strcmp(argv[i], "--net6"))
			cidr(argv[i + 1], AF_INET6, a6, &p6);
		else
			die(argv[i], EINVAL);
	}
	if (argc < 1 || p4 < 0 || p4 > 32 || p6 != 112)
		die("sink IFNAME --net4 A.B.C.D/N --net6 X::/112", EINVAL);
	ifindex = (int)if_nametoindex(argv[0]);
	if (!ifindex)
		die(argv[0], ENODEV);
	skel = floodgen__open();
	if (!skel)
		die("opening the floodgen skeleton", errno);
	m4 = p4 ? htonl(~0u << (32 - p4)) : 0;
	skel->rodata->sink_mask4 = m4;
	memcpy((void *)&skel->rodata->sink_net4, a4, 4);
	skel->rodata->sink_net4 &= m4;
	memcpy((void *)skel->rodata->sink_net6, a6, 16);
	if (floodgen__load(skel))
		die("loading the floodgen program", errno);
	if (bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.floodgen_sink),
			   XDP_FLAGS_DRV_MODE, NULL))
		die("attach", errno);
	floodgen__destroy(skel); /* the attachment keeps it alive */
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(NULL);
	if (argc < 2) {
		fprintf(stderr, "usage: xdpbench cost|attach|gen|loop|sink ...\n");
		return 2;
	}
	if (!strcmp(argv[1], "cost"))
		return cmd_cost(argc - 2, argv + 2);
	if (!strcmp(argv[1], "attach"))
		return cmd_attach(argc - 2, argv + 2);
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(argc - 2, argv + 2);
	if (!strcmp(argv[1], "loop"))
		return cmd_loop(argc - 2, argv + 2);
	if (!strcmp(argv[1], "sink"))
		return cmd_sink(argc - 2, argv + 2);
	fprintf(stderr, "xdpbench: unknown command %s\n", argv[1]);
	return 2;
}
