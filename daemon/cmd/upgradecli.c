// SPDX-License-Identifier: MIT
/* sluicectl upgrade. See upgradecli.h. */
#include "cmd/upgradecli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/ctlclient.h"

#define UPGRADE_WAIT_MS	120000	/* new one ready, old one drained */
#define UPGRADE_POLL_MS	100

static long status_pid(const char *sock, char *cfg, size_t cfglen)
{
	struct ctlclient_reply r;
	const char *p;
	long pid = -1;

	if (ctlclient_request(sock, "GET", "/status", NULL, &r))
		return -1;
	if (r.status == 200) {
		p = strstr(r.body, "\"pid\":");
		if (p)
			pid = strtol(p + 6, NULL, 10);
		if (cfg && !ctlclient_json_str(r.body, "path", cfg, cfglen))
			pid = -1;
	}
	ctlclient_reply_free(&r);
	return pid;
}

/* Gone, or a zombie its parent has not reaped yet. */
static int pid_gone(long pid)
{
	char path[64], buf[512];
	FILE *f;
	int gone = 1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (fgets(buf, sizeof(buf), f)) {
		const char *p = strrchr(buf, ')');

		gone = p && (p[2] == 'Z' || p[2] == 'X');
	}
	fclose(f);
	return gone;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int run_check(const char *bin, const char *cfg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(2, 1);	/* its verdict is for the operator, not --json */
		execl(bin, bin, "-c", cfg, "--check", (char *)NULL);
		fprintf(stderr, "sluicectl: cannot run %s: %s\n", bin,
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EINVAL;
}

static pid_t spawn(const char *bin, const char *cfg, const char *sock,
		   const char *output)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	setsid();
	{
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (in >= 0)
			dup2(in, 0);
	}
	if (output) {
		int fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0640);

		if (fd < 0) {
			fprintf(stderr, "sluicectl: %s: %s\n", output,
				strerror(errno));
			_exit(127);
		}
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execl(bin, bin, "-c", cfg, "--takeover", sock, (char *)NULL);
	fprintf(stderr, "sluicectl: cannot run %s: %s\n", bin, strerror(errno));
	_exit(127);
}

int upgradecli_run(const char *sock, const char *binary, const char *output,
		   int json)
{
	char cfg[PATH_MAX], exe[PATH_MAX + 16];
	long old, now;
	pid_t child;
	int st, waited;

	old = status_pid(sock, cfg, sizeof(cfg));
	if (old <= 0) {
		fprintf(stderr, "sluicectl: no sluiced answers on %s\n", sock);
		return 2;
	}
	if (!binary) {
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%ld/exe", old);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n <= 0) {
			fprintf(stderr, "sluicectl: %s: %s (give --binary)\n",
				link, strerror(errno));
			return 3;
		}
		exe[n] = '\0';
		/* replaced on disk since it started: run the new file */
		if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
			exe[n - 10] = '\0';
		binary = exe;
	}
	if (run_check(binary, cfg)) {
		fprintf(stderr, "sluicectl: upgrade refused: %s -c %s --check "
			"failed (see above); pid %ld keeps serving\n", binary,
			cfg, old);
		return 3;
	}
	child = spawn(binary, cfg, sock, output);
	if (child < 0) {
		fprintf(stderr, "sluicectl: fork: %s\n", strerror(errno));
		return 3;
	}
	for (waited = 0; waited < UPGRADE_WAIT_MS; waited += UPGRADE_POLL_MS) {
		if (waitpid(child, &st, WNOHANG) == child) {
			fprintf(stderr, "sluicectl: upgrade failed: the new "
				"sluiced exited with status %d; pid %ld keeps "
				"serving\n", WIFEXITED(st) ? WEXITSTATUS(st) :
				128 + WTERMSIG(st), old);
			return 3;
		}
		now = status_pid(sock, NULL, 0);
		if (now == (long)child && pid_gone(old)) {
			if (json)
				printf("{\"old_pid\":%ld,\"pid\":%ld}\n", old,
				       now);
			else
				printf("upgraded: pid %ld -> %ld\n", old, now);
			return 0;
		}
		sleep_ms(UPGRADE_POLL_MS);
	}
	fprintf(stderr, "sluicectl: upgrade: pid %ld did not exit within "
		"%d s (pid %d is serving)\n", old, UPGRADE_WAIT_MS / 1000,
		(int)child);
	return 3;
}
