// SPDX-License-Identifier: MIT
/*
 * BPF tests for SYN cookies from XDP (xdp.syncookies; docs/SYNCOOKIES.md).
 *
 * The skeleton is loaded without pins, the maps filled by hand, frames run
 * through BPF_PROG_TEST_RUN. A SYN must come back as a SYN-ACK (XDP_TX)
 * with the addresses and ports swapped, valid checksums, the MSS option
 * and a sequence number the kernel's own check accepts: the ACK built
 * from it passes, the same ACK with another cookie is dropped. The ACK
 * check asks which socket owns the 4-tuple, so these tests run in a
 * private network namespace holding a listener on the guarded port
 * (BPF_PROG_TEST_RUN runs the program in the caller's namespace).
 *
 * With the cookie stage taken out of the program, the handshake and auto
 * tests fail (every SYN is XDP_PASS, every ACK passes); the other two
 * guard what cookies must leave alone and pass either way.
 * Needs root and BPF; without them each test is skipped with the reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sluice/abi.h>

#include "bpf/frames.h"
#include "lib/log.h"
#include "sluice_xdp.skel.h"
#include "xdp/xdpctl.h"

#define GUARDED_PORT 8080
#define CLOSED_PORT  8081 /* guarded, nothing listening */
#define V4_SRC	     "198.18.0.5"
#define V4_DST	     "198.18.1.1"
#define V4_DENIED    "198.19.0.9"
#define V6_SRC	     "fd00:5c::5"
#define V6_DST	     "fd00:5c::1"
#define CLIENT_ISN   0x11223344u

static struct sluice_xdp *skel;
static char skip_reason[256];
static int home_ns = -1; /* the namespace to return to */
static int listen4 = -1, listen6 = -1;

#define SKIP_IF_NO_BPF()                                                       \
	do {                                                                   \
		if (!skel) {                                                   \
			print_message("skipped: %s\n", skip_reason);           \
			skip();                                                \
		}                                                              \
	} while (0)

/* ---- maps ------------------------------------------------------------- */

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void put_settings(__u32 flags, __u32 cookie_syn_window)
{
	static __u64 gen = 1;
	struct sluice_settings s = {.flags = flags,
				    .abi_version = SLUICE_ABI_VERSION,
				    .gen = ++gen,
				    .cookie_syn_window = cookie_syn_window};
	__u32 zero = 0;

	assert_int_equal(
		bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_SETTINGS),
				    &zero, &s, BPF_ANY),
		0);
}

static void put_port(uint16_t port)
{
	struct sluice_port_val v = {.flags = SLUICE_PORT_GUARDED};
	__u32 k = port;

	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_PORTS),
					     &k, &v, BPF_ANY),
			 0);
}

static void put_deny4(const char *addr)
{
	struct sluice_lpm4_key k = {.prefixlen = 32};
	struct sluice_rule r = {0};

	assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_DENY4),
					     &k, &r, BPF_ANY),
			 0);
}

static void reset_synflood(void)
{
	struct sluice_synflood z = {0};
	__u32 zero = 0;

	assert_int_equal(
		bpf_map_update_elem(fd_of(skel->maps.SLUICE_MAP_SYNFLOOD),
				    &zero, &z, BPF_ANY),
		0);
}

static struct sluice_synflood get_synflood(void)
{
	struct sluice_synflood st;
	__u32 zero = 0;

	assert_int_equal(
		bpf_map_lookup_elem(fd_of(skel->maps.SLUICE_MAP_SYNFLOOD),
				    &zero, &st),
		0);
	return st;
}

static __u64 count_of(enum sluice_reason r)
{
	struct sluice_counter c[SLUICE_R_MAX];
	struct xdpctl_pins p = {.stats_fd = fd_of(skel->maps.SLUICE_MAP_STATS)};

	assert_int_equal(xdpctl_pins_read_stats(&p, c), 0);
	return c[r].packets;
}

/* ---- frames ----------------------------------------------------------- */

/* A SYN, or with flags (ACK 0x10) a segment of the client's handshake,
 * with an MSS option of mss (0: none). */
static void build(struct frame *f, int family, uint16_t dport, const char *src,
		  uint8_t flags, uint16_t mss)
{
	struct frame_spec s = {
		.family = (uint8_t)family,
		.l4 = IPPROTO_TCP,
		.src = src,
		.dst = family == 4 ? V4_DST : V6_DST,
		.dport = dport,
		.tcp_flags = flags,
		.l4_len = mss ? 24 : 20,
	};
	uint8_t *th;

	assert_true(frame_build(&s, f) > 0);
	th = f->b + 14 + (family == 4 ? 20 : 40);
	th[4] = CLIENT_ISN >> 24;
	th[5] = (uint8_t)(CLIENT_ISN >> 16);
	th[6] = (uint8_t)(CLIENT_ISN >> 8);
	th[7] = (uint8_t)CLIENT_ISN;
	if (mss) {
		th[12] = 6 << 4;
		th[20] = 2;
		th[21] = 4;
		frame_put16(th + 22, mss);
	}
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Run a frame; the action, and the frame as the program left it. */
static __u32 run(const struct frame *in, struct frame *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b,
		    .data_size_in = (__u32)in->len, .data_out = out->b,
		    .data_size_out = sizeof(out->b), .repeat = 1);

	memset(out, 0, sizeof(*out));
	assert_int_equal(bpf_prog_test_run_opts(
				 bpf_program__fd(skel->progs.sluice_xdp), &o),
			 0);
	out->len = o.data_size_out;
	return o.retval;
}

/* One's-complement sum over the TCP segment and its pseudo-header: 0 when
 * the checksum is right. */
static uint16_t tcp_csum(const uint8_t *ip, int family, const uint8_t *th,
			 size_t len)
{
	uint8_t buf[FRAME_MAX + 40];
	size_t n = 0;

	if (family == 4) {
		memcpy(buf, ip + 12, 8);
		buf[8] = 0;
		buf[9] = IPPROTO_TCP;
		frame_put16(buf + 10, (uint16_t)len);
		n = 12;
	} else {
		memcpy(buf, ip + 8, 32);
		put32(buf + 32, (uint32_t)len);
		memset(buf + 36, 0, 3);
		buf[39] = IPPROTO_TCP;
		n = 40;
	}
	memcpy(buf + n, th, len);
	return frame_csum(buf, n + len);
}

/*
 * Check that out is the SYN-ACK answering the SYN `in` (both family):
 * MACs, addresses and ports swapped, SYN|ACK, ack = ISN + 1, checksums,
 * the MSS option holding want_mss. Returns the cookie (its sequence).
 */
static uint32_t check_synack(const struct frame *in, const struct frame *out,
			     int family, uint16_t want_mss)
{
	size_t iphl = family == 4 ? 20 : 40;
	const uint8_t *ip = out->b + 14, *th = ip + iphl;
	const uint8_t *iip = in->b + 14, *ith = iip + iphl;

	assert_int_equal(out->len, 14 + iphl + 24);
	assert_memory_equal(out->b, in->b + 6, 6);
	assert_memory_equal(out->b + 6, in->b, 6);
	if (family == 4) {
		assert_int_equal(ip[0], 0x45);
		assert_int_equal((ip[2] << 8) | ip[3], 44);
		assert_int_equal(ip[9], IPPROTO_TCP);
		assert_memory_equal(ip + 12, iip + 16, 4);
		assert_memory_equal(ip + 16, iip + 12, 4);
		assert_int_equal(frame_csum(ip, 20), 0);
	} else {
		assert_int_equal(ip[0] >> 4, 6);
		assert_int_equal((ip[4] << 8) | ip[5], 24);
		assert_int_equal(ip[6], IPPROTO_TCP);
		assert_memory_equal(ip + 8, iip + 24, 16);
		assert_memory_equal(ip + 24, iip + 8, 16);
	}
	assert_memory_equal(th, ith + 2, 2); /* ports swapped */
	assert_memory_equal(th + 2, ith, 2);
	assert_int_equal(get32(th + 8), CLIENT_ISN + 1);
	assert_int_equal(th[12] >> 4, 6);
	assert_int_equal(th[13], 0x12); /* SYN|ACK */
	assert_int_equal(th[20], 2);	/* MSS option */
	assert_int_equal(th[21], 4);
	assert_int_equal((th[22] << 8) | th[23], want_mss);
	assert_int_equal(tcp_csum(ip, family, th, 24), 0);
	return get32(th + 4);
}

/* The client's ACK to a SYN-ACK carrying cookie. */
static void build_ack(struct frame *f, int family, uint32_t cookie)
{
	uint8_t *th;

	build(f, family, GUARDED_PORT, family == 4 ? V4_SRC : V6_SRC, 0x10, 0);
	th = f->b + 14 + (family == 4 ? 20 : 40);
	put32(th + 4, CLIENT_ISN + 1);
	put32(th + 8, cookie + 1);
}

/* ---- fixture: skeleton, private namespace, listeners -------------------- */

static int listen_on(int family)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int one = 1;
	int fd;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(GUARDED_PORT);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(GUARDED_PORT);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int group_setup(void **state)
{
	struct bpf_map *m;
	int err;

	(void)state;
	if (geteuid() != 0) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "not root: BPF_PROG_TEST_RUN and a private network "
			 "namespace need CAP_BPF/CAP_NET_ADMIN/CAP_SYS_ADMIN");
		return 0;
	}
	home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home_ns < 0 || unshare(CLONE_NEWNET) < 0) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "cannot make a private network namespace: %s",
			 strerror(errno));
		return 0;
	}
	listen4 = listen_on(AF_INET);
	listen6 = listen_on(AF_INET6);
	if (listen4 < 0 || listen6 < 0) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "cannot listen on port %d in the private namespace",
			 GUARDED_PORT);
		return -1;
	}
	skel = sluice_xdp__open();
	if (!skel) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "cannot open the BPF skeleton: %s", strerror(errno));
		return 0;
	}
	bpf_object__for_each_map(m, skel->obj) bpf_map__set_pin_path(m, NULL);
	err = sluice_xdp__load(skel);
	if (err) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "BPF program load failed (%s)", strerror(-err));
		sluice_xdp__destroy(skel);
		skel = NULL;
		if (err != -EPERM)
			return -1; /* a verifier rejection is a failure */
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sluice_xdp__destroy(skel);
	skel = NULL;
	if (listen4 >= 0)
		close(listen4);
	if (listen6 >= 0)
		close(listen6);
	if (home_ns >= 0) {
		setns(home_ns, CLONE_NEWNET);
		close(home_ns);
	}
	return 0;
}

static int cookie_setup(void **state)
{
	(void)state;
	if (!skel)
		return 0;
	put_port(GUARDED_PORT);
	put_port(CLOSED_PORT);
	put_deny4(V4_DENIED);
	reset_synflood();
	put_settings(SLUICE_SET_COOKIE_ON, 1);
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

/* Cookies on: the SYN is answered, the real ACK passes, forged ACKs are
 * dropped; per family. */
static void handshake(int family, uint16_t mss, uint16_t want_mss)
{
	struct frame syn, out, ack;
	uint32_t cookie;
	__u64 tx = count_of(SLUICE_R_TX_SYNCOOKIE);
	__u64 ok = count_of(SLUICE_R_PASS_SYNCOOKIE);
	__u64 bad = count_of(SLUICE_R_DROP_SYNCOOKIE);
	/* A cookie's low 24 bits minus a hash hold the MSS index (0..3), its
	 * top 8 bits the time: cookie + 1 may be another valid cookie (as
	 * in the kernel), these offsets never are. */
	static const uint32_t forged[] = {0x100, 0x01000000u, 0x80000000u,
					  0xffffff00u};

	build(&syn, family, GUARDED_PORT, family == 4 ? V4_SRC : V6_SRC, 0x02,
	      mss);
	assert_int_equal(run(&syn, &out), XDP_TX);
	assert_int_equal(count_of(SLUICE_R_TX_SYNCOOKIE), tx + 1);
	cookie = check_synack(&syn, &out, family, want_mss);

	build_ack(&ack, family, cookie);
	assert_int_equal(run(&ack, &out), XDP_PASS);
	assert_int_equal(count_of(SLUICE_R_PASS_SYNCOOKIE), ok + 1);

	/* hostile ACKs for the listener: other cookies, other ISN */
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		build_ack(&ack, family, cookie + forged[i]);
		assert_int_equal(run(&ack, &out), XDP_DROP);
	}
	build_ack(&ack, family, cookie);
	put32(ack.b + 14 + (family == 4 ? 20 : 40) + 4, CLIENT_ISN + 0x101);
	assert_int_equal(run(&ack, &out), XDP_DROP);
	assert_int_equal(count_of(SLUICE_R_DROP_SYNCOOKIE), bad + 5);
}

static void test_handshake_v4(void **state)
{
	(void)state;
	SKIP_IF_NO_BPF();
	handshake(4, 1460, 1460);
	handshake(4, 0, 536); /* no MSS option: the RFC default */
}

static void test_handshake_v6(void **state)
{
	(void)state;
	SKIP_IF_NO_BPF();
	handshake(6, 1440, 1440);
}

/* What cookies must leave alone: RSTs, ACKs to a port nobody listens on
 * (the stack answers them), denied sources (dropped by the rules first),
 * SYN-ACKs. */
static void test_other_segments(void **state)
{
	static const struct {
		const char *what;
		uint16_t port;
		const char *src;
		uint8_t flags;
		__u32 action;
	} cases[] = {
		{"RST to listener", GUARDED_PORT, V4_SRC, 0x04, XDP_PASS},
		{"RST|ACK to listener", GUARDED_PORT, V4_SRC, 0x14, XDP_PASS},
		{"ACK to closed port", CLOSED_PORT, V4_SRC, 0x10, XDP_PASS},
		{"SYN|ACK to listener", GUARDED_PORT, V4_SRC, 0x12, XDP_PASS},
		{"SYN from denied", GUARDED_PORT, V4_DENIED, 0x02, XDP_DROP},
		{"ACK from denied", GUARDED_PORT, V4_DENIED, 0x10, XDP_DROP},
	};
	struct frame f, out;

	(void)state;
	SKIP_IF_NO_BPF();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u64 tx = count_of(SLUICE_R_TX_SYNCOOKIE);

		build(&f, 4, cases[i].port, cases[i].src, cases[i].flags, 0);
		if (run(&f, &out) != cases[i].action)
			fail_msg("%s: action %u", cases[i].what, run(&f, &out));
		assert_int_equal(count_of(SLUICE_R_TX_SYNCOOKIE), tx);
	}
	/* the denied SYN was counted as such, not answered (the denied
	 * ACK is the listener's with a bad cookie: drop_syncookie) */
	assert_true(count_of(SLUICE_R_DROP_DENY) >= 1);
}

/* Cookies off: SYNs and ACKs take the ordinary path. */
static void test_off(void **state)
{
	struct frame f, out;

	(void)state;
	SKIP_IF_NO_BPF();
	put_settings(0, 1);
	build(&f, 4, GUARDED_PORT, V4_SRC, 0x02, 1460);
	assert_int_equal(run(&f, &out), XDP_PASS);
	build_ack(&f, 4, 12345);
	assert_int_equal(run(&f, &out), XDP_PASS);
}

/*
 * Auto: the first cookie_syn_window SYNs of a detector window reach the
 * stack, the ones after are answered; forged ACKs are dropped only then.
 * The window is ~1.07 s: a run that straddles two windows is retried.
 */
static void test_auto(void **state)
{
	enum { WINDOW = 3 };
	struct frame syn, out, ack;
	__u32 got[WINDOW + 2];

	(void)state;
	SKIP_IF_NO_BPF();
	put_settings(SLUICE_SET_COOKIE_AUTO, WINDOW);
	build(&syn, 4, GUARDED_PORT, V4_SRC, 0x02, 1460);
	build_ack(&ack, 4, 777);
	for (int attempt = 0; attempt < 3; attempt++) {
		__u64 w;

		reset_synflood();
		/* below the threshold a forged ACK is the stack's business */
		assert_int_equal(run(&ack, &out), XDP_PASS);
		assert_int_equal(run(&syn, &out), XDP_PASS);
		w = get_synflood().window;
		for (int i = 1; i < WINDOW + 2; i++)
			got[i] = run(&syn, &out);
		if (get_synflood().window != w)
			continue; /* straddled a window boundary */
		for (int i = 1; i < WINDOW; i++)
			assert_int_equal(got[i], XDP_PASS);
		assert_int_equal(got[WINDOW], XDP_TX);
		assert_int_equal(got[WINDOW + 1], XDP_TX);
		assert_true(get_synflood().active_until_ns > 0);
		assert_int_equal(run(&ack, &out), XDP_DROP);
		return;
	}
	fail_msg("three runs straddled a detector window");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_handshake_v4, cookie_setup),
		cmocka_unit_test_setup(test_handshake_v6, cookie_setup),
		cmocka_unit_test_setup(test_other_segments, cookie_setup),
		cmocka_unit_test_setup(test_off, cookie_setup),
		cmocka_unit_test_setup(test_auto, cookie_setup),
	};

	alarm(60); /* a hang is a failure with a name: SIGALRM */
	log_set_level(LOG_LVL_WARN);
	xdpctl_init_logging();
	return cmocka_run_group_tests_name("xdp_syncookies", tests, group_setup,
					   group_teardown)
		       ? 1
		       : 0;
}
