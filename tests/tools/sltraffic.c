// SPDX-License-Identifier: MIT
/*
 * sltraffic: raw TCP frame sender and per-source receiver for the XDP
 * integration tests (rate accuracy, gapless reload, persist). Sends only on
 * the interface it is given, which the tests create inside their own
 * network namespaces; every run is bounded in time and in count.
 *
 *   sltraffic send --dev IF --src IP --dst IP --dport N [--dst-mac MAC]
 *                  [--syn] [--pps N] [--seconds S] [--count N]
 *                  [--threads N] [--rotate-v6 N]
 *     Frames carry the TCP sequence number i (per thread, from 1) and the
 *     thread number in the source port (40000 + t). --pps paces each
 *     thread. --rotate-v6 N cycles the low 64 bits of an IPv6 source over
 *     N values. Thread t runs on CPU t % ncpu, and with
 *     PACKET_QDISC_BYPASS uses TX queue t % nqueues, so the frames reach a
 *     multi-queue veth peer on several RX queues and CPUs.
 *     Prints {"sent":N,"seconds":S,"threads":[...]}.
 *
 *   sltraffic recv --dev IF --dport N --seconds S [--ready FILE]
 *     Counts TCP frames to dport per source address and thread (after XDP:
 *     an AF_PACKET tap sees what XDP passed). Prints
 *     {"sources":{"ADDR":{"received":N,"gaps":N,"first":T,"last":T}},
 *      "socket_drops":N} with T in CLOCK_MONOTONIC seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 8
#define MAX_SOURCES 4096
#define MAX_SECONDS 120
#define MAX_COUNT 100000000ull

static struct {
	const char *dev, *src, *dst, *dst_mac, *ready;
	int dport, threads, rotate, syn;
	double pps, seconds;
	unsigned long long count;
} opt = {.threads = 1, .seconds = 1};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "sltraffic: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

struct sender {
	int id, fd, cpu;
	uint8_t frame[128];
	size_t len, tcp_off, ip_off;
	bool v6;
	unsigned long long sent;
	pthread_t th;
};

static double t_end;

/* Set seq, rotate the v6 source if asked, fix the TCP checksum. */
static void finish_frame(struct sender *s, uint32_t seq)
{
	uint8_t *tcp = s->frame + s->tcp_off, *ip = s->frame + s->ip_off;
	uint32_t sum = 0;
	size_t tlen = s->len - s->tcp_off;

	tcp[4] = (uint8_t)(seq >> 24);
	tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8);
	tcp[7] = (uint8_t)seq;
	tcp[16] = tcp[17] = 0;
	if (s->v6) {
		if (opt.rotate) {
			uint32_t r = seq % (uint32_t)opt.rotate + 1;

			ip[8 + 12] = (uint8_t)(r >> 24);
			ip[8 + 13] = (uint8_t)(r >> 16);
			ip[8 + 14] = (uint8_t)(r >> 8);
			ip[8 + 15] = (uint8_t)r;
		}
		sum = csum_add(sum, ip + 8, 32);
		sum += (uint32_t)tlen + IPPROTO_TCP;
	} else {
		sum = csum_add(sum, ip + 12, 8);
		sum += (uint32_t)tlen + IPPROTO_TCP;
	}
	sum = csum_add(sum, tcp, tlen);
	{
		uint16_t c = csum_fold(sum);

		tcp[16] = (uint8_t)(c >> 8);
		tcp[17] = (uint8_t)c;
	}
}

static void build(struct sender *s, const uint8_t dmac[6],
		  const uint8_t smac[6])
{
	uint8_t *p = s->frame, *ip, *tcp;
	uint8_t a[16];

	memset(s->frame, 0, sizeof(s->frame));
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	s->v6 = strchr(opt.src, ':') != NULL;
	p[12] = s->v6 ? 0x86 : 0x08;
	p[13] = s->v6 ? 0xdd : 0x00;
	ip = p + 14;
	s->ip_off = 14;
	if (s->v6) {
		ip[0] = 0x60;
		ip[4] = 0;
		ip[5] = 20;
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		if (inet_pton(AF_INET6, opt.src, ip + 8) != 1 ||
		    inet_pton(AF_INET6, opt.dst, ip + 24) != 1)
			die("bad IPv6 address %s", opt.src);
		tcp = ip + 40;
	} else {
		ip[0] = 0x45;
		ip[3] = 40;
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		if (inet_pton(AF_INET, opt.src, a) != 1)
			die("bad IPv4 address %s", opt.src);
		memcpy(ip + 12, a, 4);
		if (inet_pton(AF_INET, opt.dst, ip + 16) != 1)
			die("bad IPv4 address %s", opt.dst);
		{
			uint16_t c = csum_fold(csum_add(0, ip, 20));

			ip[10] = (uint8_t)(c >> 8);
			ip[11] = (uint8_t)c;
		}
		tcp = ip + 20;
	}
	s->tcp_off = (size_t)(tcp - s->frame);
	tcp[0] = (uint8_t)((40000 + s->id) >> 8);
	tcp[1] = (uint8_t)(40000 + s->id);
	tcp[2] = (uint8_t)(opt.dport >> 8);
	tcp[3] = (uint8_t)opt.dport;
	tcp[12] = 5 << 4;
	tcp[13] = opt.syn ? 0x02 : 0x10;
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	s->len = s->tcp_off + 20;
	if (s->len < 60)
		s->len = 60; /* Ethernet minimum (padding after IP) */
}

static void *send_thread(void *arg)
{
	struct sender *s = arg;
	unsigned long long limit = opt.count ? opt.count : MAX_COUNT;
	double start = now_s(), next = start;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (s->sent < limit) {
		double t = now_s();

		if (t >= t_end)
			break;
		if (opt.pps > 0 && t < next) {
			struct timespec ts = {0, (long)((next - t) * 1e9)};

			nanosleep(&ts, NULL);
			continue;
		}
		finish_frame(s, (uint32_t)(s->sent + 1));
		if (send(s->fd, s->frame, s->len, 0) < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				sched_yield();
				continue;
			}
			perror("sltraffic: send");
			break;
		}
		s->sent++;
		if (opt.pps > 0)
			next = start + (double)s->sent / opt.pps;
	}
	return NULL;
}

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

static int raw_socket(int ifindex, int proto)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons((uint16_t)proto),
				  .sll_ifindex = ifindex};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC,
			htons((uint16_t)proto));

	if (fd < 0) {
		perror("sltraffic: socket(AF_PACKET)");
		exit(2);
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("sltraffic: bind");
		exit(2);
	}
	return fd;
}

static int do_send(void)
{
	static const uint8_t smac[6] = {0x02, 0x5c, 0, 0, 0, 0x02};
	uint8_t dmac[6] = {0x02, 0x5c, 0, 0, 0, 0x33}; /* not the host's */
	struct sender s[MAX_THREADS];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long long total = 0;
	int ifindex, one = 1;
	double t0;

	if (!opt.dev || !opt.src || !opt.dst || !opt.dport)
		die("send needs --dev, --src, --dst and --dport%s", "");
	if (opt.dst_mac && parse_mac(opt.dst_mac, dmac))
		die("bad MAC %s", opt.dst_mac);
	ifindex = (int)if_nametoindex(opt.dev);
	if (!ifindex)
		die("no interface %s", opt.dev);
	if (ncpu < 1)
		ncpu = 1;
	t0 = now_s();
	t_end = t0 + opt.seconds;
	for (int i = 0; i < opt.threads; i++) {
		s[i].id = i;
		s[i].cpu = (int)(i % ncpu);
		s[i].sent = 0;
		s[i].fd = raw_socket(ifindex, 0);
		setsockopt(s[i].fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			   sizeof(one));
		build(&s[i], dmac, smac);
	}
	for (int i = 0; i < opt.threads; i++)
		pthread_create(&s[i].th, NULL, send_thread, &s[i]);
	for (int i = 0; i < opt.threads; i++) {
		pthread_join(s[i].th, NULL);
		total += s[i].sent;
	}
	printf("{\"sent\":%llu,\"seconds\":%.3f,\"threads\":[", total,
	       now_s() - t0);
	for (int i = 0; i < opt.threads; i++) {
		printf("%s{\"cpu\":%d,\"sent\":%llu}", i ? "," : "", s[i].cpu,
		       s[i].sent);
		close(s[i].fd);
	}
	printf("]}\n");
	return 0;
}

struct src_stat {
	uint8_t family;
	uint8_t addr[16];
	unsigned long long received, gaps;
	uint32_t last_seq[MAX_THREADS];
	double first, last;
};

static struct src_stat srcs[MAX_SOURCES];
static int n_srcs;

static struct src_stat *src_of(uint8_t family, const uint8_t *addr)
{
	for (int i = 0; i < n_srcs; i++)
		if (srcs[i].family == family && !memcmp(srcs[i].addr, addr, 16))
			return &srcs[i];
	if (n_srcs == MAX_SOURCES)
		return NULL;
	srcs[n_srcs].family = family;
	memcpy(srcs[n_srcs].addr, addr, 16);
	return &srcs[n_srcs++];
}

static void account(const uint8_t *b, size_t n, double t)
{
	uint8_t addr[16] = {0}, family;
	const uint8_t *tcp;
	struct src_stat *st;
	unsigned int thread;
	uint32_t seq;

	if (n < 14 + 20)
		return;
	if (b[12] == 0x08 && b[13] == 0x00) {
		if (b[14 + 9] != IPPROTO_TCP || n < 14 + 40)
			return;
		family = AF_INET;
		memcpy(addr, b + 14 + 12, 4);
		tcp = b + 14 + (b[14] & 15) * 4;
	} else if (b[12] == 0x86 && b[13] == 0xdd) {
		if (n < 14 + 60 || b[14 + 6] != IPPROTO_TCP)
			return;
		family = AF_INET6;
		memcpy(addr, b + 14 + 8, 16);
		tcp = b + 14 + 40;
	} else {
		return;
	}
	if (tcp + 20 > b + n || (tcp[2] << 8 | tcp[3]) != opt.dport)
		return;
	thread = (unsigned int)(tcp[0] << 8 | tcp[1]) - 40000;
	seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 |
	      (uint32_t)tcp[6] << 8 | tcp[7];
	st = src_of(family, addr);
	if (!st)
		return;
	if (!st->received)
		st->first = t;
	st->last = t;
	st->received++;
	if (thread < MAX_THREADS) {
		if (seq > st->last_seq[thread] + 1)
			st->gaps += seq - st->last_seq[thread] - 1;
		if (seq > st->last_seq[thread])
			st->last_seq[thread] = seq;
	}
}

static int do_recv(void)
{
	struct tpacket_stats ps;
	socklen_t plen = sizeof(ps);
	int rcvbuf = 8 << 20, ifindex, fd;
	uint8_t buf[2048];
	double end;

	if (!opt.dev || !opt.dport)
		die("recv needs --dev and --dport%s", "");
	ifindex = (int)if_nametoindex(opt.dev);
	if (!ifindex)
		die("no interface %s", opt.dev);
	fd = raw_socket(ifindex, ETH_P_ALL);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &ps, &plen); /* reset */
	if (opt.ready) {
		FILE *f = fopen(opt.ready, "w");

		if (f)
			fclose(f);
	}
	end = now_s() + opt.seconds;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		double t = now_s();
		ssize_t n;

		if (t >= end)
			break;
		if (poll(&pfd, 1, (int)((end - t) * 1000) + 1) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		account(buf, (size_t)n, now_s());
	}
	plen = sizeof(ps);
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &ps, &plen);
	close(fd);
	printf("{\"sources\":{");
	for (int i = 0; i < n_srcs; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(srcs[i].family, srcs[i].addr, a, sizeof(a));
		printf("%s\"%s\":{\"received\":%llu,\"gaps\":%llu,"
		       "\"first\":%.6f,\"last\":%.6f}",
		       i ? "," : "", a, srcs[i].received, srcs[i].gaps,
		       srcs[i].first, srcs[i].last);
	}
	printf("},\"socket_drops\":%u}\n", ps.tp_drops);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"dev", required_argument, NULL, 'd'},
		{"src", required_argument, NULL, 's'},
		{"dst", required_argument, NULL, 't'},
		{"dst-mac", required_argument, NULL, 'm'},
		{"dport", required_argument, NULL, 'p'},
		{"syn", no_argument, NULL, 'y'},
		{"pps", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 'S'},
		{"count", required_argument, NULL, 'c'},
		{"threads", required_argument, NULL, 'T'},
		{"rotate-v6", required_argument, NULL, 'R'},
		{"ready", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	int c;

	if (argc < 2 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		fprintf(stderr, "usage: sltraffic send|recv [options]\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': opt.dev = optarg; break;
		case 's': opt.src = optarg; break;
		case 't': opt.dst = optarg; break;
		case 'm': opt.dst_mac = optarg; break;
		case 'p': opt.dport = atoi(optarg); break;
		case 'y': opt.syn = 1; break;
		case 'r': opt.pps = atof(optarg); break;
		case 'S': opt.seconds = atof(optarg); break;
		case 'c': opt.count = strtoull(optarg, NULL, 10); break;
		case 'T': opt.threads = atoi(optarg); break;
		case 'R': opt.rotate = atoi(optarg); break;
		case 'f': opt.ready = optarg; break;
		default: return 2;
		}
	}
	if (opt.seconds <= 0 || opt.seconds > MAX_SECONDS)
		die("--seconds must be in (0, %s]", "120");
	if (opt.threads < 1 || opt.threads > MAX_THREADS)
		die("--threads must be 1..%s", "8");
	if (opt.dport < 1 || opt.dport > 65535)
		die("--dport must be 1..65535%s", "");
	return strcmp(argv[1], "send") ? do_recv() : do_send();
}
