// SPDX-License-Identifier: MIT
/*
 * BPF tests for the Sluice XDP program and its userspace adapter.
 *
 *  1. verdicts: the skeleton loaded without pins, maps filled by hand,
 *     hand-built frames run through BPF_PROG_TEST_RUN; the return value and
 *     the exact counter movement (packets and bytes) are checked.
 *  2. sync: xdpctl_sync_maps() against the real maps: additions, stale
 *     deletions, untouched common entries, a full map, and a client allowed
 *     by both configs never dropped while a large sync runs.
 *  3. attach: xdpctl_open()/xdpctl_close() on a veth pair in private network
 *     namespaces with a private pin directory; real TCP SYNs are dropped, then
 *     allowed after a sync; everything is gone after close.
 *
 * Needs root and BPF; without them each test is skipped with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include <sluice/abi.h>

#include "bpf/frames.h"
#include "config/config.h"
#include "lib/log.h"
#include "sluice_xdp.skel.h"
#include "xdp/xdpctl.h"
#include "xdp/xdpctl_int.h" /* the records sort of the sync */

#define GUARDED_PORT 8080
#define OTHER_PORT   9090 /* in the ports map, but not flagged guarded */

#define V4_ALLOWED "198.18.0.5"
#define V4_DENIED  "198.19.0.9"
#define V4_NEAR	   "198.18.1.1" /* just outside the allowed /24 */
#define V6_ALLOWED "fd00:5c::5"
#define V6_DENIED  "fd00:5d::1"

static struct sluice_xdp *skel;
static char skip_reason[256];

/* The gapless-swap tests: SWAP_N /32s replaced by SWAP_N others while a
 * probe source is judged over and over. */
#define SWAP_N 100000
#define SWAP_CAP (1u << 18)

#define SKIP_IF_NO_BPF()                                                       \
	do {                                                                   \
		if (!skel) {                                                   \
			print_message("skipped: %s\n", skip_reason);           \
			skip();                                                \
		}                                                              \
	} while (0)

/* ---- helpers --------------------------------------------------------- */

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void put_settings(__u32 flags)
{
	struct sluice_settings s = {.flags = flags,
				    .abi_version = SLUICE_ABI_VERSION};
	__u32 zero = 0;

	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_SETTINGS),
					     &zero, &s, BPF_ANY),
			 0);
}

static void put_port(uint16_t port, __u32 flags)
{
	__u32 k = port;
	struct sluice_port_val v = {.flags = flags};

	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_PORTS), &k,
					     &v, BPF_ANY),
			 0);
}

static struct sluice_lpm4_key key4(const char *addr, __u32 plen)
{
	struct sluice_lpm4_key k = {.prefixlen = plen};

	assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
	return k;
}

static struct sluice_lpm6_key key6(const char *addr, __u32 plen)
{
	struct sluice_lpm6_key k = {.prefixlen = plen};

	assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1);
	return k;
}

static void put_allow4(const char *addr, __u32 plen, __u32 class_id)
{
	struct sluice_lpm4_key k = key4(addr, plen);
	struct sluice_rule r = {.class_id = class_id};

	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_ALLOW4), &k,
					     &r, BPF_ANY),
			 0);
}

static void put_allow6(const char *addr, __u32 plen, __u32 class_id)
{
	struct sluice_lpm6_key k = key6(addr, plen);
	struct sluice_rule r = {.class_id = class_id};

	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_ALLOW6), &k,
					     &r, BPF_ANY),
			 0);
}

static void clear_map(int fd, size_t key_size)
{
	unsigned char key[64];

	assert_true(key_size <= sizeof(key));
	/* always delete the first key: never iterates over a deleted one */
	for (int i = 0; i < 200000; i++) {
		if (bpf_map_get_next_key(fd, NULL, key) < 0) {
			assert_int_equal(errno, ENOENT);
			return;
		}
		assert_int_equal(bpf_map_delete_elem(fd, key), 0);
	}
	fail_msg("map did not empty");
}

static long count_map(int fd)
{
	long n = xdpctl_pins_count(fd);

	assert_true(n >= 0);
	return n;
}

/* Entries of one list in one family: its trie and its host hash. */
static long count_list(int trie_fd, int host_fd)
{
	return count_map(trie_fd) + count_map(host_fd);
}

static void read_stats(struct sluice_counter out[SLUICE_R_MAX])
{
	struct xdpctl_pins p = {.stats_fd = fd_of(skel->maps.SLUICE_MAP_STATS)};

	assert_int_equal(xdpctl_pins_read_stats(&p, out), 0);
}

/* The table row being run ("what: "), so that a failure names it. */
static char row[192];

static __u32 run_frame(const void *data, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data,
		    .data_size_in = (__u32)len, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.sluice_xdp),
				     &o);
	if (err)
		fail_msg("%sBPF_PROG_TEST_RUN: %s", row, strerror(-err));
	return o.retval;
}

/* Run one frame; assert the action and that exactly one counter moved, by
 * one packet and len bytes. */
static void expect_len(const struct frame *f, size_t len, __u32 action,
		       enum sluice_reason reason)
{
	struct sluice_counter before[SLUICE_R_MAX], after[SLUICE_R_MAX];

	__u32 got;

	assert_true(len > 0 && len <= f->len);
	read_stats(before);
	got = run_frame(f->b, len);
	read_stats(after);
	for (int r = 0; r < SLUICE_R_MAX; r++) {
		__u64 dp = after[r].packets - before[r].packets;
		__u64 db = after[r].bytes - before[r].bytes;

		if (r == (int)reason) {
			if (dp != 1 || db != len)
				fail_msg(
					"%sreason %s moved by %llu pkts %llu "
					"bytes, want 1 pkt %zu bytes", row,
					xdpctl_reason_name(reason),
					(unsigned long long)dp,
					(unsigned long long)db, len);
		} else if (dp || db) {
			fail_msg("%sreason %s moved (%llu pkts) but %s "
				 "expected", row,
				 xdpctl_reason_name((enum sluice_reason)r),
				 (unsigned long long)dp,
				 xdpctl_reason_name(reason));
		}
	}
	if (got != action)
		fail_msg("%saction %u, want %u (reason %s, frame of %zu bytes)",
			 row, got, action, xdpctl_reason_name(reason), len);
}

static void expect(const struct frame_spec *s, __u32 action,
		   enum sluice_reason reason)
{
	struct frame f;

	if (frame_build(s, &f) == 0)
		fail_msg("%sframe_build failed", row);
	expect_len(&f, f.len, action, reason);
}

/* expect(), `times` times, with failures named `what`. */
static void expect_row(const char *what, const struct frame_spec *s,
		       unsigned int times, __u32 action,
		       enum sluice_reason reason)
{
	snprintf(row, sizeof(row), "%s: ", what);
	for (unsigned int i = 0; i < times; i++)
		expect(s, action, reason);
	row[0] = '\0';
}

/*
 * Verdict tables: each row is one frame, the action it must get and the
 * one counter that must move (by one packet and the frame's bytes); the
 * rows of a table run in order against the maps as they are. A burst row
 * sends its frame `times` times, for the rate tests' token buckets.
 */
struct verdict_case {
	const char *what;
	struct frame_spec s;
	__u32 action;
	enum sluice_reason reason;
};

struct burst_case {
	const char *what;
	struct frame_spec s;
	unsigned int times;
	__u32 action;
	enum sluice_reason reason;
};

static void expect_cases(const struct verdict_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_row(c[i].what, &c[i].s, 1, c[i].action, c[i].reason);
}

static void expect_bursts(const struct burst_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_row(c[i].what, &c[i].s, c[i].times, c[i].action,
			   c[i].reason);
}

#define EXPECT_CASES(t) expect_cases((t), sizeof(t) / sizeof((t)[0]))
#define EXPECT_BURSTS(t) expect_bursts((t), sizeof(t) / sizeof((t)[0]))

/* Frame specs for the tables; more fields may follow the port. */
#define TCP4(src_, port_, ...)                                                 \
	{.family = 4, .l4 = IPPROTO_TCP, .src = (src_), .dport = (port_),      \
	 __VA_ARGS__}
#define TCP6(src_, port_, ...)                                                 \
	{.family = 6, .l4 = IPPROTO_TCP, .src = (src_), .dport = (port_),      \
	 __VA_ARGS__}
#define UDP4(src_, port_, ...)                                                 \
	{.family = 4, .l4 = IPPROTO_UDP, .src = (src_), .dport = (port_),      \
	 __VA_ARGS__}
#define UDP6(src_, port_, ...)                                                 \
	{.family = 6, .l4 = IPPROTO_UDP, .src = (src_), .dport = (port_),      \
	 __VA_ARGS__}
#define NOT_IP(...) {.family = 0, __VA_ARGS__}
#define VLAN1 .n_vlan = 1, .vlan_tpid = {0x8100}
#define QINQ  .n_vlan = 2, .vlan_tpid = {0x88a8, 0x8100}
#define EXT(chain_) .ext = (chain_), .n_ext = sizeof(chain_)

static struct frame_spec tcp4(const char *src, uint16_t dport)
{
	return (struct frame_spec){
		.family = 4, .l4 = IPPROTO_TCP, .src = src, .dport = dport};
}

static struct frame_spec tcp6(const char *src, uint16_t dport)
{
	return (struct frame_spec){
		.family = 6, .l4 = IPPROTO_TCP, .src = src, .dport = dport};
}

/* ---- fixture ---------------------------------------------------------- */

static int group_setup(void **state)
{
	struct bpf_map *m;
	int err;

	if (geteuid() != 0) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "not root: BPF_PROG_TEST_RUN needs "
			 "CAP_BPF/CAP_NET_ADMIN");
		return 0;
	}
	skel = sluice_xdp__open();
	if (!skel) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "cannot open the BPF skeleton: %s", strerror(errno));
		return 0;
	}
	/* no pinning: these maps live only as long as this process */
	bpf_object__for_each_map(m, skel->obj) bpf_map__set_pin_path(m, NULL);
	/* room for the 10^5-entry swaps (old and new sets at once), as
	 * xdp.list_size would give */
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_ALLOW4, SWAP_CAP);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_DENY4, SWAP_CAP);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_HALLOW4, SWAP_CAP);
	bpf_map__set_max_entries(skel->maps.SLUICE_MAP_HDENY4, SWAP_CAP);
	err = sluice_xdp__load(skel);
	if (err) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "BPF program load failed (%s): BPF unavailable or "
			 "rejected by the verifier",
			 strerror(-err));
		sluice_xdp__destroy(skel);
		skel = NULL;
		if (err != -EPERM)
			return -1; /* a verifier rejection is a failure */
	}
	return 0;
}

static int group_teardown(void **state)
{
	sluice_xdp__destroy(skel);
	skel = NULL;
	return 0;
}

static void clear_classes(void)
{
	struct sluice_class z = {0};

	for (__u32 i = 0; i < SLUICE_MAX_CLASSES; i++)
		assert_int_equal(
			bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_CLASSES), &i,
					    &z, BPF_ANY),
			0);
}

/* The ports array has every slot: clearing it writes zeros. */
static void clear_ports(void)
{
	struct sluice_port_val z = {0};

	for (__u32 i = 0; i < SLUICE_PORT_SLOTS; i++)
		assert_int_equal(
			bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_PORTS), &i,
					    &z, BPF_ANY),
			0);
	assert_int_equal(count_map(fd_of(skel->maps.SLUICE_MAP_PORTS)), 0);
}

/* Empty every rule and state map (not the counters). */
static void reset_maps(void)
{
	clear_ports();
	clear_map(fd_of(skel->maps.SLUICE_MAP_ALLOW4),
		  sizeof(struct sluice_lpm4_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_ALLOW6),
		  sizeof(struct sluice_lpm6_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_DENY4),
		  sizeof(struct sluice_lpm4_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_DENY6),
		  sizeof(struct sluice_lpm6_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_HALLOW4),
		  sizeof(struct sluice_lpm4_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_HALLOW6),
		  sizeof(struct sluice_lpm6_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_HDENY4),
		  sizeof(struct sluice_lpm4_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_HDENY6),
		  sizeof(struct sluice_lpm6_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_BAN4),
		  sizeof(struct sluice_lpm4_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_BAN6),
		  sizeof(struct sluice_lpm6_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_SRC4),
		  sizeof(struct sluice_src4_key));
	clear_map(fd_of(skel->maps.SLUICE_MAP_SRC6),
		  sizeof(struct sluice_src6_key));
	clear_classes();
}

/* Baseline maps for the verdict tests. */
static int verdict_setup(void **state)
{
	if (!skel)
		return 0;
	reset_maps();
	put_port(GUARDED_PORT, SLUICE_PORT_GUARDED);
	put_port(OTHER_PORT, 0);
	put_allow4("198.18.0.0", 24, 0);
	put_allow6("fd00:5c::", 64, 0);
	put_settings(SLUICE_SET_ALLOWLIST);
	return 0;
}

/* ---- verdict tests ---------------------------------------------------- */

static void test_allowed_pass(void **state)
{
	static const struct verdict_case cases[] = {
		{"v4 allowed", TCP4(V4_ALLOWED, GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 allowed", TCP6(V6_ALLOWED, GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		/* a larger frame counts its real size */
		{"v6 allowed, 500 bytes of payload",
		 TCP6(V6_ALLOWED, GUARDED_PORT, .payload = 500), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(cases);
}

static void test_not_allowed_drop(void **state)
{
	static const struct verdict_case cases[] = {
		{"v4 denied", TCP4(V4_DENIED, GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		{"v4 just outside the allowed /24", TCP4(V4_NEAR, GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
		{"v6 denied", TCP6(V6_DENIED, GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		/* a v4 rule does not allow the v4-mapped v6 address */
		{"v4-mapped v6 of an allowed v4",
		 TCP6("::ffff:198.18.0.5", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(cases);
}

static void test_longest_prefix(void **state)
{
	static const struct verdict_case before[] = {
		{"198.18.77.3, no /32 yet", TCP4("198.18.77.3", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
	};
	static const struct verdict_case after[] = {
		{"198.18.77.3, its /32", TCP4("198.18.77.3", GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"198.18.77.4, beside the /32",
		 TCP4("198.18.77.4", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(before);
	put_allow4("198.18.77.3", 32, 0);
	EXPECT_CASES(after);
}

static void test_allowlist_disabled(void **state)
{
	static const struct verdict_case off[] = {
		{"allowlist off, v4 denied", TCP4(V4_DENIED, GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_GUARDED},
		{"allowlist off, v6 denied", TCP6(V6_DENIED, GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_GUARDED},
	};
	static const struct verdict_case empty[] = {
		{"empty settings, v4 denied", TCP4(V4_DENIED, GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_GUARDED},
	};

	SKIP_IF_NO_BPF();
	put_settings(0);
	EXPECT_CASES(off);
	/* an empty settings map (before the first sync) also fails open */
	{
		__u32 zero = 0;
		struct sluice_settings z = {0};

		assert_int_equal(
			bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_SETTINGS),
					    &zero, &z, BPF_ANY),
			0);
	}
	EXPECT_CASES(empty);
}

static void test_unguarded_port(void **state)
{
	static const struct verdict_case cases[] = {
		{"v4 denied, port 22", TCP4(V4_DENIED, 22), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
		{"v6 denied, port 22", TCP6(V6_DENIED, 22), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
		/* present in the ports map without the GUARDED flag */
		{"v4 denied, listed port not guarded",
		 TCP4(V4_DENIED, OTHER_PORT), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(cases);
}

static void test_udp_to_guarded_port(void **state)
{
	static const struct verdict_case cases[] = {
		{"v4 UDP", UDP4(V4_DENIED, GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
		{"v6 UDP", UDP6(V6_DENIED, GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(cases);
}

static void test_not_ip(void **state)
{
	static const struct verdict_case cases[] = {
		{"ARP", NOT_IP(), XDP_PASS, SLUICE_R_PASS_NOT_IP},
		{"ARP behind a VLAN tag", NOT_IP(VLAN1), XDP_PASS,
		 SLUICE_R_PASS_NOT_IP},
		/* a third VLAN tag is beyond what we skip: left to the stack */
		{"three VLAN tags",
		 TCP4(V4_DENIED, GUARDED_PORT, .n_vlan = 3,
		      .vlan_tpid = {0x88a8, 0x8100, 0x8100}),
		 XDP_PASS, SLUICE_R_PASS_NOT_IP},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(cases);
}

static void test_vlan_drop(void **state)
{
	static const struct verdict_case cases[] = {
		{"v4 denied, one tag", TCP4(V4_DENIED, GUARDED_PORT, VLAN1),
		 XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
		{"v4 denied, QinQ", TCP4(V4_DENIED, GUARDED_PORT, QINQ),
		 XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
		{"v4 allowed, QinQ", TCP4(V4_ALLOWED, GUARDED_PORT, QINQ),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v6 denied, QinQ", TCP6(V6_DENIED, GUARDED_PORT, QINQ),
		 XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(cases);
}

static void test_ipv4_options(void **state)
{
	static const struct verdict_case malformed[] = {
		/* IHL below 5 is impossible: malformed, left to the stack */
		{"IHL 4", TCP4(V4_DENIED, GUARDED_PORT, .ip4_ihl = 4), XDP_PASS,
		 SLUICE_R_PASS_MALFORMED},
		/* IHL claims options past the end of the frame */
		{"IHL 15 past the end of the frame",
		 TCP4(V4_DENIED, GUARDED_PORT, .ip4_ihl = 15, .l4_len = 4),
		 XDP_PASS, SLUICE_R_PASS_MALFORMED},
	};
	char what[64];

	SKIP_IF_NO_BPF();
	for (uint8_t w = 1; w <= 10; w++) {
		struct frame_spec s = TCP4(V4_DENIED, GUARDED_PORT,
					   .ip4_opt_words = w);

		snprintf(what, sizeof(what), "%u option words, denied", w);
		expect_row(what, &s, 1, XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED);
		s.src = V4_ALLOWED;
		snprintf(what, sizeof(what), "%u option words, allowed", w);
		expect_row(what, &s, 1, XDP_PASS, SLUICE_R_PASS_ALLOWED);
	}
	EXPECT_CASES(malformed);
}

static void test_ipv6_ext_headers(void **state)
{
	static const uint8_t chain[] = {IPPROTO_HOPOPTS, IPPROTO_ROUTING,
					IPPROTO_DSTOPTS};
	static const uint8_t frag[] = {IPPROTO_HOPOPTS, IPPROTO_FRAGMENT,
				       IPPROTO_DSTOPTS};
	static const uint8_t many[9] = {
		IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
		IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS,
		IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS};
	static const struct verdict_case cases[] = {
		{"hop, routing, dest opts: denied",
		 TCP6(V6_DENIED, GUARDED_PORT, EXT(chain)), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		{"hop, routing, dest opts: allowed",
		 TCP6(V6_ALLOWED, GUARDED_PORT, EXT(chain)), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"hop, routing, dest opts: UDP",
		 UDP6(V6_DENIED, GUARDED_PORT, EXT(chain)), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
		/* an atomic fragment (offset 0, M=0) is a whole packet */
		{"atomic fragment",
		 TCP6(V6_DENIED, GUARDED_PORT, EXT(frag), .frag6 = 0),
		 XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
		/* exactly the walk limit (8) still finds TCP */
		{"8 headers, port 22", TCP6(V6_DENIED, 22, .ext = many,
					    .n_ext = 8),
		 XDP_PASS, SLUICE_R_PASS_UNGUARDED},
		{"8 headers, guarded port",
		 TCP6(V6_DENIED, GUARDED_PORT, .ext = many, .n_ext = 8),
		 XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
		/* one more hides the L4 header and its port: dropped, whoever
		 * sends it and wherever it goes (test_ipv6_ext_depth_syn has
		 * the table) */
		{"9 headers, port 22", TCP6(V6_DENIED, 22, EXT(many)), XDP_DROP,
		 SLUICE_R_DROP_EXT_DEPTH},
		{"9 headers, allowed source", TCP6(V6_ALLOWED, 22, EXT(many)),
		 XDP_DROP, SLUICE_R_DROP_EXT_DEPTH},
	};
	static const struct verdict_case off[] = {
		{"9 headers, allowlist off", TCP6(V6_DENIED, 22, EXT(many)),
		 XDP_DROP, SLUICE_R_DROP_EXT_DEPTH},
	};

	SKIP_IF_NO_BPF();
	EXPECT_CASES(cases);
	put_settings(0);
	EXPECT_CASES(off);
}

/*
 * Fragments, as one table. verdict_setup: allowlist enforced, 198.18.0.0/24
 * and fd00:5c::/64 allowed, GUARDED_PORT guarded, no rate limits.
 *  - a first fragment holding the whole TCP header is judged like a packet;
 *  - a first TCP fragment with less than the 20-byte header, and a TCP
 *    fragment at offset 8 bytes, are dropped whatever the source and port
 *    (RFC 1858), so a SYN split across two fragments never slips past the
 *    SYN bucket (the kernel reassembles before TCP sees the flags);
 *  - a later fragment of TCP is judged as if it went to a guarded port.
 * On the code before these rules, the tiny and offset-8 rows passed
 * (pass_allowed, pass_unguarded) and the later-fragment rows of denied
 * sources passed as pass_unguarded.
 */
#define MF4 0x2000 /* IPv4 more-fragments flag */
#define ACK 0x10

static const uint8_t frag_only[] = {IPPROTO_FRAGMENT};
static const uint8_t frag_dst[] = {IPPROTO_FRAGMENT, IPPROTO_DSTOPTS};
static const uint8_t hop_frag[] = {IPPROTO_HOPOPTS, IPPROTO_FRAGMENT};

#define F4(src_, port_, l4_, frag_, l4len_, l4off_)                           \
	{.family = 4, .l4 = (l4_), .src = (src_), .dport = (port_),            \
	 .ip4_frag = (frag_), .l4_len = (l4len_), .l4_off = (l4off_)}
#define F6(src_, port_, l4_, ext_, frag6_, l4len_, l4off_)                    \
	{.family = 6, .l4 = (l4_), .src = (src_), .dport = (port_),            \
	 .ext = (ext_), .n_ext = sizeof(ext_), .frag6 = (frag6_),              \
	 .l4_len = (l4len_), .l4_off = (l4off_)}

static const struct verdict_case frag_cases[] = {
	/* IPv4 first fragments */
	{"v4 first, full header, denied", F4(V4_DENIED, GUARDED_PORT,
	 IPPROTO_TCP, MF4, 0, 0), XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
	{"v4 first, full header, allowed", F4(V4_ALLOWED, GUARDED_PORT,
	 IPPROTO_TCP, MF4, 0, 0), XDP_PASS, SLUICE_R_PASS_ALLOWED},
	{"v4 first, full header, unguarded port", F4(V4_DENIED, 22,
	 IPPROTO_TCP, MF4, 0, 0), XDP_PASS, SLUICE_R_PASS_UNGUARDED},
	{"v4 first, 24 bytes (header + MSS)", F4(V4_ALLOWED, GUARDED_PORT,
	 IPPROTO_TCP, MF4, 24, 0), XDP_PASS, SLUICE_R_PASS_ALLOWED},
	{"v4 tiny first: 8 bytes (ports, seq), allowed", F4(V4_ALLOWED,
	 GUARDED_PORT, IPPROTO_TCP, MF4, 8, 0), XDP_DROP,
	 SLUICE_R_DROP_FRAG_TINY},
	{"v4 tiny first: 16 bytes (flags, no checksum)", F4(V4_ALLOWED,
	 GUARDED_PORT, IPPROTO_TCP, MF4, 16, 0), XDP_DROP,
	 SLUICE_R_DROP_FRAG_TINY},
	{"v4 tiny first: 2 bytes (no port)", F4(V4_ALLOWED, GUARDED_PORT,
	 IPPROTO_TCP, MF4, 2, 0), XDP_DROP, SLUICE_R_DROP_FRAG_TINY},
	{"v4 tiny first: 8 bytes to an unguarded port", F4(V4_ALLOWED, 22,
	 IPPROTO_TCP, MF4, 8, 0), XDP_DROP, SLUICE_R_DROP_FRAG_TINY},
	{"v4 tiny first, UDP: not TCP", F4(V4_DENIED, GUARDED_PORT,
	 IPPROTO_UDP, MF4, 4, 0), XDP_PASS, SLUICE_R_PASS_UNGUARDED},
	{"v4 unfragmented, 8 TCP bytes: malformed", F4(V4_DENIED,
	 GUARDED_PORT, IPPROTO_TCP, 0, 8, 0), XDP_PASS,
	 SLUICE_R_PASS_MALFORMED},
	/* a SYN split in two: 8 bytes, then the other 12 at offset 1 */
	{"v4 split SYN, part 1 (offset 0, 8 bytes)", F4(V4_ALLOWED,
	 GUARDED_PORT, IPPROTO_TCP, MF4, 8, 0), XDP_DROP,
	 SLUICE_R_DROP_FRAG_TINY},
	{"v4 split SYN, part 2 (offset 1, flags)", F4(V4_ALLOWED,
	 GUARDED_PORT, IPPROTO_TCP, 1, 12, 8), XDP_DROP,
	 SLUICE_R_DROP_FRAG_OVERLAP},
	{"v4 offset 1 with MF", F4(V4_ALLOWED, GUARDED_PORT, IPPROTO_TCP,
	 MF4 | 1, 12, 8), XDP_DROP, SLUICE_R_DROP_FRAG_OVERLAP},
	{"v4 offset 1, UDP: not TCP", F4(V4_DENIED, GUARDED_PORT,
	 IPPROTO_UDP, MF4 | 1, 0, 0), XDP_PASS, SLUICE_R_PASS_UNGUARDED},
	/* later fragments: no ports, judged as guarded */
	{"v4 later (offset 2), denied", F4(V4_DENIED, GUARDED_PORT,
	 IPPROTO_TCP, MF4 | 2, 0, 0), XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
	{"v4 later (offset 10), denied", F4(V4_DENIED, GUARDED_PORT,
	 IPPROTO_TCP, MF4 | 10, 0, 0), XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
	{"v4 last (offset 10), denied", F4(V4_DENIED, GUARDED_PORT,
	 IPPROTO_TCP, 10, 0, 0), XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED},
	{"v4 later, allowed", F4(V4_ALLOWED, GUARDED_PORT, IPPROTO_TCP,
	 MF4 | 10, 0, 0), XDP_PASS, SLUICE_R_PASS_ALLOWED},
	{"v4 later, UDP", F4(V4_DENIED, GUARDED_PORT, IPPROTO_UDP,
	 MF4 | 10, 0, 0), XDP_PASS, SLUICE_R_PASS_UNGUARDED},

	/* IPv6 fragment header: the same rules */
	{"v6 first, full header, denied", F6(V6_DENIED, GUARDED_PORT,
	 IPPROTO_TCP, frag_only, 1, 0, 0), XDP_DROP,
	 SLUICE_R_DROP_NOT_ALLOWED},
	{"v6 first, full header, allowed", F6(V6_ALLOWED, GUARDED_PORT,
	 IPPROTO_TCP, hop_frag, 1, 0, 0), XDP_PASS, SLUICE_R_PASS_ALLOWED},
	{"v6 atomic fragment, 8 TCP bytes: malformed", F6(V6_DENIED,
	 GUARDED_PORT, IPPROTO_TCP, frag_only, 0, 8, 0), XDP_PASS,
	 SLUICE_R_PASS_MALFORMED},
	{"v6 tiny first: 8 bytes, allowed", F6(V6_ALLOWED, GUARDED_PORT,
	 IPPROTO_TCP, frag_only, 1, 8, 0), XDP_DROP,
	 SLUICE_R_DROP_FRAG_TINY},
	{"v6 tiny first: 2 bytes", F6(V6_ALLOWED, GUARDED_PORT, IPPROTO_TCP,
	 frag_only, 1, 2, 0), XDP_DROP, SLUICE_R_DROP_FRAG_TINY},
	{"v6 tiny first behind dest opts", F6(V6_ALLOWED, 22, IPPROTO_TCP,
	 frag_dst, 1, 8, 0), XDP_DROP, SLUICE_R_DROP_FRAG_TINY},
	{"v6 offset 1 (8 bytes), TCP", F6(V6_ALLOWED, GUARDED_PORT,
	 IPPROTO_TCP, frag_only, (1 << 3), 12, 8), XDP_DROP,
	 SLUICE_R_DROP_FRAG_OVERLAP},
	{"v6 later (offset 8), denied", F6(V6_DENIED, GUARDED_PORT,
	 IPPROTO_TCP, frag_only, (8 << 3) | 1, 0, 0), XDP_DROP,
	 SLUICE_R_DROP_NOT_ALLOWED},
	{"v6 last (offset 8), denied", F6(V6_DENIED, GUARDED_PORT,
	 IPPROTO_TCP, frag_only, (8 << 3), 0, 0), XDP_DROP,
	 SLUICE_R_DROP_NOT_ALLOWED},
	{"v6 later, allowed", F6(V6_ALLOWED, GUARDED_PORT, IPPROTO_TCP,
	 frag_only, (8 << 3) | 1, 0, 0), XDP_PASS, SLUICE_R_PASS_ALLOWED},
	{"v6 later, next header dest opts (may be TCP)", F6(V6_DENIED,
	 GUARDED_PORT, IPPROTO_TCP, frag_dst, (8 << 3) | 1, 0, 0), XDP_DROP,
	 SLUICE_R_DROP_NOT_ALLOWED},
	{"v6 later, UDP", F6(V6_DENIED, GUARDED_PORT, IPPROTO_UDP, frag_only,
	 (8 << 3) | 1, 0, 0), XDP_PASS, SLUICE_R_PASS_UNGUARDED},
};

static void test_fragments(void **state)
{
	SKIP_IF_NO_BPF();
	EXPECT_CASES(frag_cases);
}

/* Rewrite the IP length field (and the IPv4 checksum) of a built frame
 * without VLAN tags, so the frame runs past what the IP header counts. */
static void set_ip_len(struct frame *f, uint8_t family, uint16_t len)
{
	uint8_t *ip = f->b + 14;

	if (family == 4) {
		frame_put16(ip + 2, len);
		frame_put16(ip + 10, 0);
		frame_put16(ip + 10, frame_csum(ip, (size_t)(ip[0] & 15) * 4));
	} else {
		frame_put16(ip + 4, len);
	}
}

/* A first fragment whose IP length holds 8 TCP bytes, in a frame whose tail
 * carries a complete non-SYN TCP header: the kernel trims the tail and
 * takes the flags from the next fragment, so the tail must not be read as
 * the header. (Before: judged on the tail, pass_allowed.) */
static void test_fragment_forged_tail(void **state)
{
	/* ip_len: the IP length field written over the built frame's (0:
	 * left as built) */
	static const struct {
		const char *what;
		struct frame_spec s;
		uint16_t ip_len;
		__u32 action;
		enum sluice_reason reason;
	} cases[] = {
		{"v4 first fragment, ACK, as built",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .ip4_frag = MF4,
		      .tcp_flags = ACK),
		 0, XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v4 first fragment, IP length holds 8 TCP bytes",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .ip4_frag = MF4,
		      .tcp_flags = ACK),
		 20 + 8, XDP_DROP, SLUICE_R_DROP_FRAG_TINY},
		/* the same unfragmented: the kernel drops a TCP header that
		 * does not fit; left to it */
		{"v4 unfragmented, IP length holds 8 TCP bytes",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .tcp_flags = ACK), 20 + 8,
		 XDP_PASS, SLUICE_R_PASS_MALFORMED},
		/* IPv4 total length below the header */
		{"v4 total length below the header",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .tcp_flags = ACK), 19,
		 XDP_PASS, SLUICE_R_PASS_MALFORMED},
		{"v6 first fragment, ACK, as built",
		 TCP6(V6_ALLOWED, GUARDED_PORT, .ext = frag_only, .n_ext = 1,
		      .frag6 = 1, .tcp_flags = ACK),
		 0, XDP_PASS, SLUICE_R_PASS_ALLOWED},
		/* IPv6: payload length = fragment header + 8 TCP bytes */
		{"v6 first fragment, payload length holds 8 TCP bytes",
		 TCP6(V6_ALLOWED, GUARDED_PORT, .ext = frag_only, .n_ext = 1,
		      .frag6 = 1, .tcp_flags = ACK),
		 8 + 8, XDP_DROP, SLUICE_R_DROP_FRAG_TINY},
		/* the payload length ends inside the extension chain */
		{"v6 payload length ends inside the extension chain",
		 TCP6(V6_ALLOWED, GUARDED_PORT, .ext = frag_only, .n_ext = 1,
		      .frag6 = 1, .tcp_flags = ACK),
		 4, XDP_DROP, SLUICE_R_DROP_FRAG_TINY},
	};
	struct frame f;

	SKIP_IF_NO_BPF();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(row, sizeof(row), "%s: ", cases[i].what);
		if (frame_build(&cases[i].s, &f) == 0)
			fail_msg("%sframe_build failed", row);
		if (cases[i].ip_len)
			set_ip_len(&f, cases[i].s.family, cases[i].ip_len);
		expect_len(&f, f.len, cases[i].action, cases[i].reason);
	}
	row[0] = '\0';
}

/* Cut a complete frame at every length from the Ethernet header on: each
 * prefix must pass as malformed without faulting. */
static void truncate_all(const char *what, const struct frame_spec *s)
{
	struct frame f;

	snprintf(row, sizeof(row), "%s: ", what);
	if (frame_build(s, &f) == 0)
		fail_msg("%sframe_build failed", row);
	for (size_t len = 14; len < f.len; len++)
		expect_len(&f, len, XDP_PASS, SLUICE_R_PASS_MALFORMED);
	expect_len(&f, f.len, XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED);
	row[0] = '\0';
}

static void test_truncated(void **state)
{
	static const uint8_t chain[] = {IPPROTO_HOPOPTS, IPPROTO_DSTOPTS,
					IPPROTO_ROUTING};
	static const struct {
		const char *what;
		struct frame_spec s;
	} frames[] = {
		{"v4", TCP4(V4_DENIED, GUARDED_PORT)},
		{"v4, QinQ, 3 option words",
		 TCP4(V4_DENIED, GUARDED_PORT, QINQ, .ip4_opt_words = 3)},
		{"v6", TCP6(V6_DENIED, GUARDED_PORT)},
		{"v6, VLAN, hop, dest opts, routing",
		 TCP6(V6_DENIED, GUARDED_PORT, VLAN1, EXT(chain))},
	};

	SKIP_IF_NO_BPF();
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		truncate_all(frames[i].what, &frames[i].s);
}

static void test_counters_exact(void **state)
{
	struct sluice_counter before[SLUICE_R_MAX], after[SLUICE_R_MAX];
	struct frame f;
	struct frame_spec s;
	uint64_t want_pass_pk = 0, want_pass_b = 0;
	uint64_t want_drop_pk = 0, want_drop_b = 0;

	SKIP_IF_NO_BPF();
	read_stats(before);
	for (uint16_t i = 0; i < 7; i++) {
		s = tcp4(i % 2 ? V4_DENIED : V4_ALLOWED, GUARDED_PORT);
		s.payload = (uint16_t)(i * 37);
		assert_true(frame_build(&s, &f) > 0);
		if (i % 2) {
			assert_int_equal(run_frame(f.b, f.len), XDP_DROP);
			want_drop_pk++;
			want_drop_b += f.len;
		} else {
			assert_int_equal(run_frame(f.b, f.len), XDP_PASS);
			want_pass_pk++;
			want_pass_b += f.len;
		}
	}
	read_stats(after);
	assert_int_equal(after[SLUICE_R_PASS_ALLOWED].packets -
				 before[SLUICE_R_PASS_ALLOWED].packets,
			 want_pass_pk);
	assert_int_equal(after[SLUICE_R_PASS_ALLOWED].bytes -
				 before[SLUICE_R_PASS_ALLOWED].bytes,
			 want_pass_b);
	assert_int_equal(after[SLUICE_R_DROP_NOT_ALLOWED].packets -
				 before[SLUICE_R_DROP_NOT_ALLOWED].packets,
			 want_drop_pk);
	assert_int_equal(after[SLUICE_R_DROP_NOT_ALLOWED].bytes -
				 before[SLUICE_R_DROP_NOT_ALLOWED].bytes,
			 want_drop_b);
	assert_int_equal(want_pass_pk, 4);
	assert_int_equal(want_drop_pk, 3);
}

/* ---- deny, ban, rate, scope, cache, events ---------------------------- */

static void put_lpm4(struct bpf_map *m, const char *addr, __u32 plen,
		     const void *val)
{
	struct sluice_lpm4_key k = key4(addr, plen);

	assert_int_equal(bpf_map_update_elem(fd_of(m), &k, val, BPF_ANY), 0);
}

static void put_lpm6(struct bpf_map *m, const char *addr, __u32 plen,
		     const void *val)
{
	struct sluice_lpm6_key k = key6(addr, plen);

	assert_int_equal(bpf_map_update_elem(fd_of(m), &k, val, BPF_ANY), 0);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_class(__u32 id, uint32_t rate, uint32_t burst, uint32_t syn,
		      uint32_t syn_burst)
{
	struct sluice_class c;

	xdpctl_class_make(&c, rate, burst, syn, syn_burst);
	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_CLASSES),
					     &id, &c, BPF_ANY),
			 0);
}

/* Settings with everything given; gen is bumped on every call. */
static void put_settings_full(__u32 flags, __u8 v6_prefix, __u8 shift)
{
	static __u64 gen = 1000;
	struct sluice_settings s = {.flags = flags,
				    .abi_version = SLUICE_ABI_VERSION,
				    .gen = ++gen,
				    .v6_prefix = v6_prefix,
				    .sample_shift = shift};
	__u32 zero = 0;

	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_SETTINGS),
					     &zero, &s, BPF_ANY),
			 0);
}

static void test_deny_first(void **state)
{
	static const struct verdict_case cases[] = {
		/* denied although allowed: deny is checked first */
		{"v4 allowed, in the denied /28",
		 TCP4(V4_ALLOWED, GUARDED_PORT), XDP_DROP, SLUICE_R_DROP_DENY},
		{"v6 allowed, in the denied /120",
		 TCP6(V6_ALLOWED, GUARDED_PORT), XDP_DROP, SLUICE_R_DROP_DENY},
		/* outside the denied prefix, inside the allowed one */
		{"v4 outside the denied prefix",
		 TCP4("198.18.0.77", GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 outside the denied prefix",
		 TCP6("fd00:5c::1:5", GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		/* only guarded traffic is judged */
		{"denied source, port 22", TCP4(V4_ALLOWED, 22), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
	};
	/* deny applies with the allowlist off too */
	static const struct verdict_case off[] = {
		{"allowlist off, denied source",
		 TCP4(V4_ALLOWED, GUARDED_PORT), XDP_DROP, SLUICE_R_DROP_DENY},
		{"allowlist off, other source", TCP4(V4_DENIED, GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_GUARDED},
	};
	struct sluice_rule r = {0};

	SKIP_IF_NO_BPF();
	put_lpm4(skel->maps.SLUICE_MAP_DENY4, "198.18.0.0", 28, &r);
	put_lpm6(skel->maps.SLUICE_MAP_DENY6, "fd00:5c::", 120, &r);
	EXPECT_CASES(cases);
	put_settings(0);
	EXPECT_CASES(off);
}

static void test_bans(void **state)
{
	static const struct verdict_case cases[] = {
		{"banned for ever", TCP4("198.18.0.5", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_BANNED},
		{"banned for an hour", TCP4("198.18.0.6", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_BANNED},
		/* an expired ban is inert */
		{"ban expired", TCP4("198.18.0.7", GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 in the banned /112", TCP6("fd00:5c::77", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_BANNED},
		{"v6 outside the banned /112",
		 TCP6("fd00:5c::1:77", GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
	};
	/* a banned source outside the allowlist: ban comes first */
	static const struct verdict_case not_allowed[] = {
		{"banned and not allowed", TCP4(V4_DENIED, GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_BANNED},
	};
	static const struct verdict_case denied[] = {
		/* deny before ban */
		{"banned and denied", TCP4("198.18.0.5", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_DENY},
		/* unguarded traffic of a banned source passes (scope
		 * guarded) */
		{"banned, port 22", TCP4("198.18.0.6", 22), XDP_PASS,
		 SLUICE_R_PASS_UNGUARDED},
	};
	struct sluice_ban forever = {.source = SLUICE_BAN_OPERATOR};
	struct sluice_ban later = {.source = SLUICE_BAN_OPERATOR};
	struct sluice_ban past = {.source = SLUICE_BAN_DAEMON};
	struct sluice_rule r = {0};
	uint64_t now = mono_ns();

	SKIP_IF_NO_BPF();
	later.expires_ns = now + 3600ull * 1000000000ull;
	past.expires_ns = now - 1;
	put_lpm4(skel->maps.SLUICE_MAP_BAN4, "198.18.0.5", 32, &forever);
	put_lpm4(skel->maps.SLUICE_MAP_BAN4, "198.18.0.6", 32, &later);
	put_lpm4(skel->maps.SLUICE_MAP_BAN4, "198.18.0.7", 32, &past);
	put_lpm6(skel->maps.SLUICE_MAP_BAN6, "fd00:5c::", 112, &later);
	EXPECT_CASES(cases);
	put_lpm4(skel->maps.SLUICE_MAP_BAN4, V4_DENIED, 32, &forever);
	EXPECT_CASES(not_allowed);
	put_lpm4(skel->maps.SLUICE_MAP_DENY4, "198.18.0.5", 32, &r);
	EXPECT_CASES(denied);
}

static void test_scope_all(void **state)
{
	static const struct verdict_case cases[] = {
		{"TCP to port 22", TCP4(V4_DENIED, 22), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		{"UDP to port 22", UDP4(V4_DENIED, 22), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		{"v6 UDP to port 53", UDP6(V6_DENIED, 53), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		{"v6 UDP to port 53, allowed", UDP6(V6_ALLOWED, 53), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		/* every fragment is judged on its IP header */
		{"later fragment, denied",
		 TCP4(V4_DENIED, GUARDED_PORT, .ip4_frag = 10), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		{"later fragment, allowed",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .ip4_frag = 10), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		/* non-IP still passes; deny still applies */
		{"ARP", NOT_IP(), XDP_PASS, SLUICE_R_PASS_NOT_IP},
	};
	static const struct verdict_case denied[] = {
		{"UDP of a denied source", UDP4(V4_ALLOWED, 53), XDP_DROP,
		 SLUICE_R_DROP_DENY},
		/* a truncated TCP header is still left to the stack */
		{"truncated TCP header",
		 TCP4(V4_DENIED, GUARDED_PORT, .l4_len = 10), XDP_PASS,
		 SLUICE_R_PASS_MALFORMED},
	};
	struct sluice_rule r = {0};

	SKIP_IF_NO_BPF();
	put_settings(SLUICE_SET_ALLOWLIST | SLUICE_SET_SCOPE_ALL);
	EXPECT_CASES(cases);
	put_lpm4(skel->maps.SLUICE_MAP_DENY4, V4_ALLOWED, 32, &r);
	EXPECT_CASES(denied);
}

/* The default class: rate 1/s, burst 5; SYN 1/s burst 2. With an interval of
 * a second, nothing refills while the few frames below run. */
static void test_rate_default_class(void **state)
{
	static const struct burst_case cases[] = {
		{"ACK within the burst",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .tcp_flags = ACK), 5, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"ACK past the burst",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .tcp_flags = ACK), 2, XDP_DROP,
		 SLUICE_R_DROP_RATE},
		/* another source has its own bucket, and SYNs their own
		 * limit */
		{"SYN of another source", TCP4("198.18.0.9", GUARDED_PORT), 2,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"SYN past the SYN burst", TCP4("198.18.0.9", GUARDED_PORT), 1,
		 XDP_DROP, SLUICE_R_DROP_SYN_RATE},
		/* a refused SYN spent no packet token: 3 packets remain */
		{"ACK after the SYNs",
		 TCP4("198.18.0.9", GUARDED_PORT, .tcp_flags = ACK), 3,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"ACK past what the SYNs left",
		 TCP4("198.18.0.9", GUARDED_PORT, .tcp_flags = ACK), 1,
		 XDP_DROP, SLUICE_R_DROP_RATE},
		/* SYN+ACK is not a new connection */
		{"SYN+ACK",
		 TCP4("198.18.0.10", GUARDED_PORT, .tcp_flags = 0x12), 5,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};
	/* rate limits apply with the allowlist off too */
	static const struct burst_case off[] = {
		{"allowlist off, within the burst",
		 TCP4(V4_DENIED, GUARDED_PORT, .tcp_flags = ACK), 5, XDP_PASS,
		 SLUICE_R_PASS_GUARDED},
		{"allowlist off, past the burst",
		 TCP4(V4_DENIED, GUARDED_PORT, .tcp_flags = ACK), 1, XDP_DROP,
		 SLUICE_R_DROP_RATE},
	};
	/* without the RATE flag no bucket is consulted */
	static const struct burst_case no_rate[] = {
		{"no RATE flag",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .tcp_flags = ACK), 8, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
	};

	SKIP_IF_NO_BPF();
	put_class(0, 1, 5, 1, 2);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	EXPECT_BURSTS(cases);
	put_settings_full(SLUICE_SET_RATE, 64, 0);
	EXPECT_BURSTS(off);
	put_settings(SLUICE_SET_ALLOWLIST);
	EXPECT_BURSTS(no_rate);
}

static void test_rate_per_cidr_class(void **state)
{
	static const struct burst_case v4[] = {
		{"class 3, within the burst",
		 TCP4("198.18.0.200", GUARDED_PORT), 2, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"class 3, past the burst", TCP4("198.18.0.200", GUARDED_PORT),
		 1, XDP_DROP, SLUICE_R_DROP_RATE},
		/* the /24 entry: class 0, unlimited */
		{"class 0, unlimited", TCP4("198.18.0.5", GUARDED_PORT), 20,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};
	/* IPv6 class */
	static const struct burst_case v6[] = {
		{"v6 class 3, within the burst",
		 TCP6("fd00:5c::8000:0:0:1", GUARDED_PORT), 2, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 class 3, past the burst",
		 TCP6("fd00:5c::8000:0:0:1", GUARDED_PORT), 1, XDP_DROP,
		 SLUICE_R_DROP_RATE},
	};
	/* an unknown class id means unlimited, not a drop */
	static const struct burst_case unknown[] = {
		{"unknown class id", TCP4("198.18.0.70", GUARDED_PORT), 5,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};

	SKIP_IF_NO_BPF();
	put_class(0, 0, 0, 0, 0); /* default: unlimited */
	put_class(3, 1, 2, 0, 0);
	put_allow4("198.18.0.128", 25, 3);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	EXPECT_BURSTS(v4);
	put_allow6("fd00:5c:0:0:8000::", 65, 3);
	EXPECT_BURSTS(v6);
	put_allow4("198.18.0.64", 26, 5000);
	EXPECT_BURSTS(unknown);
}

/* Delete key addr/plen from map m; it must have been there. */
static void del4(struct bpf_map *m, const char *addr, __u32 plen)
{
	struct sluice_lpm4_key k = key4(addr, plen);

	assert_int_equal(bpf_map_delete_elem(fd_of(m), &k), 0);
}

static void del6(struct bpf_map *m, const char *addr, __u32 plen)
{
	struct sluice_lpm6_key k = key6(addr, plen);

	assert_int_equal(bpf_map_delete_elem(fd_of(m), &k), 0);
}

/*
 * Host entries (/32, /128) live in hashes beside the tries: deny matches if
 * either has the source; allow takes the host entry's class over a
 * covering prefix's (the host is the longest match); removing a host entry
 * falls back to the prefix. Base: allow 198.18.0.0/24, fd00:5c::/64.
 */
static void test_host_entries(void **state)
{
	static const struct verdict_case deny[] = {
		{"v4 denied host", TCP4("198.18.0.5", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_DENY},
		{"v4 in the denied /28", TCP4("198.18.0.17", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_DENY},
		{"v4 denied host inside the denied /28",
		 TCP4("198.18.0.20", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_DENY},
		{"v4 allowed, denied nowhere", TCP4("198.18.0.6", GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v6 denied host", TCP6("fd00:5c::5", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_DENY},
		{"v6 in the denied /120", TCP6("fd00:5c::1:17", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_DENY},
		{"v6 denied host inside the denied /120",
		 TCP6("fd00:5c::1:20", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_DENY},
		{"v6 allowed, denied nowhere", TCP6("fd00:5c::6", GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};
	/* the host entries inside the denied prefixes gone: still denied;
	 * the other host entries gone: allowed again */
	static const struct verdict_case undeny[] = {
		{"v4 host gone, its /28 still denies",
		 TCP4("198.18.0.20", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_DENY},
		{"v6 host gone, its /120 still denies",
		 TCP6("fd00:5c::1:20", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_DENY},
		{"v4 host gone, allowed", TCP4("198.18.0.5", GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v6 host gone, allowed", TCP6("fd00:5c::5", GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};
	/* allow host entries outside every allowed prefix */
	static const struct verdict_case allow[] = {
		{"v4 allowed host", TCP4(V4_DENIED, GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v4 next to the allowed host",
		 TCP4("198.19.0.10", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
		{"v6 allowed host", TCP6(V6_DENIED, GUARDED_PORT), XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 next to the allowed host",
		 TCP6("fd00:5d::2", GUARDED_PORT), XDP_DROP,
		 SLUICE_R_DROP_NOT_ALLOWED},
	};
	/* class 3 (1/s, burst 2) on host entries inside class-0 prefixes */
	static const struct burst_case host_class[] = {
		{"v4 host class 3, within the burst",
		 TCP4("198.18.0.200", GUARDED_PORT), 2, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v4 host class 3, past the burst",
		 TCP4("198.18.0.200", GUARDED_PORT), 1, XDP_DROP,
		 SLUICE_R_DROP_RATE},
		{"v4 neighbour, the /24's class 0",
		 TCP4("198.18.0.201", GUARDED_PORT), 20, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 host class 3, within the burst",
		 TCP6("fd00:5c::200", GUARDED_PORT), 2, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 host class 3, past the burst",
		 TCP6("fd00:5c::200", GUARDED_PORT), 1, XDP_DROP,
		 SLUICE_R_DROP_RATE},
		{"v6 neighbour, the /64's class 0",
		 TCP6("fd00:5c::201", GUARDED_PORT), 20, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
	};
	/* the host entries removed: the prefixes' class 0 (unlimited) */
	static const struct burst_case prefix_class[] = {
		{"v4 host gone, the /24's class 0",
		 TCP4("198.18.0.200", GUARDED_PORT), 20, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"v6 host gone, the /64's class 0",
		 TCP6("fd00:5c::200", GUARDED_PORT), 20, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
	};
	/* flags off: the host hashes are not looked up, their entries
	 * ignored */
	static const struct verdict_case flags_off[] = {
		{"v4 host hash skipped", TCP4("198.18.0.5", GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v6 host hash skipped", TCP6("fd00:5c::5", GUARDED_PORT),
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v4 prefix still denies", TCP4("198.18.0.17", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_DENY},
		{"v6 prefix still denies", TCP6("fd00:5c::1:17", GUARDED_PORT),
		 XDP_DROP, SLUICE_R_DROP_DENY},
	};
	struct sluice_rule r = {0}, c3 = {.class_id = 3};

	SKIP_IF_NO_BPF();
	/* empty host hashes, flags off: the same verdicts as before the
	 * host hashes existed */
	put_lpm4(skel->maps.SLUICE_MAP_DENY4, "198.18.0.16", 28, &r);
	put_lpm6(skel->maps.SLUICE_MAP_DENY6, "fd00:5c::1:0", 120, &r);
	EXPECT_CASES(undeny);
	put_lpm4(skel->maps.SLUICE_MAP_HDENY4, "198.18.0.5", 32, &r);
	put_lpm6(skel->maps.SLUICE_MAP_HDENY6, "fd00:5c::5", 128, &r);
	EXPECT_CASES(flags_off);
	put_settings(SLUICE_SET_ALLOWLIST | SLUICE_SET_HOSTS_ALL);
	put_lpm4(skel->maps.SLUICE_MAP_HDENY4, "198.18.0.5", 32, &r);
	put_lpm4(skel->maps.SLUICE_MAP_DENY4, "198.18.0.16", 28, &r);
	put_lpm4(skel->maps.SLUICE_MAP_HDENY4, "198.18.0.20", 32, &r);
	put_lpm6(skel->maps.SLUICE_MAP_HDENY6, "fd00:5c::5", 128, &r);
	put_lpm6(skel->maps.SLUICE_MAP_DENY6, "fd00:5c::1:0", 120, &r);
	put_lpm6(skel->maps.SLUICE_MAP_HDENY6, "fd00:5c::1:20", 128, &r);
	EXPECT_CASES(deny);
	del4(skel->maps.SLUICE_MAP_HDENY4, "198.18.0.20", 32);
	del6(skel->maps.SLUICE_MAP_HDENY6, "fd00:5c::1:20", 128);
	del4(skel->maps.SLUICE_MAP_HDENY4, "198.18.0.5", 32);
	del6(skel->maps.SLUICE_MAP_HDENY6, "fd00:5c::5", 128);
	EXPECT_CASES(undeny);

	put_lpm4(skel->maps.SLUICE_MAP_HALLOW4, V4_DENIED, 32, &r);
	put_lpm6(skel->maps.SLUICE_MAP_HALLOW6, V6_DENIED, 128, &r);
	EXPECT_CASES(allow);

	put_class(0, 0, 0, 0, 0); /* default: unlimited */
	put_class(3, 1, 2, 0, 0);
	put_lpm4(skel->maps.SLUICE_MAP_HALLOW4, "198.18.0.200", 32, &c3);
	put_lpm6(skel->maps.SLUICE_MAP_HALLOW6, "fd00:5c::200", 128, &c3);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE |
				  SLUICE_SET_HOSTS_ALL,
			  128, 0);
	EXPECT_BURSTS(host_class);
	del4(skel->maps.SLUICE_MAP_HALLOW4, "198.18.0.200", 32);
	del6(skel->maps.SLUICE_MAP_HALLOW6, "fd00:5c::200", 128);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE |
				  SLUICE_SET_HOSTS_ALL,
			  128, 0);
	EXPECT_BURSTS(prefix_class);
}

static void test_rate_v6_prefix(void **state)
{
	/* rotating addresses inside one /64 shares one bucket */
	static const struct burst_case same64[] = {
		{"fd00:5c::1", TCP6("fd00:5c::1", GUARDED_PORT), 1, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"fd00:5c::2", TCP6("fd00:5c::2", GUARDED_PORT), 1, XDP_PASS,
		 SLUICE_R_PASS_ALLOWED},
		{"fd00:5c::ffff:1", TCP6("fd00:5c::ffff:1", GUARDED_PORT), 1,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"fd00:5c::9, past the /64's burst",
		 TCP6("fd00:5c::9", GUARDED_PORT), 1, XDP_DROP,
		 SLUICE_R_DROP_RATE},
	};
	static const struct burst_case other64[] = {
		{"another /64", TCP6("fd00:5c:0:1::1", GUARDED_PORT), 1,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};
	/* /128: every address on its own */
	static const struct burst_case per128[] = {
		{"/128, within the burst", TCP6("fd00:5c::abcd", GUARDED_PORT),
		 3, XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"/128, past the burst", TCP6("fd00:5c::abcd", GUARDED_PORT), 1,
		 XDP_DROP, SLUICE_R_DROP_RATE},
		{"/128, the next address", TCP6("fd00:5c::abce", GUARDED_PORT),
		 1, XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};
	/* /48: two /64s of one /48 share */
	static const struct burst_case per48[] = {
		{"/48, first /64", TCP6("fd00:77:1:1::77", GUARDED_PORT), 1,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"/48, second /64", TCP6("fd00:77:1:2::77", GUARDED_PORT), 2,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"/48, past the burst", TCP6("fd00:77:1:2::77", GUARDED_PORT),
		 1, XDP_DROP, SLUICE_R_DROP_RATE},
		{"/48, another /48", TCP6("fd00:77:2:2::77", GUARDED_PORT), 1,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
	};

	SKIP_IF_NO_BPF();
	put_class(0, 1, 3, 0, 0);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	EXPECT_BURSTS(same64);
	put_allow6("fd00:5c:0:1::", 64, 0);
	EXPECT_BURSTS(other64);
	{
		struct sluice_src6_key k = {0};
		struct sluice_src v;

		assert_int_equal(inet_pton(AF_INET6, "fd00:5c::", k.addr), 1);
		assert_int_equal(bpf_map_lookup_elem(
					 fd_of(skel->maps.SLUICE_MAP_SRC6), &k, &v),
				 0);
		assert_true(v.pkt_tat > 0);
	}
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 128, 0);
	EXPECT_BURSTS(per128);
	put_allow6("fd00:77::", 32, 0);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 48, 0);
	EXPECT_BURSTS(per48);
}

/* The per-source verdict cache is keyed on the rules generation. */
static void test_verdict_cache_generation(void **state)
{
	struct sluice_rule r = {0};
	struct sluice_ban b = {0};
	struct frame_spec s;
	struct sluice_lpm4_key k;

	SKIP_IF_NO_BPF();
	put_class(0, 1000000, 1000000, 0, 0); /* limits on, never reached */
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	s = tcp4(V4_ALLOWED, GUARDED_PORT);
	expect(&s, XDP_PASS, SLUICE_R_PASS_ALLOWED);
	/* a deny added without a new generation is not seen: the cached
	 * verdict holds (this is why every writer bumps gen) */
	put_lpm4(skel->maps.SLUICE_MAP_DENY4, V4_ALLOWED, 32, &r);
	expect(&s, XDP_PASS, SLUICE_R_PASS_ALLOWED);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	expect(&s, XDP_DROP, SLUICE_R_DROP_DENY);
	/* and back */
	k = key4(V4_ALLOWED, 32);
	assert_int_equal(
		bpf_map_delete_elem(fd_of(skel->maps.SLUICE_MAP_DENY4), &k), 0);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	expect(&s, XDP_PASS, SLUICE_R_PASS_ALLOWED);
	/* a ban with a new generation */
	put_lpm4(skel->maps.SLUICE_MAP_BAN4, V4_ALLOWED, 32, &b);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	expect(&s, XDP_DROP, SLUICE_R_DROP_BANNED);
	/* allowlist entry removed: cut off */
	k = key4(V4_ALLOWED, 32);
	assert_int_equal(bpf_map_delete_elem(fd_of(skel->maps.SLUICE_MAP_BAN4), &k),
			 0);
	k = key4("198.18.0.0", 24);
	assert_int_equal(
		bpf_map_delete_elem(fd_of(skel->maps.SLUICE_MAP_ALLOW4), &k), 0);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	expect(&s, XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED);
	/* a dropped source gets no state entry */
	{
		struct sluice_src4_key sk;
		struct sluice_src v;

		inet_pton(AF_INET, "198.19.77.1", sk.addr);
		s = tcp4("198.19.77.1", GUARDED_PORT);
		expect(&s, XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED);
		assert_true(bpf_map_lookup_elem(fd_of(skel->maps.SLUICE_MAP_SRC4),
						&sk, &v) < 0);
		assert_int_equal(errno, ENOENT);
	}
}

/*
 * Later fragments spend the client's packet bucket (rate 1/s, burst 3), and
 * the bucket is the one its whole packets use; a split SYN whose first
 * fragment holds the header spends the SYN bucket (1/s, burst 2).
 * (Before: later fragments passed as pass_unguarded without a token.)
 */
static void test_fragments_packet_bucket(void **state)
{
	static const struct burst_case cases[] = {
		{"v4 later fragments, within the burst",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .ip4_frag = MF4 | 10), 3,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v4 later fragment, past the burst",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .ip4_frag = MF4 | 10), 1,
		 XDP_DROP, SLUICE_R_DROP_RATE},
		/* the last fragment too */
		{"v4 last fragment", TCP4(V4_ALLOWED, GUARDED_PORT,
					  .ip4_frag = 20),
		 1, XDP_DROP, SLUICE_R_DROP_RATE},
		/* and a whole packet of that client */
		{"v4 whole packet of that client",
		 TCP4(V4_ALLOWED, GUARDED_PORT, .tcp_flags = ACK), 1, XDP_DROP,
		 SLUICE_R_DROP_RATE},
		/* another client has its own bucket */
		{"v4 later fragment of another client",
		 TCP4("198.18.0.6", GUARDED_PORT, .ip4_frag = MF4 | 10), 1,
		 XDP_PASS, SLUICE_R_PASS_ALLOWED},
		/* IPv6: per /64, as whole packets */
		{"v6 later fragments, within the burst",
		 TCP6("fd00:5c::77", GUARDED_PORT, .ext = frag_only, .n_ext = 1,
		      .frag6 = (8 << 3) | 1),
		 3, XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"v6 later fragment, past the burst",
		 TCP6("fd00:5c::77", GUARDED_PORT, .ext = frag_only, .n_ext = 1,
		      .frag6 = (8 << 3) | 1),
		 1, XDP_DROP, SLUICE_R_DROP_RATE},
		{"v6 whole packet of the same /64",
		 TCP6("fd00:5c::78", GUARDED_PORT, .tcp_flags = ACK), 1,
		 XDP_DROP, SLUICE_R_DROP_RATE},
		/* SYN in a first fragment of 24 bytes: seen, SYN bucket
		 * applies */
		{"SYN in a 24-byte first fragment",
		 TCP4("198.18.0.7", GUARDED_PORT, .ip4_frag = MF4,
		      .l4_len = 24),
		 2, XDP_PASS, SLUICE_R_PASS_ALLOWED},
		{"SYN in a 24-byte first fragment, past the SYN burst",
		 TCP4("198.18.0.7", GUARDED_PORT, .ip4_frag = MF4,
		      .l4_len = 24),
		 1, XDP_DROP, SLUICE_R_DROP_SYN_RATE},
	};

	SKIP_IF_NO_BPF();
	put_class(0, 1, 3, 1, 2);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	EXPECT_BURSTS(cases);
}

/*
 * An IPv6 SYN behind 1..12 extension headers (hop-by-hop first, then
 * destination options and routing headers in turn), SYN bucket 1/s burst 1,
 * one bucket per address (/128): up to the walk limit (8) the SYN is seen
 * (the second one is drop_syn_rate); beyond it the packet is drop_ext_depth.
 * (Before: beyond the limit it was judged without its flags, so every SYN
 * passed as pass_allowed.)
 */
static void test_ipv6_ext_depth_syn(void **state)
{
	uint8_t chain[12];
	struct frame_spec s;
	char src[64], what[64];

	SKIP_IF_NO_BPF();
	put_class(0, 0, 0, 1, 1);
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 128, 0);
	chain[0] = IPPROTO_HOPOPTS;
	for (size_t i = 1; i < sizeof(chain); i++)
		chain[i] = i % 2 ? IPPROTO_DSTOPTS : IPPROTO_ROUTING;
	for (uint8_t n = 1; n <= sizeof(chain); n++) {
		snprintf(src, sizeof(src), "fd00:5c::e:%u", n);
		s = tcp6(src, GUARDED_PORT);
		s.ext = chain;
		s.n_ext = n;
		snprintf(what, sizeof(what), "%u extension headers", n);
		if (n <= 8) {
			expect_row(what, &s, 1, XDP_PASS,
				   SLUICE_R_PASS_ALLOWED);
			expect_row(what, &s, 1, XDP_DROP,
				   SLUICE_R_DROP_SYN_RATE);
		} else {
			expect_row(what, &s, 2, XDP_DROP,
				   SLUICE_R_DROP_EXT_DEPTH);
		}
	}
	/* beyond the limit, behind a fragment header too */
	chain[3] = IPPROTO_FRAGMENT;
	s = tcp6("fd00:5c::f:1", GUARDED_PORT);
	s.ext = chain;
	s.n_ext = 10;
	s.frag6 = 1;
	expect_row("10 headers, a fragment header among them", &s, 1,
		   XDP_DROP, SLUICE_R_DROP_EXT_DEPTH);
}

/* Buckets shared across CPUs: two threads on two CPUs drain one bucket
 * through BPF_PROG_TEST_RUN; tokens are never spent twice. */
struct drain {
	struct frame f;
	int cpu, err;
	__u32 repeat;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	cpu_set_t set;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = d->f.b,
		    .data_size_in = (__u32)d->f.len, .repeat = d->repeat);

	CPU_ZERO(&set);
	CPU_SET(d->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	d->err = bpf_prog_test_run_opts(
		bpf_program__fd(skel->progs.sluice_xdp), &o);
	return NULL;
}

static void test_rate_shared_across_cpus(void **state)
{
	struct sluice_counter before[SLUICE_R_MAX], after[SLUICE_R_MAX];
	struct drain d[2];
	pthread_t th[2];
	struct frame_spec s;
	uint64_t t0, t1, pass, drop, extra;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	SKIP_IF_NO_BPF();
	if (ncpu < 2) {
		print_message("skipped: needs 2 CPUs\n");
		skip();
	}
	put_class(0, 1, 2000, 0, 0); /* 2000 tokens, refill 1/s */
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_RATE, 64, 0);
	s = tcp4(V4_ALLOWED, GUARDED_PORT);
	s.tcp_flags = 0x10;
	for (int i = 0; i < 2; i++) {
		assert_true(frame_build(&s, &d[i].f) > 0);
		d[i].cpu = i;
		d[i].repeat = 20000;
	}
	read_stats(before);
	t0 = mono_ns();
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, drain_thread, &d[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	t1 = mono_ns();
	read_stats(after);
	assert_int_equal(d[0].err, 0);
	assert_int_equal(d[1].err, 0);
	pass = after[SLUICE_R_PASS_ALLOWED].packets -
	       before[SLUICE_R_PASS_ALLOWED].packets;
	drop = after[SLUICE_R_DROP_RATE].packets -
	       before[SLUICE_R_DROP_RATE].packets;
	/* a token refills each second; a CAS lost GCRA_TRIES times drops */
	extra = (t1 - t0) / 1000000000ull + 1;
	print_message("  %llu admitted, %llu dropped in %.3f s\n",
		      (unsigned long long)pass, (unsigned long long)drop,
		      (double)(t1 - t0) / 1e9);
	assert_int_equal(pass + drop, 40000);
	assert_true(pass <= 2000 + extra);
	assert_true(pass >= 2000 - 40); /* only lost CAS races may drop */
}

/* Sampled drops reach the ring buffer with source, reason and length. */
struct ev_seen {
	struct sluice_event ev[16];
	int n;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct ev_seen *e = ctx;

	if (size >= sizeof(struct sluice_event) && e->n < 16)
		memcpy(&e->ev[e->n++], data, sizeof(struct sluice_event));
	return 0;
}

static void test_drop_events(void **state)
{
	struct ring_buffer *rb;
	struct ev_seen seen = {0};
	struct sluice_rule r = {0};
	struct frame_spec s;
	struct frame f;
	uint8_t want[4];

	SKIP_IF_NO_BPF();
	rb = ring_buffer__new(fd_of(skel->maps.SLUICE_MAP_EVENTS), on_event, &seen,
			      NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb); /* earlier tests' events */
	seen.n = 0;
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_EVENTS, 64, 0);
	s = tcp4(V4_DENIED, GUARDED_PORT);
	s.payload = 33;
	assert_true(frame_build(&s, &f) > 0);
	expect(&s, XDP_DROP, SLUICE_R_DROP_NOT_ALLOWED);
	s = tcp4(V4_ALLOWED, GUARDED_PORT); /* passes: no event */
	expect(&s, XDP_PASS, SLUICE_R_PASS_ALLOWED);
	put_lpm6(skel->maps.SLUICE_MAP_DENY6, "fd00:5d::", 64, &r);
	s = tcp6(V6_DENIED, GUARDED_PORT);
	expect(&s, XDP_DROP, SLUICE_R_DROP_DENY);
	assert_int_equal(ring_buffer__consume(rb), 2);
	assert_int_equal(seen.n, 2);
	inet_pton(AF_INET, V4_DENIED, want);
	assert_int_equal(seen.ev[0].family, 4);
	assert_memory_equal(seen.ev[0].addr, want, 4);
	assert_int_equal(seen.ev[0].reason, SLUICE_R_DROP_NOT_ALLOWED);
	assert_int_equal(seen.ev[0].dport, GUARDED_PORT);
	assert_int_equal(seen.ev[0].len, f.len);
	assert_int_equal(seen.ev[1].family, 6);
	assert_int_equal(seen.ev[1].reason, SLUICE_R_DROP_DENY);

	/* sampling 1 in 2^4: far fewer than 64 of 64 drops are reported */
	put_settings_full(SLUICE_SET_ALLOWLIST | SLUICE_SET_EVENTS, 64, 4);
	s = tcp4(V4_DENIED, GUARDED_PORT);
	assert_true(frame_build(&s, &f) > 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(run_frame(f.b, f.len), XDP_DROP);
	{
		int n = ring_buffer__consume(rb);

		print_message("  %d of 64 drops sampled at 1/16\n", n);
		/* every 16th drop per CPU (systematic sampling off the
		 * per-CPU counter): 4 on one CPU, 2..6 if the runs moved */
		assert_true(n >= 2 && n <= 6);
	}
	/* events off: nothing */
	put_settings(SLUICE_SET_ALLOWLIST);
	for (int i = 0; i < 8; i++)
		assert_int_equal(run_frame(f.b, f.len), XDP_DROP);
	assert_int_equal(ring_buffer__consume(rb), 0);
	ring_buffer__free(rb);
}

/* ---- sync tests -------------------------------------------------------- */

struct test_cfg {
	struct config cfg;
	uint16_t ports[SLUICE_MAX_PORTS + 8];
	struct allowlist_entry entries[64];
	struct allowlist_entry deny[16];
};

static void cfg_init(struct test_cfg *t, bool allowlist)
{
	memset(t, 0, sizeof(*t));
	t->cfg.xdp.enabled = true;
	t->cfg.xdp.allowlist_enabled = allowlist;
	t->cfg.xdp.ports = t->ports;
	t->cfg.xdp.allow.entries = t->entries;
	t->cfg.xdp.allow.cap = sizeof(t->entries) / sizeof(t->entries[0]);
	t->cfg.xdp.deny.entries = t->deny;
	t->cfg.xdp.deny.cap = sizeof(t->deny) / sizeof(t->deny[0]);
}

static void entry_set(struct allowlist_entry *e, const char *addr,
		      uint8_t plen)
{
	memset(e, 0, sizeof(*e));
	if (strchr(addr, ':')) {
		e->family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, e->addr), 1);
	} else {
		e->family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, e->addr), 1);
	}
	e->prefixlen = plen;
}

static void cfg_deny(struct test_cfg *t, const char *addr, uint8_t plen)
{
	entry_set(&t->deny[t->cfg.xdp.deny.n++], addr, plen);
}

/* An allow entry with rate options. */
static void cfg_allow_rate(struct test_cfg *t, const char *addr, uint8_t plen,
			   uint32_t rate, uint32_t burst, uint32_t syn)
{
	struct allowlist_entry *e = &t->entries[t->cfg.xdp.allow.n++];

	entry_set(e, addr, plen);
	e->rate = rate;
	e->burst = burst;
	e->syn = syn;
}

static void cfg_port(struct test_cfg *t, uint16_t port)
{
	t->ports[t->cfg.xdp.n_ports++] = port;
}

static void cfg_allow(struct test_cfg *t, const char *addr, uint8_t plen)
{
	entry_set(&t->entries[t->cfg.xdp.allow.n++], addr, plen);
}

/* A fresh config for a sync test (free() it). */
static struct test_cfg *new_cfg(bool allowlist)
{
	struct test_cfg *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	cfg_init(t, allowlist);
	return t;
}

static struct xdpctl_map_fds skel_fds(void)
{
	return (struct xdpctl_map_fds){
		.ports_fd = fd_of(skel->maps.SLUICE_MAP_PORTS),
		.allow4_fd = fd_of(skel->maps.SLUICE_MAP_ALLOW4),
		.allow6_fd = fd_of(skel->maps.SLUICE_MAP_ALLOW6),
		.settings_fd = fd_of(skel->maps.SLUICE_MAP_SETTINGS),
		.deny4_fd = fd_of(skel->maps.SLUICE_MAP_DENY4),
		.deny6_fd = fd_of(skel->maps.SLUICE_MAP_DENY6),
		.classes_fd = fd_of(skel->maps.SLUICE_MAP_CLASSES),
		.hallow4_fd = fd_of(skel->maps.SLUICE_MAP_HALLOW4),
		.hallow6_fd = fd_of(skel->maps.SLUICE_MAP_HALLOW6),
		.hdeny4_fd = fd_of(skel->maps.SLUICE_MAP_HDENY4),
		.hdeny6_fd = fd_of(skel->maps.SLUICE_MAP_HDENY6),
	};
}

static int sync_setup(void **state)
{
	if (!skel)
		return 0;
	reset_maps();
	put_settings(0);
	return 0;
}

static bool has4(const char *addr, __u32 plen, __u32 *class_id)
{
	struct sluice_lpm4_key k = key4(addr, plen);
	struct sluice_rule r;

	if (plen == 32) { /* a host entry: in the hash, exact */
		if (bpf_map_lookup_elem(fd_of(skel->maps.SLUICE_MAP_HALLOW4),
					&k, &r) < 0)
			return false;
		if (class_id)
			*class_id = r.class_id;
		return true;
	}
	/* LPM lookup returns the longest match; require the exact key */
	if (bpf_map_lookup_elem(fd_of(skel->maps.SLUICE_MAP_ALLOW4), &k, &r) < 0)
		return false;
	{
		unsigned char next[sizeof(k)];
		const void *prev = NULL;
		struct sluice_lpm4_key cur;

		while (bpf_map_get_next_key(fd_of(skel->maps.SLUICE_MAP_ALLOW4),
					    prev, next) == 0) {
			memcpy(&cur, next, sizeof(cur));
			if (memcmp(&cur, &k, sizeof(k)) == 0) {
				if (class_id)
					*class_id = r.class_id;
				return true;
			}
			prev = &cur;
		}
	}
	return false;
}

static bool has_port(uint16_t port)
{
	__u32 k = port;
	struct sluice_port_val v;

	if (bpf_map_lookup_elem(fd_of(skel->maps.SLUICE_MAP_PORTS), &k, &v) < 0)
		return false;
	return v.flags == SLUICE_PORT_GUARDED;
}

static void test_sync_diff(void **state)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	struct sluice_settings set;
	struct test_cfg *t;
	__u32 zero = 0, cls = 99;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	/* live state: what an older config left */
	put_port(GUARDED_PORT, SLUICE_PORT_GUARDED); /* kept */
	put_port(9999, SLUICE_PORT_GUARDED);	     /* stale */
	put_allow4("198.18.0.0", 24, 0);	     /* kept */
	put_allow4("198.18.5.0", 24, 0);	     /* stale */
	put_allow4("198.18.9.0", 24, 7);	     /* kept, value fixed */
	put_allow6("fd00:5c:1::", 48, 0);	     /* stale */

	t = new_cfg(true);
	cfg_port(t, GUARDED_PORT);
	cfg_port(t, 8443);
	cfg_port(t, 8443); /* duplicate */
	cfg_allow(t, "198.18.0.0", 24);
	cfg_allow(t, "198.18.7.7", 32);
	cfg_allow(t, "198.18.9.0", 24);
	cfg_allow(t, "fd00:5c::", 64);

	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);

	assert_int_equal(st.ports.added, 1);
	assert_int_equal(st.ports.kept, 1);
	assert_int_equal(st.ports.deleted, 1);
	assert_int_equal(st.ports.updated, 0);
	assert_int_equal(st.allow4.added, 1);
	assert_int_equal(st.allow4.kept, 1);
	assert_int_equal(st.allow4.updated, 1);
	assert_int_equal(st.allow4.deleted, 1); /* only the stale one */
	assert_int_equal(st.allow6.added, 1);
	assert_int_equal(st.allow6.deleted, 1);

	assert_int_equal(count_map(fds.ports_fd), 2);
	assert_true(has_port(GUARDED_PORT));
	assert_true(has_port(8443));
	assert_false(has_port(9999));
	assert_int_equal(count_list(fds.allow4_fd, fds.hallow4_fd), 3);
	/* the /32 went to the host hash, the /24s to the trie */
	assert_int_equal(count_map(fds.hallow4_fd), 1);
	assert_int_equal(count_map(fds.allow4_fd), 2);
	assert_true(has4("198.18.0.0", 24, NULL));
	assert_true(has4("198.18.7.7", 32, NULL));
	assert_true(has4("198.18.9.0", 24, &cls));
	assert_int_equal(cls, 0);
	assert_false(has4("198.18.5.0", 24, NULL));
	assert_int_equal(count_list(fds.allow6_fd, fds.hallow6_fd), 1);

	/* the v4 host hash got an entry: its flag is set, the other host
	 * hashes stay empty and skipped */
	assert_int_equal(bpf_map_lookup_elem(fds.settings_fd, &zero, &set), 0);
	assert_int_equal(set.flags,
			 SLUICE_SET_ALLOWLIST | SLUICE_SET_HOSTS_ALLOW4);
	assert_int_equal(set.abi_version, SLUICE_ABI_VERSION);

	/* a second sync with the same config changes nothing */
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.ports.added + st.ports.deleted + st.ports.updated,
			 0);
	assert_int_equal(
		st.allow4.added + st.allow4.deleted + st.allow4.updated, 0);
	assert_int_equal(st.allow4.kept, 3);
	assert_int_equal(st.allow6.kept, 1);

	/* disabling the allowlist clears the flag, keeps the entries */
	t->cfg.xdp.allowlist_enabled = false;
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), 0);
	assert_int_equal(bpf_map_lookup_elem(fds.settings_fd, &zero, &set), 0);
	assert_int_equal(set.flags, SLUICE_SET_HOSTS_ALLOW4);
	assert_int_equal(count_list(fds.allow4_fd, fds.hallow4_fd), 3);

	/* an empty config empties the maps */
	cfg_init(t, false);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.allow4.deleted, 3);
	assert_int_equal(count_map(fds.ports_fd), 0);
	assert_int_equal(count_list(fds.allow4_fd, fds.hallow4_fd), 0);
	assert_int_equal(count_list(fds.allow6_fd, fds.hallow6_fd), 0);
	/* the host hash emptied: its flag cleared after the deletes */
	assert_int_equal(bpf_map_lookup_elem(fds.settings_fd, &zero, &set), 0);
	assert_int_equal(set.flags, 0);
	free(t);
}

static void test_sync_masks_host_bits(void **state)
{
	struct xdpctl_map_fds fds;
	struct test_cfg *t;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	t = new_cfg(true);
	cfg_allow(t, "198.18.3.77", 24);
	cfg_allow(t, "fd00:5c::ffff", 64);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), 0);
	assert_true(has4("198.18.3.0", 24, NULL));
	assert_int_equal(count_list(fds.allow4_fd, fds.hallow4_fd), 1);
	{
		struct sluice_lpm6_key k = key6("fd00:5c::", 64), got;

		assert_int_equal(
			bpf_map_get_next_key(fds.allow6_fd, NULL, &got), 0);
		assert_memory_equal(&got, &k, sizeof(k));
	}
	free(t);
}

/*
 * Pins from before the host hashes (a takeover of an older daemon's maps)
 * hold /32s and /128s in the tries: a sync moves them to the hashes, the
 * trie copies deleted only after the hash copies are in.
 */
static void test_sync_moves_hosts_out_of_tries(void **state)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	struct test_cfg *t;
	__u32 cls = 99;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	put_allow4("198.18.7.7", 32, 0);
	put_allow6("fd00:5c::7", 128, 0);
	t = new_cfg(true);
	cfg_allow(t, "198.18.7.7", 32);
	cfg_allow(t, "fd00:5c::7", 128);
	cfg_allow(t, "198.18.0.0", 24);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.allow4.added, 2);
	assert_int_equal(st.allow4.deleted, 1);
	assert_int_equal(st.allow6.added, 1);
	assert_int_equal(st.allow6.deleted, 1);
	assert_int_equal(count_map(fds.allow4_fd), 1);
	assert_int_equal(count_map(fds.hallow4_fd), 1);
	assert_int_equal(count_map(fds.allow6_fd), 0);
	assert_int_equal(count_map(fds.hallow6_fd), 1);
	assert_true(has4("198.18.7.7", 32, &cls));
	assert_int_equal(cls, 0);
	assert_true(has4("198.18.0.0", 24, NULL));
	free(t);
}

static void test_sync_full_map(void **state)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	struct test_cfg *t;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	t = new_cfg(true);
	for (unsigned int i = 0; i < SLUICE_MAX_PORTS; i++)
		cfg_port(t, (uint16_t)(20000 + i));
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.ports.added, SLUICE_MAX_PORTS);

	/* one more than fits: refused before any map is touched */
	cfg_port(t, 30000);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), -ENOSPC);
	assert_int_equal(count_map(fds.ports_fd), SLUICE_MAX_PORTS);
	assert_true(has_port(20000));
	assert_false(has_port(30000));

	/* a full map swapped for another full set: stale entries make room */
	cfg_init(t, true);
	for (unsigned int i = 0; i < SLUICE_MAX_PORTS; i++)
		cfg_port(t, (uint16_t)(i < 10 ? 20000 + i : 40000 + i));
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.ports.kept, 10);
	assert_int_equal(st.ports.deleted, SLUICE_MAX_PORTS - 10);
	assert_int_equal(st.ports.added, SLUICE_MAX_PORTS - 10);
	assert_int_equal(count_map(fds.ports_fd), SLUICE_MAX_PORTS);
	assert_true(has_port(20009));
	assert_true(has_port(40010));
	assert_false(has_port(20010));
	free(t);
}

static struct sluice_class get_class(__u32 id)
{
	struct sluice_class c;

	assert_int_equal(bpf_map_lookup_elem(fd_of(skel->maps.SLUICE_MAP_CLASSES),
					     &id, &c),
			 0);
	return c;
}

static struct sluice_settings get_settings(void)
{
	struct sluice_settings s;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(fd_of(skel->maps.SLUICE_MAP_SETTINGS),
					     &zero, &s),
			 0);
	return s;
}

static void test_sync_deny_and_settings(void **state)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	struct sluice_settings set;
	struct test_cfg *t;
	uint64_t gen0;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	t = new_cfg(true);
	cfg_deny(t, "198.18.0.0", 28);
	cfg_deny(t, "fd00:5c::", 120);
	t->cfg.xdp.scope = CFG_XDP_SCOPE_ALL;
	t->cfg.xdp.drop_sample = 16;
	t->cfg.xdp.rate_v6_prefix = 56;
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.deny4.added, 1);
	assert_int_equal(st.deny6.added, 1);
	assert_int_equal(count_list(fds.deny4_fd, fds.hdeny4_fd), 1);
	set = get_settings();
	assert_int_equal(set.flags, SLUICE_SET_ALLOWLIST |
					    SLUICE_SET_SCOPE_ALL |
					    SLUICE_SET_EVENTS);
	assert_int_equal(set.sample_shift, 4);
	assert_int_equal(set.v6_prefix, 56);
	assert_true(set.gen != 0);
	assert_int_equal(set.gen, st.gen);
	gen0 = set.gen;

	/* stale deny entries go; every sync writes a new generation */
	cfg_init(t, true);
	cfg_deny(t, "198.18.0.0", 29);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.deny4.added, 1);
	assert_int_equal(st.deny4.deleted, 1);
	assert_int_equal(st.deny6.deleted, 1);
	set = get_settings();
	assert_true(set.gen > gen0);
	assert_int_equal(set.flags, SLUICE_SET_ALLOWLIST);
	assert_int_equal(set.v6_prefix, SLUICE_DEF_V6_PREFIX);

	/* narrowing an allow entry: the /24 is added, not mistaken for the
	 * /16 that covers it (a trie lookup is a longest-prefix match) */
	cfg_init(t, true);
	cfg_allow(t, "198.18.0.0", 16);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), 0);
	cfg_init(t, true);
	cfg_allow(t, "198.18.0.0", 24);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.allow4.added, 1);
	assert_int_equal(st.allow4.deleted, 1);
	assert_true(has4("198.18.0.0", 24, NULL));
	assert_false(has4("198.18.0.0", 16, NULL));
	free(t);
}

static void test_sync_classes(void **state)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	struct sluice_class c;
	struct test_cfg *t;
	__u32 a = 99, b = 99, d = 99, e = 99;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	t = new_cfg(true);
	t->cfg.xdp.rate.rate = 1000;
	t->cfg.xdp.rate.syn = 50;
	t->cfg.xdp.rate.syn_burst = 100;
	cfg_allow(t, "198.18.0.0", 24);				/* default */
	cfg_allow_rate(t, "198.51.100.0", 24, 500, 1000, 20);	/* class X */
	cfg_allow_rate(t, "198.51.101.0", 24, 500, 1000, 20);	/* X again */
	cfg_allow_rate(t, "203.0.113.0", 24, 0, 0, 5);		/* syn only */
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.classes.added, 3); /* default + 2 */

	c = get_class(0);
	assert_int_equal(c.pkt_rate, 1000);
	assert_int_equal(c.pkt_burst, 1000);
	assert_int_equal(c.pkt_interval_ns, 1000000);
	assert_int_equal(c.pkt_tolerance_ns, 999ull * 1000000);
	assert_int_equal(c.syn_interval_ns, 20000000);
	assert_int_equal(c.syn_burst, 100);
	assert_true(has4("198.18.0.0", 24, &a));
	assert_int_equal(a, 0);
	assert_true(has4("198.51.100.0", 24, &a));
	assert_true(has4("198.51.101.0", 24, &b));
	assert_true(has4("203.0.113.0", 24, &d));
	assert_true(a != 0 && a == b && d != 0 && d != a);
	c = get_class(a);
	assert_int_equal(c.pkt_rate, 500);
	assert_int_equal(c.pkt_burst, 1000);
	assert_int_equal(c.syn_rate, 20);
	assert_int_equal(c.syn_burst, 20); /* its own syn: burst of its N */
	c = get_class(d);
	assert_int_equal(c.pkt_rate, 1000); /* inherited */
	assert_int_equal(c.syn_rate, 5);
	assert_true(get_settings().flags & SLUICE_SET_RATE);

	/* the same config again: ids stable, nothing rewritten */
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_int_equal(st.classes.added + st.classes.updated +
				 st.classes.deleted,
			 0);
	assert_int_equal(st.allow4.kept, 4);

	/* change X's limits: a new slot; the old one is cleared after */
	t->entries[1].rate = 400;
	t->entries[2].rate = 400;
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_true(has4("198.51.100.0", 24, &e));
	assert_true(e != a && e != d && e != 0);
	assert_int_equal(get_class(e).pkt_rate, 400);
	assert_int_equal(get_class(a).pkt_interval_ns, 0);
	assert_int_equal(st.classes.added, 1);
	assert_int_equal(st.classes.deleted, 1);

	/* no limits at all: the RATE flag goes */
	cfg_init(t, true);
	cfg_allow(t, "198.18.0.0", 24);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, &st), 0);
	assert_false(get_settings().flags & SLUICE_SET_RATE);
	assert_int_equal(get_class(e).pkt_interval_ns, 0);
	assert_int_equal(get_class(d).syn_interval_ns, 0);
	free(t);
}

/* Bans are runtime state: a sync never touches them. */
static void test_sync_keeps_bans(void **state)
{
	struct xdpctl_map_fds fds;
	struct sluice_ban b = {.source = SLUICE_BAN_OPERATOR};
	struct test_cfg *t;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	put_lpm4(skel->maps.SLUICE_MAP_BAN4, "198.18.0.9", 32, &b);
	put_lpm6(skel->maps.SLUICE_MAP_BAN6, "fd00:5c::9", 128, &b);
	t = new_cfg(true);
	cfg_allow(t, "198.18.0.0", 24);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), 0);
	cfg_init(t, false);
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), 0);
	assert_int_equal(count_map(fd_of(skel->maps.SLUICE_MAP_BAN4)), 1);
	assert_int_equal(count_map(fd_of(skel->maps.SLUICE_MAP_BAN6)), 1);
	free(t);
}

/* The reference order of the sort test: the key bytes, then the input
 * position (kept in the record's value), which is what a stable sort by
 * key gives. */
static size_t sort_key_size;

static int sort_ref_cmp(const void *a, const void *b)
{
	int c = memcmp(a, b, sort_key_size);
	uint32_t x, y;

	if (c)
		return c;
	memcpy(&x, (const unsigned char *)a + sort_key_size, sizeof(x));
	memcpy(&y, (const unsigned char *)b + sort_key_size, sizeof(y));
	return (x > y) - (x < y);
}

/* n records with keys of ks bytes of one kind (see below), sorted by
 * xdpctl__rec_sort() and by qsort: the same order. */
static void sort_case(size_t ks, size_t n, int kind, unsigned int *seed)
{
	size_t rs = ks + 8;
	unsigned char *a = malloc(n * rs + 1), *b = malloc(n * rs + 1);

	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		unsigned char *r = a + i * rs;
		uint32_t pos = (uint32_t)i;

		for (size_t j = 0; j < ks; j++) {
			int v = rand_r(seed);

			if (kind == 1 && j + 2 < ks)
				v = 0x5c;
			else if (kind == 2)
				v %= 3;
			else if (kind == 3)
				v = 9;
			r[j] = (unsigned char)v;
		}
		memcpy(r + ks, &pos, sizeof(pos));
		memset(r + ks + 4, 0xab, 4);
	}
	memcpy(b, a, n * rs);
	assert_int_equal(xdpctl__rec_sort(&a, n, rs, ks), 0);
	sort_key_size = ks;
	qsort(b, n, rs, sort_ref_cmp);
	if (n && memcmp(a, b, n * rs))
		fail_msg("key %zu bytes, %zu records, keys of kind %d: "
			 "not the stable order",
			 ks, n, kind);
	free(a);
	free(b);
}

/*
 * The records sort of the sync (xdpctl__rec_sort()) against qsort with the
 * input position as the tie-break: key sizes of the ports (4), IPv4 (8)
 * and IPv6 (20) maps; sizes around the insertion-sort and the run limits;
 * keys random (kind 0), sharing all but two bytes (1: the byte-by-byte
 * path), with three values a byte (2: many equal keys, deep runs), all
 * equal (3).
 */
static void test_rec_sort_stable(void **state)
{
	static const size_t key_sizes[] = {4, 8, 20};
	static const size_t ns[] = {0, 1, 2, 23, 24, 25, 300, 5000, 70000};
	unsigned int seed = 7;

	(void)state;
	for (size_t k = 0; k < sizeof(key_sizes) / sizeof(key_sizes[0]); k++)
		for (size_t m = 0; m < sizeof(ns) / sizeof(ns[0]); m++)
			for (int kind = 0; kind < 4; kind++)
				sort_case(key_sizes[k], ns[m], kind, &seed);
}

static void test_sync_bad_entry(void **state)
{
	struct xdpctl_map_fds fds;
	struct test_cfg *t;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	t = new_cfg(true);
	cfg_allow(t, "198.18.0.0", 24);
	t->entries[0].prefixlen = 33;
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), -EINVAL);
	t->entries[0].prefixlen = 24;
	t->entries[0].family = 99;
	assert_int_equal(xdpctl_sync_maps(&fds, &t->cfg, NULL), -EAFNOSUPPORT);
	/* nothing was written on a rejected config */
	assert_int_equal(count_list(fds.allow4_fd, fds.hallow4_fd), 0);
	free(t);
}

/*
 * A resync whose wanted and present sets overlap in part, with duplicate
 * entries, every part larger than one batch system call (4096 entries):
 * host entries 0..OV_N-1 without options, then OV_N/2..3*OV_N/2-1 where
 * every tenth has a rate (its value changes: rewritten) and 6000..6099
 * are listed a second time with another rate (the first in config order
 * wins). IPv4 and IPv6: the IPv4 keys differ in two bytes (sorted byte by
 * byte from the last), the IPv6 ones in six (most significant byte
 * first, then by insertion). Every count and every entry of the host hash
 * is checked.
 */
#define OV_N 10000
#define OV_DUP_FROM 6000
#define OV_DUPS 100

static void ov_entry(struct allowlist_entry *e, int family, uint32_t i,
		     uint32_t rate)
{
	memset(e, 0, sizeof(*e));
	e->rate = rate;
	if (family == 4) {
		e->family = AF_INET;
		e->prefixlen = 32;
		e->addr[0] = 10;
		e->addr[1] = (uint8_t)(i >> 16);
		e->addr[2] = (uint8_t)(i >> 8);
		e->addr[3] = (uint8_t)i;
		return;
	}
	e->family = AF_INET6;
	e->prefixlen = 128;
	e->addr[0] = 0xfd;
	e->addr[1] = 0x5c;
	e->addr[3] = (uint8_t)(i * 13);
	e->addr[5] = (uint8_t)(i * 7);
	e->addr[9] = (uint8_t)(i >> 3);
	e->addr[11] = (uint8_t)(i >> 5);
	e->addr[13] = (uint8_t)(i >> 16);
	e->addr[14] = (uint8_t)(i >> 8);
	e->addr[15] = (uint8_t)i;
}

/* The first list (second false) or the second one. */
static void ov_list(struct allowlist *l, int family, bool second)
{
	uint32_t from = second ? OV_N / 2 : 0;

	l->n = 0;
	for (uint32_t i = from; i < from + OV_N; i++)
		ov_entry(&l->entries[l->n++], family, i,
			 second && i % 10 == 0 ? 100 : 0);
	if (second)
		for (uint32_t i = OV_DUP_FROM; i < OV_DUP_FROM + OV_DUPS; i++)
			ov_entry(&l->entries[l->n++], family, i, 200);
}

/* The class of host entry i, or -1 when it is absent. */
static long ov_class(int hfd, int family, uint32_t i)
{
	struct allowlist_entry e;
	unsigned char key[sizeof(struct sluice_lpm6_key)] = {0};
	struct sluice_rule r;
	__u32 plen = family == 4 ? 32 : 128;

	ov_entry(&e, family, i, 0);
	memcpy(key, &plen, sizeof(plen));
	memcpy(key + sizeof(plen), e.addr, family == 4 ? 4 : 16);
	if (bpf_map_lookup_elem(hfd, key, &r) < 0)
		return -1;
	return r.class_id;
}

static void sync_overlap(int family)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	struct xdpctl_sync_count *cnt;
	struct config cfg;
	long c100 = -1;
	int hfd;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	hfd = family == 4 ? fds.hallow4_fd : fds.hallow6_fd;
	cnt = family == 4 ? &st.allow4 : &st.allow6;
	memset(&cfg, 0, sizeof(cfg));
	cfg.xdp.allowlist_enabled = true;
	cfg.xdp.allow.entries =
		calloc(OV_N + OV_DUPS, sizeof(struct allowlist_entry));
	assert_non_null(cfg.xdp.allow.entries);
	cfg.xdp.allow.cap = OV_N + OV_DUPS;

	ov_list(&cfg.xdp.allow, family, false);
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, &st), 0);
	assert_int_equal(cnt->added, OV_N);
	assert_int_equal(count_map(hfd), OV_N);

	ov_list(&cfg.xdp.allow, family, true);
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, &st), 0);
	assert_int_equal(cnt->added, OV_N / 2);
	assert_int_equal(cnt->updated, OV_N / 20);
	assert_int_equal(cnt->kept, OV_N / 2 - OV_N / 20);
	assert_int_equal(cnt->deleted, OV_N / 2);
	assert_int_equal(count_map(hfd), OV_N);
	for (uint32_t i = 0; i < OV_N / 2; i++)
		if (ov_class(hfd, family, i) != -1)
			fail_msg("IPv%d entry %u: stale, still present", family,
				 i);
	for (uint32_t i = OV_N / 2; i < OV_N / 2 + OV_N; i++) {
		long c = ov_class(hfd, family, i);

		if (i % 10 && c == 0)
			continue;
		if (i % 10 == 0 && c > 0 && (c100 < 0 || c == c100)) {
			c100 = c;
			continue;
		}
		fail_msg("IPv%d entry %u: class %ld (rate 100: class %ld)",
			 family, i, c, c100);
	}

	/* the same again: nothing to do */
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, &st), 0);
	assert_int_equal(cnt->kept, OV_N);
	assert_int_equal(cnt->added + cnt->updated + cnt->deleted, 0);

	cfg.xdp.allow.n = 0;
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, &st), 0);
	assert_int_equal(cnt->deleted, OV_N);
	assert_int_equal(count_map(hfd), 0);
	free(cfg.xdp.allow.entries);
}

static void test_sync_overlap_dups_batches(void **state)
{
	sync_overlap(4);
	sync_overlap(6);
}

/* A reload that swaps many entries, while a client allowed by both configs
 * (by different CIDRs) keeps sending: not one of its packets may drop. */
#define HAMMER_SRCS 3
struct hammer {
	const char *src[HAMMER_SRCS];	/* the probe sources, in turn */
	__u32 want;		/* the action each must get every time */
	volatile int stop;
	unsigned long runs, wrong, errors;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	struct frame f[HAMMER_SRCS];

	for (int i = 0; i < HAMMER_SRCS; i++) {
		struct frame_spec s = tcp4(h->src[i], GUARDED_PORT);

		if (frame_build(&s, &f[i]) == 0)
			return NULL;
	}
	while (!h->stop && h->runs < 10000000) {
		const struct frame *fr = &f[h->runs % HAMMER_SRCS];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr->b,
			    .data_size_in = (__u32)fr->len, .repeat = 1);

		if (bpf_prog_test_run_opts(
			    bpf_program__fd(skel->progs.sluice_xdp), &o))
			h->errors++;
		else if (o.retval != h->want)
			h->wrong++;
		h->runs++;
	}
	return NULL;
}

/* SWAP_N /32s (host hash) or /31s (trie) in first_octet.0.0.0/8, then the
 * SWAP_EXTRA entries extra ("addr/len"). */
#define SWAP_EXTRA 3
static void fill_swap_list_len(struct allowlist *l, uint8_t first_octet,
			       uint8_t plen, const char *const extra[SWAP_EXTRA])
{
	for (int i = 0; i < SWAP_N; i++) {
		struct allowlist_entry *e = &l->entries[i];
		uint32_t a = plen == 32 ? (uint32_t)i : (uint32_t)i << 1;

		memset(e, 0, sizeof(*e));
		e->family = AF_INET;
		e->prefixlen = plen;
		e->addr[0] = first_octet;
		e->addr[1] = (uint8_t)(a >> 16);
		e->addr[2] = (uint8_t)(a >> 8);
		e->addr[3] = (uint8_t)a;
	}
	for (int i = 0; i < SWAP_EXTRA; i++) {
		struct allowlist_entry *e = &l->entries[SWAP_N + i];
		char a[64], *slash;

		snprintf(a, sizeof(a), "%s", extra[i]);
		slash = strchr(a, '/');
		assert_non_null(slash);
		*slash = 0;
		memset(e, 0, sizeof(*e));
		e->family = AF_INET;
		e->prefixlen = (uint8_t)atoi(slash + 1);
		assert_int_equal(inet_pton(AF_INET, a, e->addr), 1);
	}
	l->n = SWAP_N + SWAP_EXTRA;
}

static void fill_swap_list(struct allowlist *l, uint8_t first_octet,
			   const char *const extra[SWAP_EXTRA])
{
	fill_swap_list_len(l, first_octet, 32, extra);
}

/*
 * A list of SWAP_N + SWAP_EXTRA entries replaced by a disjoint one that
 * still lists three probes, each in a different way: while the second sync
 * runs, they are judged again and again and must get `want` every time
 * (allowlist: pass; denylist: drop). deny selects which list is swapped.
 *  - 198.18.0.5: by a prefix in both (its /24, then its /23: trie to trie);
 *  - 198.18.1.9: by a host entry, then by the /23 (host hash to trie);
 *  - 198.18.4.9: by a /24, then by a host entry (trie to host hash).
 * The SWAP_N /32s go from 10/8 to 11/8 in the host hash.
 */
static void swap_under_probe(bool deny, __u32 want)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	struct xdpctl_sync_count *cnt;
	static const char *const old[SWAP_EXTRA] = {
		"198.18.0.0/24", "198.18.1.9/32", "198.18.4.0/24"};
	static const char *const new[SWAP_EXTRA] = {
		"198.18.0.0/23", "198.18.4.9/32", "198.18.7.0/24"};
	struct hammer h = {
		.src = {"198.18.0.5", "198.18.1.9", "198.18.4.9"},
		.want = want,
	};
	struct allowlist_entry *big;
	struct allowlist *l;
	struct config cfg;
	uint16_t port = GUARDED_PORT;
	pthread_t th;
	int fd, hfd;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	big = calloc(SWAP_N + SWAP_EXTRA, sizeof(*big));
	assert_non_null(big);
	memset(&cfg, 0, sizeof(cfg));
	cfg.xdp.ports = &port;
	cfg.xdp.n_ports = 1;
	l = deny ? &cfg.xdp.deny : &cfg.xdp.allow;
	l->entries = big;
	cnt = deny ? &st.deny4 : &st.allow4;
	fd = deny ? fds.deny4_fd : fds.allow4_fd;
	hfd = deny ? fds.hdeny4_fd : fds.hallow4_fd;
	cfg.xdp.allowlist_enabled = !deny;

	fill_swap_list(l, 10, old);
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, NULL), 0);
	assert_int_equal(count_map(hfd), SWAP_N + 1);
	assert_int_equal(count_map(fd), 2);
	fill_swap_list(l, 11, new);

	assert_int_equal(pthread_create(&th, NULL, hammer_thread, &h), 0);
	while (h.runs < 100)
		usleep(100);
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, &st), 0);
	h.stop = 1;
	pthread_join(th, NULL);

	assert_int_equal(cnt->added, SWAP_N + SWAP_EXTRA);
	assert_int_equal(cnt->deleted, SWAP_N + SWAP_EXTRA);
	assert_int_equal(count_map(hfd), SWAP_N + 1);
	assert_int_equal(count_map(fd), 2);
	print_message("  %s: %lu runs during the swap, %lu wrong\n",
		      deny ? "denylist" : "allowlist", h.runs, h.wrong);
	assert_int_equal(h.errors, 0);
	assert_int_equal(h.wrong, 0);
	assert_true(h.runs > 100);
	/* leave the list empty for the next test */
	l->n = 0;
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, NULL), 0);
	free(big);
}

/*
 * The host hash's flag turning off and on under probe: a list whose host
 * entries all go (the hash empties, its flag is cleared) and come back
 * (the hash fills from empty, its flag is set), SWAP_N entries moving
 * between the host hash (/32s) and the trie (/31s) each way.
 *  - 198.18.0.5: by a prefix throughout (its /24, then its /23);
 *  - 198.18.1.9: by a host entry, then by the /23 only, then the host
 *    entry only again (hash to trie to hash);
 *  - 198.18.4.9: by a /24, then a /25, then the /24.
 * A flag cleared while the hash still covers a probe, or set only after
 * the trie entry covering it went, is a wrong verdict here.
 */
static void swap_flags_under_probe(bool deny, __u32 want)
{
	struct xdpctl_map_fds fds;
	struct xdpctl_sync_stats st;
	static const char *const hosts[SWAP_EXTRA] = {
		"198.18.0.0/24", "198.18.1.9/32", "198.18.4.0/24"};
	static const char *const prefixes[SWAP_EXTRA] = {
		"198.18.0.0/23", "198.18.4.0/25", "198.18.7.0/24"};
	struct hammer h = {
		.src = {"198.18.0.5", "198.18.1.9", "198.18.4.9"},
		.want = want,
	};
	struct allowlist_entry *big;
	struct sluice_settings set;
	struct allowlist *l;
	struct config cfg;
	uint16_t port = GUARDED_PORT;
	__u32 flag, zero = 0;
	pthread_t th;
	int hfd;

	SKIP_IF_NO_BPF();
	fds = skel_fds();
	big = calloc(SWAP_N + SWAP_EXTRA, sizeof(*big));
	assert_non_null(big);
	memset(&cfg, 0, sizeof(cfg));
	cfg.xdp.ports = &port;
	cfg.xdp.n_ports = 1;
	l = deny ? &cfg.xdp.deny : &cfg.xdp.allow;
	l->entries = big;
	hfd = deny ? fds.hdeny4_fd : fds.hallow4_fd;
	flag = deny ? SLUICE_SET_HOSTS_DENY4 : SLUICE_SET_HOSTS_ALLOW4;
	cfg.xdp.allowlist_enabled = !deny;

	fill_swap_list_len(l, 10, 32, hosts);
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, NULL), 0);
	assert_int_equal(count_map(hfd), SWAP_N + 1);
	assert_int_equal(bpf_map_lookup_elem(fds.settings_fd, &zero, &set), 0);
	assert_true(set.flags & flag);

	assert_int_equal(pthread_create(&th, NULL, hammer_thread, &h), 0);
	while (h.runs < 100)
		usleep(100);
	/* hosts out: the hash empties, its flag goes off */
	fill_swap_list_len(l, 11, 31, prefixes);
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, &st), 0);
	assert_int_equal(count_map(hfd), 0);
	assert_int_equal(bpf_map_lookup_elem(fds.settings_fd, &zero, &set), 0);
	assert_false(set.flags & SLUICE_SET_HOSTS_ALL);
	/* hosts back in: the hash fills from empty, its flag goes on */
	fill_swap_list_len(l, 10, 32, hosts);
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, &st), 0);
	h.stop = 1;
	pthread_join(th, NULL);

	assert_int_equal(count_map(hfd), SWAP_N + 1);
	assert_int_equal(bpf_map_lookup_elem(fds.settings_fd, &zero, &set), 0);
	assert_int_equal(set.flags & SLUICE_SET_HOSTS_ALL, flag);
	print_message("  %s: %lu runs during the swaps, %lu wrong\n",
		      deny ? "denylist" : "allowlist", h.runs, h.wrong);
	assert_int_equal(h.errors, 0);
	assert_int_equal(h.wrong, 0);
	assert_true(h.runs > 100);
	/* leave the list empty for the next test */
	l->n = 0;
	assert_int_equal(xdpctl_sync_maps(&fds, &cfg, NULL), 0);
	free(big);
}

static void test_sync_flags_never_drop_common_client(void **state)
{
	swap_flags_under_probe(false, XDP_PASS);
}

static void test_sync_flags_never_pass_denied_source(void **state)
{
	swap_flags_under_probe(true, XDP_DROP);
}

static void test_sync_never_drops_common_client(void **state)
{
	swap_under_probe(false, XDP_PASS);
}

static void test_sync_never_passes_denied_source(void **state)
{
	swap_under_probe(true, XDP_DROP);
}

/* ---- attach end to end: veth pair across two private netns ----------- */

struct e2e {
	char ns_a[32], ns_b[32], if_a[IF_NAMESIZE], if_b[IF_NAMESIZE];
	char pin[128];
	int orig_ns, fd_a, fd_b;
	bool created;
	struct xdpctl *x;
	struct test_cfg t;
	char *ifs[2];
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* build/sluicectl, found next to this test binary (build/tests/bpf/). */
static bool sluicectl_path(char *buf, size_t len)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (int i = 0; i < 3; i++) {
		slash = strrchr(exe, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
	snprintf(buf, len, "%s/sluicectl", exe);
	return access(buf, X_OK) == 0;
}

/* Run "sluicectl ARGS" (stderr discarded); stdout into out. Exit status. */
static int run_ctl(const char *args, char *out, size_t len)
{
	char ctl[600], cmd[1024];
	FILE *f;
	size_t n;
	int st;

	if (!sluicectl_path(ctl, sizeof(ctl)))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", ctl, args);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int enter_ns(int fd)
{
	return setns(fd, CLONE_NEWNET);
}

static int e2e_setup(void **state)
{
	struct e2e *e = calloc(1, sizeof(*e));
	char path[64];
	int id = getpid() % 100000;

	if (!e)
		return -1;
	*state = e;
	e->orig_ns = e->fd_a = e->fd_b = -1;
	if (!skel)
		return 0;
	snprintf(e->ns_a, sizeof(e->ns_a), "slt3-%d-a", id);
	snprintf(e->ns_b, sizeof(e->ns_b), "slt3-%d-b", id);
	snprintf(e->if_a, sizeof(e->if_a), "slt3-%d-a", id);
	snprintf(e->if_b, sizeof(e->if_b), "slt3-%d-b", id);
	snprintf(e->pin, sizeof(e->pin), "/sys/fs/bpf/sluice-i3-%d",
		 (int)getpid());
	if (sh("command -v ip >/dev/null") != 0)
		return 0;
	e->created = true;
	if (sh("ip netns add %s && ip netns add %s && "
	       "ip link add %s netns %s type veth peer name %s netns %s && "
	       "ip -n %s addr add 198.18.0.1/24 dev %s && "
	       "ip -n %s addr add 198.18.0.2/24 dev %s && "
	       "ip -n %s link set %s up && ip -n %s link set lo up && "
	       "ip -n %s link set %s up && ip -n %s link set lo up",
	       e->ns_a, e->ns_b, e->if_a, e->ns_a, e->if_b, e->ns_b, e->ns_a,
	       e->if_a, e->ns_b, e->if_b, e->ns_a, e->if_a, e->ns_a, e->ns_b,
	       e->if_b, e->ns_b) != 0)
		return -1;
	e->orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", e->ns_a);
	e->fd_a = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", e->ns_b);
	e->fd_b = open(path, O_RDONLY | O_CLOEXEC);
	return e->orig_ns < 0 || e->fd_a < 0 || e->fd_b < 0 ? -1 : 0;
}

static void remove_pins(const char *dir)
{
	static const char *const names[] = {
		SLUICE_MAP_NAME(SLUICE_MAP_PORTS),
		SLUICE_MAP_NAME(SLUICE_MAP_ALLOW4),
		SLUICE_MAP_NAME(SLUICE_MAP_ALLOW6),
		SLUICE_MAP_NAME(SLUICE_MAP_STATS),
		SLUICE_MAP_NAME(SLUICE_MAP_SETTINGS),
		SLUICE_MAP_NAME(SLUICE_MAP_DENY4),
		SLUICE_MAP_NAME(SLUICE_MAP_DENY6),
		SLUICE_MAP_NAME(SLUICE_MAP_BAN4),
		SLUICE_MAP_NAME(SLUICE_MAP_BAN6),
		SLUICE_MAP_NAME(SLUICE_MAP_CLASSES),
		SLUICE_MAP_NAME(SLUICE_MAP_SRC4),
		SLUICE_MAP_NAME(SLUICE_MAP_SRC6),
		SLUICE_MAP_NAME(SLUICE_MAP_EVENTS),
		SLUICE_MAP_NAME(SLUICE_MAP_SYNFLOOD),
		SLUICE_MAP_NAME(SLUICE_MAP_HALLOW4),
		SLUICE_MAP_NAME(SLUICE_MAP_HALLOW6),
		SLUICE_MAP_NAME(SLUICE_MAP_HDENY4),
		SLUICE_MAP_NAME(SLUICE_MAP_HDENY6),
	};
	char p[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static int e2e_teardown(void **state)
{
	struct e2e *e = *state;

	if (e->x) { /* the test failed half way */
		enter_ns(e->fd_a);
		xdpctl_close(e->x);
	}
	if (e->orig_ns >= 0) {
		enter_ns(e->orig_ns);
		close(e->orig_ns);
	}
	if (e->fd_a >= 0)
		close(e->fd_a);
	if (e->fd_b >= 0)
		close(e->fd_b);
	if (e->created) {
		sh("ip netns del %s 2>/dev/null", e->ns_a);
		sh("ip netns del %s 2>/dev/null", e->ns_b);
	}
	if (e->pin[0])
		remove_pins(e->pin);
	free(e);
	return 0;
}

/* From netns B, connect to 198.18.0.1:port in A. Returns 0 if refused
 * (RST came back: the SYN passed), -ETIMEDOUT if nothing came back within
 * ms (the SYN was dropped), another -errno otherwise. */
static int probe_connect(struct e2e *e, uint16_t port, int ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	struct pollfd pfd;
	int fd, err = 0, ret;
	socklen_t len = sizeof(err);

	assert_int_equal(enter_ns(e->fd_b), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_int_equal(enter_ns(e->fd_a), 0);
	assert_true(fd >= 0);
	inet_pton(AF_INET, "198.18.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EISCONN;
	}
	if (errno != EINPROGRESS) {
		ret = -errno;
		close(fd);
		return ret == -ECONNREFUSED ? 0 : ret;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	ret = poll(&pfd, 1, ms);
	if (ret == 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	close(fd);
	return err == ECONNREFUSED ? 0 : -err;
}

/*
 * Start an end-to-end test: skip without BPF or iproute2, enter netns A and
 * prepare e->t (allowlist on, the private pin path) to attach to the veth
 * end there (n_if 1), plus lo (n_if 2), or to nothing yet (n_if 0).
 */
static void e2e_begin(struct e2e *e, unsigned int n_if, int mode)
{
	SKIP_IF_NO_BPF();
	if (!e->created) {
		print_message("skipped: iproute2 'ip' not found\n");
		skip();
	}
	assert_int_equal(xdpctl_ensure_bpffs(), 0);
	assert_int_equal(enter_ns(e->fd_a), 0);
	cfg_init(&e->t, true);
	e->ifs[0] = e->if_a;
	e->ifs[1] = (char *)"lo"; /* auto: native fails, generic used */
	if (n_if) {
		e->t.cfg.xdp.interfaces = e->ifs;
		e->t.cfg.xdp.n_interfaces = n_if;
		e->t.cfg.xdp.mode = mode;
	}
	snprintf(e->t.cfg.xdp.pin_path, sizeof(e->t.cfg.xdp.pin_path), "%s",
		 e->pin);
}

static void test_attach_detach(void **state)
{
	struct e2e *e = *state;
	struct sluice_counter c1[SLUICE_R_MAX], c2[SLUICE_R_MAX];
	struct xdpctl_pins pins;
	char cmd[512], out[8192];
	int ifa, ilo, ret;
	__u32 id = 0;
	FILE *f;
	size_t n;

	e2e_begin(e, 2, CFG_XDP_AUTO);
	cfg_port(&e->t, GUARDED_PORT);
	cfg_allow(&e->t, "198.18.0.100", 32);
	cfg_allow(&e->t, "fd00:5c::", 64);

	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);

	ifa = (int)if_nametoindex(e->if_a);
	ilo = (int)if_nametoindex("lo");
	assert_int_equal(bpf_xdp_query_id(ifa, 0, &id), 0);
	assert_true(id != 0);
	id = 0;
	assert_int_equal(bpf_xdp_query_id(ilo, 0, &id), 0);
	assert_true(id != 0);

	/* the pins are readable, with BTF, by bpftool and by sluicectl's path
	 * (the /32 is in the host hash) */
	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/%s 2>&1",
		 e->pin, SLUICE_MAP_NAME(SLUICE_MAP_HALLOW4));
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	ret = pclose(f);
	if (WIFEXITED(ret) && WEXITSTATUS(ret) == 127) {
		print_message("  bpftool not installed: dump check skipped\n");
	} else {
		assert_int_equal(WEXITSTATUS(ret), 0);
		if (!strstr(out, "\"prefixlen\":32") ||
		    !strstr(out, "\"class_id\":0"))
			fail_msg("bpftool dump lacks BTF field names: %s", out);
	}
	assert_int_equal(xdpctl_pins_open(e->pin, &pins), 0);
	assert_int_equal(xdpctl_pins_count(pins.hallow4_fd), 1);
	assert_int_equal(xdpctl_pins_count(pins.allow4_fd), 0);
	assert_int_equal(xdpctl_pins_count(pins.allow6_fd), 1);
	assert_int_equal(xdpctl_pins_count(pins.ports_fd), 1);

	/* a SYN from 198.18.0.2 (not allowed) to the guarded port drops */
	assert_int_equal(xdpctl_read_stats(e->x, c1), 0);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 600), -ETIMEDOUT);
	assert_int_equal(xdpctl_read_stats(e->x, c2), 0);
	assert_true(c2[SLUICE_R_DROP_NOT_ALLOWED].packets >
		    c1[SLUICE_R_DROP_NOT_ALLOWED].packets);
	/* sluicectl's read path sees the same counters */
	assert_int_equal(xdpctl_pins_read_stats(&pins, c1), 0);
	assert_true(c1[SLUICE_R_DROP_NOT_ALLOWED].packets >=
		    c2[SLUICE_R_DROP_NOT_ALLOWED].packets);
	/* an unguarded port answers (RST: nothing listens) */
	assert_int_equal(probe_connect(e, 22, 2000), 0);

	/* allow the client by reload: now the SYN passes and gets an RST */
	cfg_allow(&e->t, "198.18.0.2", 32);
	assert_int_equal(xdpctl_sync(e->x, &e->t.cfg), 0);
	assert_int_equal(xdpctl_pins_count(pins.hallow4_fd), 2);
	assert_int_equal(xdpctl_read_stats(e->x, c1), 0);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);
	assert_int_equal(xdpctl_read_stats(e->x, c2), 0);
	assert_true(c2[SLUICE_R_PASS_ALLOWED].packets >
		    c1[SLUICE_R_PASS_ALLOWED].packets);
	xdpctl_pins_close(&pins);

	/* sluicectl status on the live pins, JSON and table */
	snprintf(cmd, sizeof(cmd), "--pin-path %s --json status", e->pin);
	ret = run_ctl(cmd, out, sizeof(out));
	if (ret == -1) {
		print_message(
			"  build/sluicectl not built: CLI check skipped\n");
	} else {
		char want[128];

		assert_int_equal(ret, 0);
		assert_non_null(
			strstr(out, "\"allowlist\":{\"v4\":2,\"v6\":1}"));
		snprintf(want, sizeof(want),
			 "\"drop_not_allowed\":{\"packets\":%llu,",
			 (unsigned long long)c2[SLUICE_R_DROP_NOT_ALLOWED]
				 .packets);
		if (!strstr(out, want))
			fail_msg("want %s in: %s", want, out);
		snprintf(cmd, sizeof(cmd), "--pin-path %s status", e->pin);
		assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "drop_not_allowed"));
		assert_non_null(strstr(out, "2 IPv4, 1 IPv6"));
	}

	xdpctl_close(e->x);
	e->x = NULL;
	assert_int_equal(access(e->pin, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	id = 1;
	assert_int_equal(bpf_xdp_query_id(ifa, 0, &id), 0);
	assert_int_equal(id, 0);
	id = 1;
	assert_int_equal(bpf_xdp_query_id(ilo, 0, &id), 0);
	assert_int_equal(id, 0);
	/* and sluicectl's view: no daemon */
	assert_int_equal(xdpctl_pins_open(e->pin, &pins), -ENOENT);
	snprintf(cmd, sizeof(cmd), "--pin-path %s status", e->pin);
	ret = run_ctl(cmd, out, sizeof(out));
	assert_true(ret == 2 || ret == -1);
}

/* sluicectl live edits against a real attachment, then xdp.persist: the
 * program keeps running without its daemon and a new one takes over by
 * atomic replacement, with bans and counters intact. */
static void test_live_edits_and_persist(void **state)
{
	struct e2e *e = *state;
	struct sluice_counter c1[SLUICE_R_MAX], c2[SLUICE_R_MAX];
	struct xdpctl_pins pins;
	char cmd[512], out[8192], base[300];
	__u32 id1 = 0, id2 = 0, id3 = 1;
	int ifa;

	if (run_ctl("--help", out, sizeof(out)) == -1) {
		print_message("skipped: build/sluicectl not built\n");
		skip();
	}
	e2e_begin(e, 1, CFG_XDP_AUTO);
	e->t.cfg.xdp.persist = true;
	e->t.cfg.xdp.rate.syn = 1000;
	e->t.cfg.xdp.drop_sample = 1;
	snprintf(base, sizeof(base), "--pin-path %s", e->pin);
	cfg_port(&e->t, GUARDED_PORT);
	cfg_allow(&e->t, "198.18.0.2", 32);
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	ifa = (int)if_nametoindex(e->if_a);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);

	/* deny add: cut off at once; del: back */
	snprintf(cmd, sizeof(cmd), "%s deny add 198.18.0.2", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "runtime only"));
	assert_int_equal(probe_connect(e, GUARDED_PORT, 500), -ETIMEDOUT);
	snprintf(cmd, sizeof(cmd), "%s deny list", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "198.18.0.2/32"));
	assert_non_null(strstr(out, "runtime"));
	snprintf(cmd, sizeof(cmd), "%s deny del 198.18.0.2/32", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 3); /* gone */
	snprintf(cmd, sizeof(cmd), "%s deny add 198.18.0.0/16 rate=5/s", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 1);
	snprintf(cmd, sizeof(cmd), "%s deny add 198.18.0.1/16", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 1);

	/* allow add with limits: a class; list shows it */
	snprintf(cmd, sizeof(cmd),
		 "%s allow add 198.51.100.0/24 rate=500/s burst=1000 syn=20/s",
		 base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "%s --json allow list", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	if (!strstr(out, "{\"cidr\":\"198.51.100.0/24\",\"source\":\"runtime\""
			 ",\"class\":1,\"rate\":500,\"burst\":1000,\"syn\":20,"
			 "\"syn_burst\":20}") ||
	    !strstr(out, "\"cidr\":\"198.18.0.2/32\",\"source\":\"file\""))
		fail_msg("allow list: %s", out);

	/* ban with expiry; listed; unban */
	snprintf(cmd, sizeof(cmd), "%s ban 198.18.0.2 --for 10m", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 500), -ETIMEDOUT);
	snprintf(cmd, sizeof(cmd), "%s bans", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	if (!strstr(out, "198.18.0.2/32") ||
	    !(strstr(out, "10m00s") || strstr(out, "9m59s")))
		fail_msg("bans: %s", out);
	snprintf(cmd, sizeof(cmd), "%s unban 198.18.0.2", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 3);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);

	/* top: drops of the ban below are sampled 1:1 */
	snprintf(cmd, sizeof(cmd), "%s ban 198.18.0.2", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	{
		pid_t pid;
		int st;

		snprintf(cmd, sizeof(cmd), "%s --json top --seconds 2", base);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			usleep(500000);
			for (int i = 0; i < 3; i++)
				probe_connect(e, GUARDED_PORT, 100);
			_exit(0);
		}
		assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
		waitpid(pid, &st, 0);
		if (!strstr(out, "\"source\":\"198.18.0.2\"") ||
		    !strstr(out, "\"drop_banned\":"))
			fail_msg("top: %s", out);
	}

	/* persist: close leaves the program attached and the maps pinned */
	assert_int_equal(bpf_xdp_query_id(ifa, 0, &id1), 0);
	assert_true(id1 != 0);
	assert_int_equal(xdpctl_read_stats(e->x, c1), 0);
	xdpctl_close(e->x);
	e->x = NULL;
	assert_int_equal(bpf_xdp_query_id(ifa, 0, &id2), 0);
	assert_int_equal(id2, id1);
	assert_int_equal(xdpctl_pins_open(e->pin, &pins), 0);
	/* still enforcing with no daemon: the ban holds */
	assert_int_equal(probe_connect(e, GUARDED_PORT, 500), -ETIMEDOUT);
	assert_int_equal(xdpctl_pins_read_stats(&pins, c2), 0);
	assert_true(c2[SLUICE_R_DROP_BANNED].packets >
		    c1[SLUICE_R_DROP_BANNED].packets);
	xdpctl_pins_close(&pins);

	/* a new instance takes over atomically; bans and counters survive */
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	assert_int_equal(bpf_xdp_query_id(ifa, 0, &id3), 0);
	assert_true(id3 != 0 && id3 != id1);
	assert_int_equal(xdpctl_read_stats(e->x, c1), 0);
	assert_true(c1[SLUICE_R_DROP_BANNED].packets >=
		    c2[SLUICE_R_DROP_BANNED].packets);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 500), -ETIMEDOUT);
	snprintf(cmd, sizeof(cmd), "%s unban 198.18.0.2", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);
	/* the daemon's own ban (L7 escalation) */
	{
		struct allowlist_entry be = {0};

		entry_set(&be, "198.18.0.2", 32);
		assert_int_equal(xdpctl_ban(e->x, &be, 3600ull * 1000000000ull),
				 0);
		assert_int_equal(probe_connect(e, GUARDED_PORT, 500),
				 -ETIMEDOUT);
		snprintf(cmd, sizeof(cmd), "%s bans", base);
		assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
		if (!strstr(out, "198.18.0.2/32") || !strstr(out, "sluiced"))
			fail_msg("bans after xdpctl_ban: %s", out);
		snprintf(cmd, sizeof(cmd), "%s unban 198.18.0.2", base);
		assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
		assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);
	}
	/* the reload re-synced the runtime allow entry away */
	snprintf(cmd, sizeof(cmd), "%s allow list", base);
	assert_int_equal(run_ctl(cmd, out, sizeof(out)), 0);
	assert_null(strstr(out, "198.51.100.0/24"));

	/* and a non-persistent instance cleans everything up */
	xdpctl_close(e->x);
	e->t.cfg.xdp.persist = false;
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	xdpctl_close(e->x);
	e->x = NULL;
	id3 = 1;
	assert_int_equal(bpf_xdp_query_id(ifa, 0, &id3), 0);
	assert_int_equal(id3, 0);
	assert_int_equal(access(e->pin, F_OK), -1);
}

/* Coexistence through the libxdp dispatcher: Sluice and another XDP
 * program (xdp-filter's, from xdp-tools) on one interface, both running.
 * Kernels that refuse the dispatcher's freplace programs make libxdp attach
 * Sluice alone: then this is a skip with the reason. */
static void test_dispatcher_coexistence(void **state)
{
	struct e2e *e = *state;
	struct xdp_multiprog *mp;
	struct xdp_program *other;
	bool legacy;
	int ifa, err;

	e2e_begin(e, 1, CFG_XDP_NATIVE);
	cfg_port(&e->t, GUARDED_PORT);
	cfg_allow(&e->t, "198.18.0.100", 32);
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	ifa = (int)if_nametoindex(e->if_a);
	mp = xdp_multiprog__get_from_ifindex(ifa);
	assert_false(libxdp_get_error(mp));
	legacy = xdp_multiprog__is_legacy(mp);
	xdp_multiprog__close(mp);
	if (legacy) {
		xdpctl_close(e->x);
		e->x = NULL;
		print_message("skipped: libxdp dispatcher unavailable: kernel "
			      "refuses freplace (EPERM)\n");
		skip();
	}
	other = xdp_program__find_file("xdpfilt_alw_all.o", NULL, NULL);
	if (libxdp_get_error(other)) {
		xdpctl_close(e->x);
		e->x = NULL;
		print_message("skipped: xdp-tools' xdpfilt_alw_all.o not "
			      "installed\n");
		skip();
	}
	err = xdp_program__attach(other, ifa, XDP_MODE_NATIVE, 0);
	assert_int_equal(err, 0);
	mp = xdp_multiprog__get_from_ifindex(ifa);
	assert_int_equal(xdp_multiprog__program_count(mp), 2);
	xdp_multiprog__close(mp);
	/* Sluice (priority 10) still drops the non-allowed SYN */
	assert_int_equal(probe_connect(e, GUARDED_PORT, 500), -ETIMEDOUT);
	assert_int_equal(probe_connect(e, 22, 2000), 0);
	assert_int_equal(xdp_program__detach(other, ifa, XDP_MODE_NATIVE, 0),
			 0);
	xdp_program__close(other);
	xdpctl_close(e->x);
	e->x = NULL;
}

/* Usage errors need no BPF: exit 1; help exits 0. */
static void test_sluicectl_usage(void **state)
{
	char out[4096];

	if (run_ctl("--help", out, sizeof(out)) == -1) {
		print_message("skipped: build/sluicectl not built\n");
		skip();
	}
	assert_int_equal(run_ctl("--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "status"));
	assert_int_equal(run_ctl("", out, sizeof(out)), 1);
	assert_int_equal(run_ctl("frobnicate", out, sizeof(out)), 1);
	assert_int_equal(run_ctl("--bogus status", out, sizeof(out)), 1);
	assert_int_equal(run_ctl("status extra", out, sizeof(out)), 1);
	assert_int_equal(run_ctl("--pin-path", out, sizeof(out)), 1);
	assert_int_equal(run_ctl("--pin-path '' status", out, sizeof(out)), 1);
	/* well-formed, but nothing pinned there */
	assert_int_equal(run_ctl("--pin-path /sys/fs/bpf/sluice-test-none "
				 "status",
				 out, sizeof(out)),
			 2);
	assert_string_equal(out, "");
	/* the live-edit commands: argument errors are found before the pins
	 * are looked for (exit 1), valid ones then miss the pins (exit 2) */
	static const char *const bad[] = {
		"ban",
		"ban 192.0.2.1 192.0.2.2",
		"ban 192.0.2.1 --for 5x",
		"ban 192.0.2.1 --for 0",
		"ban 192.0.2.1 --for 400d",
		"ban 192.0.2.300",
		"unban 192.0.2.1 --for 1m",
		"status --for 1m",
		"allow",
		"allow frob",
		"allow add",
		"allow add 10.0.0.0/8 rate=5",
		"allow add 10.0.0.1/8",
		"allow del 10.0.0.0/8 rate=5/s",
		"allow list extra",
		"deny add 10.0.0.0/8 burst=5",
		"top --seconds 0",
		"top --limit x",
		"bans --seconds 3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char cmd[256];
		int rc;

		snprintf(cmd, sizeof(cmd),
			 "--pin-path /sys/fs/bpf/sluice-test-none %s", bad[i]);
		rc = run_ctl(cmd, out, sizeof(out));
		if (rc != 1)
			fail_msg("sluicectl %s: exit %d, want 1", bad[i], rc);
	}
	assert_int_equal(run_ctl("--pin-path /sys/fs/bpf/sluice-test-none "
				 "allow add 10.0.0.0/8 rate=5/s",
				 out, sizeof(out)),
			 2);
	assert_int_equal(run_ctl("--pin-path /sys/fs/bpf/sluice-test-none "
				 "ban 2001:db8::/64 --for 10m",
				 out, sizeof(out)),
			 2);
	assert_int_equal(run_ctl("--pin-path /sys/fs/bpf/sluice-test-none bans",
				 out, sizeof(out)),
			 2);
	assert_int_equal(run_ctl("--pin-path /sys/fs/bpf/sluice-test-none top "
				 "--seconds 1",
				 out, sizeof(out)),
			 2);
}

/* The map_flags of a pinned map, or ~0u when there is no such pin. */
static __u32 pin_flags(const char *dir, const char *name)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return ~0u;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		info.map_flags = ~0u;
	close(fd);
	return info.map_flags;
}

/* xdp.list_prealloc: the host hashes are created preallocated; a pin of
 * the other kind (persisted by a daemon with the other setting, or from
 * before the setting) cannot be reused, so a takeover replaces it and
 * syncs the files into the new map, which enforces at once. */
static void test_list_prealloc_across_takeover(void **state)
{
	struct e2e *e = *state;
	const char *h4 = SLUICE_MAP_NAME(SLUICE_MAP_HALLOW4);
	const char *d6 = SLUICE_MAP_NAME(SLUICE_MAP_HDENY6);
	const char *t4 = SLUICE_MAP_NAME(SLUICE_MAP_ALLOW4);

	e2e_begin(e, 1, CFG_XDP_AUTO);
	e->t.cfg.xdp.persist = true;
	cfg_port(&e->t, GUARDED_PORT);
	cfg_allow(&e->t, "198.18.0.2", 32); /* the host hash's only entry */
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	assert_int_equal(pin_flags(e->pin, h4), BPF_F_NO_PREALLOC);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);
	xdpctl_close(e->x);
	e->x = NULL;

	e->t.cfg.xdp.list_prealloc = true;
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	assert_int_equal(pin_flags(e->pin, h4), 0);
	assert_int_equal(pin_flags(e->pin, d6), 0);
	assert_int_equal(pin_flags(e->pin, t4), BPF_F_NO_PREALLOC);
	/* the replaced hash got the entry again: still allowed */
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);
	xdpctl_close(e->x);
	e->x = NULL;

	/* and back */
	e->t.cfg.xdp.list_prealloc = false;
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	assert_int_equal(pin_flags(e->pin, h4), BPF_F_NO_PREALLOC);
	assert_int_equal(probe_connect(e, GUARDED_PORT, 2000), 0);
	xdpctl_close(e->x);
	e->t.cfg.xdp.persist = false;
	e->x = xdpctl_open(&e->t.cfg);
	assert_non_null(e->x);
	xdpctl_close(e->x);
	e->x = NULL;
	assert_int_equal(access(e->pin, F_OK), -1);
}

static void test_open_errors(void **state)
{
	struct e2e *e = *state;
	struct xdpctl *x;
	char *ifs[1] = {(char *)"slt-nonexistent"};

	e2e_begin(e, 0, CFG_XDP_AUTO);

	/* unknown interface: clear error, nothing left behind */
	e->t.cfg.xdp.interfaces = ifs;
	e->t.cfg.xdp.n_interfaces = 1;
	x = xdpctl_open(&e->t.cfg);
	assert_null(x);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(access(e->pin, F_OK), -1);

	/* native mode forced on lo (no native XDP): fails, no fallback */
	ifs[0] = (char *)"lo";
	e->t.cfg.xdp.mode = CFG_XDP_NATIVE;
	x = xdpctl_open(&e->t.cfg);
	if (x) { /* a kernel that can do native XDP on lo */
		xdpctl_close(x);
	} else {
		assert_int_equal(access(e->pin, F_OK), -1);
	}

	/* a pin path outside bpffs is refused */
	snprintf(e->t.cfg.xdp.pin_path, sizeof(e->t.cfg.xdp.pin_path),
		 "/tmp/sluice-test-notbpf-%d", (int)getpid());
	e->t.cfg.xdp.mode = CFG_XDP_GENERIC;
	x = xdpctl_open(&e->t.cfg);
	assert_null(x);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(access(e->t.cfg.xdp.pin_path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest verdicts[] = {
		cmocka_unit_test_setup(test_allowed_pass, verdict_setup),
		cmocka_unit_test_setup(test_not_allowed_drop, verdict_setup),
		cmocka_unit_test_setup(test_longest_prefix, verdict_setup),
		cmocka_unit_test_setup(test_allowlist_disabled, verdict_setup),
		cmocka_unit_test_setup(test_unguarded_port, verdict_setup),
		cmocka_unit_test_setup(test_udp_to_guarded_port, verdict_setup),
		cmocka_unit_test_setup(test_not_ip, verdict_setup),
		cmocka_unit_test_setup(test_vlan_drop, verdict_setup),
		cmocka_unit_test_setup(test_ipv4_options, verdict_setup),
		cmocka_unit_test_setup(test_ipv6_ext_headers, verdict_setup),
		cmocka_unit_test_setup(test_fragments, verdict_setup),
		cmocka_unit_test_setup(test_fragment_forged_tail,
				       verdict_setup),
		cmocka_unit_test_setup(test_fragments_packet_bucket,
				       verdict_setup),
		cmocka_unit_test_setup(test_ipv6_ext_depth_syn, verdict_setup),
		cmocka_unit_test_setup(test_truncated, verdict_setup),
		cmocka_unit_test_setup(test_counters_exact, verdict_setup),
		cmocka_unit_test_setup(test_deny_first, verdict_setup),
		cmocka_unit_test_setup(test_bans, verdict_setup),
		cmocka_unit_test_setup(test_scope_all, verdict_setup),
		cmocka_unit_test_setup(test_rate_default_class, verdict_setup),
		cmocka_unit_test_setup(test_rate_per_cidr_class, verdict_setup),
		cmocka_unit_test_setup(test_host_entries, verdict_setup),
		cmocka_unit_test_setup(test_rate_v6_prefix, verdict_setup),
		cmocka_unit_test_setup(test_verdict_cache_generation,
				       verdict_setup),
		cmocka_unit_test_setup(test_rate_shared_across_cpus,
				       verdict_setup),
		cmocka_unit_test_setup(test_drop_events, verdict_setup),
	};
	const struct CMUnitTest sync[] = {
		cmocka_unit_test_setup(test_sync_diff, sync_setup),
		cmocka_unit_test_setup(test_sync_masks_host_bits, sync_setup),
		cmocka_unit_test_setup(test_sync_moves_hosts_out_of_tries,
				       sync_setup),
		cmocka_unit_test_setup(test_sync_full_map, sync_setup),
		cmocka_unit_test_setup(test_sync_overlap_dups_batches,
				       sync_setup),
		cmocka_unit_test(test_rec_sort_stable),
		cmocka_unit_test_setup(test_sync_bad_entry, sync_setup),
		cmocka_unit_test_setup(test_sync_deny_and_settings,
				       sync_setup),
		cmocka_unit_test_setup(test_sync_classes, sync_setup),
		cmocka_unit_test_setup(test_sync_keeps_bans, sync_setup),
		cmocka_unit_test_setup(test_sync_never_drops_common_client,
				       sync_setup),
		cmocka_unit_test_setup(test_sync_never_passes_denied_source,
				       sync_setup),
		cmocka_unit_test_setup(test_sync_flags_never_drop_common_client,
				       sync_setup),
		cmocka_unit_test_setup(test_sync_flags_never_pass_denied_source,
				       sync_setup),
	};
	const struct CMUnitTest attach[] = {
		cmocka_unit_test_setup_teardown(test_attach_detach, e2e_setup,
						e2e_teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, e2e_setup,
						e2e_teardown),
		cmocka_unit_test_setup_teardown(test_live_edits_and_persist,
						e2e_setup, e2e_teardown),
		cmocka_unit_test_setup_teardown(
			test_list_prealloc_across_takeover, e2e_setup,
			e2e_teardown),
		cmocka_unit_test_setup_teardown(test_dispatcher_coexistence,
						e2e_setup, e2e_teardown),
		cmocka_unit_test(test_sluicectl_usage),
	};
	int fails = 0;

	alarm(120); /* a hang is a failure with a name: SIGALRM */
	log_set_level(LOG_LVL_WARN);
	xdpctl_init_logging();
	fails += cmocka_run_group_tests_name("xdp_verdicts", verdicts,
					     group_setup, group_teardown);
	fails += cmocka_run_group_tests_name("xdp_sync", sync, group_setup,
					     group_teardown);
	fails += cmocka_run_group_tests_name("xdp_attach", attach, group_setup,
					     group_teardown);
	return fails ? 1 : 0;
}
