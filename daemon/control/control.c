// SPDX-License-Identifier: MIT
/* Control thread: startup, reload, shutdown. See control.h. */
#include "control/control.h"
#include "control/buildinfo.h"

#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/admin.h"
#include "config/config.h"
#include "policy/policy.h"
#include "lib/log.h"
#include "io/loop.h"
#include "control/privdrop.h"
#include "control/sdnotify.h"
#include "obs/obs.h"
#include "proxy/worker.h"
#include "xdp/xdpctl.h"
#include "proxy/gate.h"

/*
 * gate_ban_fn (L7 escalation): put the address (an IPv6 one as its prefix)
 * into the XDP ban map with xdpctl_ban(), which keeps a longer ban already
 * there. Called from worker threads; ctl->xdp outlives the workers.
 */
static int ban_sink(void *ctx, const struct sockaddr *sa,
		    unsigned int prefixlen, uint32_t seconds)
{
	struct control *ctl = ctx;
	struct allowlist_entry e = { 0 };
	int err;

	if (!ctl->xdp)
		return -EOPNOTSUPP;
	e.family = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET) {
		e.prefixlen = (uint8_t)(prefixlen < 32 ? prefixlen : 32);
		memcpy(e.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else {
		e.prefixlen = (uint8_t)(prefixlen < 128 ? prefixlen : 128);
		memcpy(e.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
	err = xdpctl_ban(ctl->xdp, &e, (uint64_t)seconds * 1000000000ull);
	if (!err)
		obs_ban(OBS_BAN_SLUICED);
	return err;
}

/* obs_escalation_fn: the gate's escalation counters, read at each scrape. */
static void escalation_counts(struct obs_escalation_counts *out)
{
	struct gate_stats s;

	gate_get_stats(&s);
	out->bans_xdp = s.bans;
	out->bans_l7 = s.bans_l7;
	out->banned = s.banned;
}

_Static_assert(sizeof(((struct control *)0)->siginfo) ==
	       sizeof(struct signalfd_siginfo), "siginfo size");

enum control_op {
	CTL_OP_SIGNAL = 1,
};

int control_block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);	/* reopen the access log */
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	return 0;
}

/* TCP_DEFER_ACCEPT's wait for a silent client's first bytes, seconds
 * (the kernel rounds it to one SYN-ACK retransmission, about 1 s) */
#define LISTEN_DEFER_S	1

static int listen_on(const struct config_listener *l)
{
	int fd, one = 1, ret;

	fd = socket(l->addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	/* accepted sockets inherit it: no setsockopt per connection */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* HTTP clients speak first: the kernel queues a connection for
	 * accept once its first bytes came (one wake-up for the accept and
	 * the request instead of two), or, for a silent client, after
	 * LISTEN_DEFER_S (then the header timeout applies) */
	if (l->defer_accept) {
		int secs = LISTEN_DEFER_S;

		if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
			       sizeof(secs)))
			pr_warn("listener %s: TCP_DEFER_ACCEPT: %s", l->name,
				strerror(errno));
	}
	if (l->addr.sa.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->addr.sa, l->addr.salen))
		goto fail;
	if (listen(fd, SOMAXCONN))
		goto fail;
	return fd;
fail:
	ret = -errno;
	pr_err("listener %s (%s): %s", l->name, l->addr.text, strerror(-ret));
	if (fd >= 0)
		close(fd);
	return ret;
}

static unsigned int worker_count(const struct config *cfg)
{
	long n;

	if (cfg->workers)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned int)n : 1;
}

static const char *mode_name(enum config_xdp_mode m)
{
	switch (m) {
	case CFG_XDP_NATIVE: return "native";
	case CFG_XDP_GENERIC: return "generic";
	default: return "auto";
	}
}

/* Bind every worker's listeners and set its ring up; no thread yet. */
static int init_workers(struct control *ctl)
{
	const struct config *cfg = ctl->cfg;
	unsigned int n = worker_count(cfg);
	int *fds, ret = 0;

	ctl->workers = calloc(n, sizeof(*ctl->workers));
	fds = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*fds));
	if (!ctl->workers || !fds) {
		free(fds);
		return -ENOMEM;
	}
	for (unsigned int w = 0; w < n; w++) {
		size_t i;

		for (i = 0; i < cfg->n_listeners; i++) {
			ret = listen_on(&cfg->listeners[i]);
			if (ret < 0)
				break;
			fds[i] = ret;
			ret = 0;
		}
		if (ret) {
			while (i-- > 0)
				close(fds[i]);
			break;
		}
		ctl->n_workers++;
		ret = worker_init(&ctl->workers[w], w, fds, cfg->n_listeners,
				  config_get(ctl->cfg));
		if (ret)
			break;
	}
	free(fds);
	return ret;
}

static int start_workers(struct control *ctl)
{
	int ret;

	for (unsigned int w = 0; w < ctl->n_workers; w++) {
		ret = worker_start(&ctl->workers[w]);
		if (ret) {
			pr_err("worker %u: thread: %s", w, strerror(-ret));
			return ret;
		}
		ctl->n_started++;
	}
	return 0;
}

/* The admin server: Unix socket (full API) + read-only TCP listener, bound
 * here; its thread starts with admin_serve(). */
static int open_admin(struct control *ctl)
{
	const struct config *cfg = ctl->cfg;
	struct admin_opts o = {
		.unix_path = cfg->admin_socket,
		.unix_mode = 0600,
		.tcp = (const struct sockaddr *)&cfg->admin.sa,
		.tcp_len = cfg->admin.salen,
	};
	int ret;

	if (ctl->admin) {
		ret = ctl->admin->open(ctl);
		if (ret) {
			pr_err("admin: registering endpoints: %s",
			       strerror(-ret));
			return ret;
		}
	}
	ret = admin_listen(&o);
	if (ret)
		return ret;
	ctl->admin_started = true;
	return 0;
}

/*
 * Switch to cfg->user, keeping CAP_NET_ADMIN (to detach XDP at shutdown).
 * Called while the process has its one thread: the workers, the admin
 * server and the access-log writer start afterwards and inherit the same
 * credentials, bounding set and no_new_privs (they are per thread). The pin
 * directory is handed to the user so that the pins can be removed at exit
 * (xdpctl reaches them through a descriptor opened now, as the user may not
 * search a 0700 bpffs root); the empty directory stays when its parent is
 * not the user's to write.
 */
static int drop_privileges(struct control *ctl)
{
	static const int keep[] = { CAP_NET_ADMIN };
	const struct config *cfg = ctl->cfg;
	uid_t uid;
	gid_t gid;
	int ret;

	ret = priv_lookup(cfg->user, &uid, &gid);
	if (ret) {
		pr_err("user '%s': %s", cfg->user,
		       ret == -ENOENT ? "no such user" : strerror(-ret));
		return ret;
	}
	if (ctl->xdp && chown(cfg->xdp.pin_path, uid, gid))
		pr_warn("chown %s: %s (pins will stay after exit)",
			cfg->xdp.pin_path, strerror(errno));
	ret = priv_drop(uid, gid, keep, sizeof(keep) / sizeof(keep[0]));
	if (ret) {
		pr_err("dropping privileges to '%s': %s", cfg->user,
		       strerror(-ret));
		return ret;
	}
	pr_info("running as user %s (uid %u, gid %u), capabilities kept: net_admin",
		cfg->user, (unsigned int)uid, (unsigned int)gid);
	return 0;
}

int control_start(struct control *ctl, const char *path, struct config *cfg,
		  bool log_level_fixed, const struct control_admin *admin)
{
	sigset_t set;
	int ret;

	memset(ctl, 0, sizeof(*ctl));
	pthread_mutex_init(&ctl->lock, NULL);
	ctl->loaded_at = time(NULL);
	ctl->sfd = -1;
	ctl->cfg = cfg;
	ctl->generation = 1;
	cfg->generation = 1;
	ctl->log_level_fixed = log_level_fixed;
	ctl->admin = admin;
	ctl->path = strdup(path);
	if (!ctl->path)
		return -ENOMEM;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	ctl->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (ctl->sfd < 0) {
		ret = -errno;
		pr_err("signalfd: %s", strerror(-ret));
		return ret;
	}
	ctl->loop = loop_new(8, 0, 0);
	if (!ctl->loop) {
		ret = -errno;
		pr_err("io_uring setup: %s", strerror(-ret));
		return ret;
	}

	if (cfg->xdp.enabled) {
		xdpctl_init_logging();
		ret = xdpctl_ensure_bpffs();
		if (ret) {
			pr_err("bpffs at /sys/fs/bpf: %s", strerror(-ret));
			return ret;
		}
		ctl->xdp = xdpctl_open(cfg);
		if (!ctl->xdp) {
			ret = -errno;	/* set on every failure */
			pr_err("xdp setup failed: %s", strerror(-ret));
			return ret;
		}
		gate_set_ban_sink(ban_sink, ctl);
	}

	{
		char err[256];

		ret = obs_init(cfg, worker_count(cfg), err, sizeof(err));
		if (ret) {
			pr_err("%s", err);
			return ret;
		}
		obs_set_xdp(ctl->xdp);
		obs_set_escalation_source(escalation_counts);
	}
	/* everything that needs privileges, then the drop, then the threads */
	ret = init_workers(ctl);
	if (ret)
		return ret;
	if (cfg->admin_enabled) {
		ret = open_admin(ctl);
		if (ret)
			return ret;
	}
	if (cfg->user[0]) {
		ret = drop_privileges(ctl);
		if (ret)
			return ret;
	}
	ret = obs_start();
	if (ret) {
		pr_err("access log: thread: %s", strerror(-ret));
		return ret;
	}
	ret = start_workers(ctl);
	if (ret)
		return ret;
	if (ctl->admin_started) {
		ret = admin_serve();
		if (ret)
			return ret;
	}

	buildinfo_log_kernel(ctl->xdp);
	if (ctl->xdp) {
		char ifs[256] = "";
		size_t off = 0;

		for (size_t i = 0; i < cfg->xdp.n_interfaces && off < sizeof(ifs); i++)
			off += (size_t)snprintf(ifs + off, sizeof(ifs) - off,
						"%s%s", i ? "," : "",
						cfg->xdp.interfaces[i]);
		pr_info("sluiced ready: %zu listener(s), %u worker(s), xdp on %s (%s)",
			cfg->n_listeners, ctl->n_workers, ifs,
			mode_name(cfg->xdp.mode));
	} else {
		pr_info("sluiced ready: %zu listener(s), %u worker(s), xdp disabled",
			cfg->n_listeners, ctl->n_workers);
	}
	for (size_t i = 0; i < cfg->n_listeners; i++)
		pr_info("listening on %s (%s)", cfg->listeners[i].addr.text,
			cfg->listeners[i].name);
	ret = sdnotifyf("READY=1\nSTATUS=serving, configuration generation 1\nMAINPID=%d",
			(int)getpid());
	if (ret)
		pr_warn("sd_notify: %s", strerror(-ret));
	return 0;
}

static bool addr_eq(const struct config_addr *a, const struct config_addr *b)
{
	return a->salen == b->salen && !memcmp(&a->sa, &b->sa, a->salen);
}

static bool strv_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* Settings a reload cannot change in a running process. */
static void warn_restart_needed(const struct config *old,
				const struct config *new)
{
	bool same = old->n_listeners == new->n_listeners;

	for (size_t i = 0; same && i < old->n_listeners; i++)
		same = addr_eq(&old->listeners[i].addr,
			       &new->listeners[i].addr);
	if (!same)
		pr_warn("reload: listeners changed; restart sluiced to apply");
	if (old->workers != new->workers)
		pr_warn("reload: workers changed; restart sluiced to apply");
	if (old->http.max_connections != new->http.max_connections ||
	    old->http.receive_buffers != new->http.receive_buffers ||
	    old->http.upstream_buffers != new->http.upstream_buffers)
		pr_warn("reload: http.max_connections, receive_buffers or "
			"upstream_buffers changed; restart sluiced to apply");
	if (old->xdp.enabled != new->xdp.enabled)
		pr_warn("reload: xdp.enabled changed; restart sluiced to apply");
	if (old->xdp.enabled && new->xdp.enabled &&
	    (!strv_eq(old->xdp.interfaces, old->xdp.n_interfaces,
		      new->xdp.interfaces, new->xdp.n_interfaces) ||
	     old->xdp.mode != new->xdp.mode ||
	     strcmp(old->xdp.pin_path, new->xdp.pin_path)))
		pr_warn("reload: xdp interfaces, mode or pin_path changed; "
			"restart sluiced to apply");
	if (old->xdp.enabled && new->xdp.enabled &&
	    (old->xdp.persist != new->xdp.persist ||
	     old->xdp.rate_table_size != new->xdp.rate_table_size))
		pr_warn("reload: xdp.persist or xdp.rate_limit.table_size "
			"changed; restart sluiced to apply");
}

static void log_errors(const char *errors)
{
	const char *p = errors;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (len > 0)
			pr_err("reload: %.*s", len, p);
		p = nl ? nl + 1 : NULL;
	}
}

/* Called with ctl->lock held. *errors: error lines on failure. */
static int reload_locked(struct control *ctl, char **errors)
{
	struct config *ncfg = NULL;
	enum log_level lvl;
	int ret;

	pr_info("reload: reading %s", ctl->path);
	ret = policy_load_file(ctl->path, &ncfg, errors);
	if (ret) {
		pr_err("reload: %s: invalid configuration, keeping the running one",
		       ctl->path);
		if (*errors)
			log_errors(*errors);
		else
			pr_err("reload: %s", strerror(-ret));
		if (!*errors && asprintf(errors, "%s: %s\n", ctl->path,
					 strerror(-ret)) < 0)
			*errors = NULL;
		ctl->reload_failures++;
		obs_config_applied(NULL, false);
		return ret;
	}
	free(*errors);
	*errors = NULL;
	warn_restart_needed(ctl->cfg, ncfg);
	if (ctl->xdp && ncfg->xdp.enabled) {
		ret = xdpctl_sync(ctl->xdp, ncfg);
		if (ret) {
			pr_err("reload: xdp map sync failed: %s; keeping the running configuration",
			       strerror(-ret));
			/* put the maps back as the running config has them */
			if (xdpctl_sync(ctl->xdp, ctl->cfg))
				pr_err("reload: xdp maps could not be restored");
			config_put(ncfg);
			ctl->reload_failures++;
			if (asprintf(errors, "xdp map sync failed: %s\n",
				     strerror(-ret)) < 0)
				*errors = NULL;
			obs_config_applied(NULL, false);
			return ret;
		}
	}
	if (!ctl->log_level_fixed && log_level_parse(ncfg->log_level, &lvl) == 0)
		log_set_level(lvl);
	ncfg->generation = ++ctl->generation;
	/* unchanged L7 limits keep their clients' counts */
	policy_adopt(ncfg, ctl->cfg);
	for (unsigned int i = 0; i < ctl->n_started; i++)
		worker_set_config(&ctl->workers[i], config_get(ncfg));
	config_put(ctl->cfg);
	ctl->cfg = ncfg;
	ctl->reloads++;
	ctl->loaded_at = time(NULL);
	obs_config_applied(ncfg, true);
	pr_info("reload: configuration applied (generation %llu)",
		(unsigned long long)ncfg->generation);
	return 0;
}

int control_reload_ex(struct control *ctl, const char *origin, char **errors)
{
	char *errs = NULL;
	int ret;

	sdnotify("RELOADING=1\nSTATUS=reloading");
	pthread_mutex_lock(&ctl->lock);
	ret = reload_locked(ctl, &errs);
	ctl->last_reload_at = time(NULL);
	ctl->last_reload_ok = ret == 0;
	snprintf(ctl->last_reload_origin, sizeof(ctl->last_reload_origin),
		 "%s", origin);
	free(ctl->last_reload_errors);
	ctl->last_reload_errors = errs ? strdup(errs) : NULL;
	sdnotifyf("READY=1\nSTATUS=serving, configuration generation %llu%s",
		  (unsigned long long)ctl->generation,
		  ret ? " (last reload refused)" : "");
	pthread_mutex_unlock(&ctl->lock);
	if (errors)
		*errors = errs;
	else
		free(errs);
	return ret;
}

int control_reload(struct control *ctl)
{
	return control_reload_ex(ctl, "SIGHUP", NULL);
}

struct config *control_config(struct control *ctl, struct control_stats *st)
{
	struct config *c;

	pthread_mutex_lock(&ctl->lock);
	c = config_get(ctl->cfg);
	if (st) {
		st->reloads = ctl->reloads;
		st->reload_failures = ctl->reload_failures;
		st->workers = ctl->n_started;
		st->loaded_at = ctl->loaded_at;
		st->last_reload_at = ctl->last_reload_at;
		st->last_reload_ok = ctl->last_reload_ok;
		memcpy(st->last_reload_origin, ctl->last_reload_origin,
		       sizeof(st->last_reload_origin));
		st->last_reload_errors = ctl->last_reload_errors ?
						 strdup(ctl->last_reload_errors) : NULL;
	}
	pthread_mutex_unlock(&ctl->lock);
	return c;
}

void control_stats_free(struct control_stats *st)
{
	free(st->last_reload_errors);
	st->last_reload_errors = NULL;
}

static int arm_signal(struct control *ctl)
{
	return loop_read(ctl->loop, ctl->sfd, ctl->siginfo,
			 sizeof(ctl->siginfo), loop_ud(CTL_OP_SIGNAL, 0, 0));
}

struct signal_state {
	struct control *ctl;
	bool stop;
	int err;
};

static void on_signal(void *arg, const struct loop_cqe *cqe)
{
	struct signal_state *st = arg;
	struct control *ctl = st->ctl;
	const struct signalfd_siginfo *si = (const void *)ctl->siginfo;
	int ret;

	if (loop_ud_op(cqe->ud) != CTL_OP_SIGNAL)
		return;
	if (cqe->res == (int)sizeof(*si)) {
		switch (si->ssi_signo) {
		case SIGHUP:
			control_reload(ctl);
			break;
		case SIGUSR1:
			obs_reopen_logs();
			break;
		case SIGTERM:
		case SIGINT:
			pr_info("%s: shutting down", strsignal((int)si->ssi_signo));
			sdnotify("STOPPING=1\nSTATUS=draining");
			st->stop = true;
			return;
		default:
			break;
		}
	} else if (cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN) {
		pr_err("signalfd read: %s", strerror(-cqe->res));
		st->err = cqe->res;
		st->stop = true;
		return;
	}
	ret = arm_signal(ctl);
	if (ret) {
		st->err = ret;
		st->stop = true;
	}
}

int control_run(struct control *ctl)
{
	struct signal_state st = { .ctl = ctl };
	int ret;

	ret = arm_signal(ctl);
	if (ret)
		return ret;
	while (!st.stop) {
		ret = loop_run_once(ctl->loop, true, on_signal, &st);
		if (ret < 0) {
			pr_err("control io_uring: %s", strerror(-ret));
			st.err = ret;
			break;
		}
	}
	if (ctl->admin_started) {
		admin_stop();	/* no admin request may race the teardown */
		ctl->admin_started = false;
	}
	for (unsigned int i = 0; i < ctl->n_started; i++)
		worker_stop(&ctl->workers[i], ctl->cfg->http.drain_timeout_ms);
	for (unsigned int i = 0; i < ctl->n_workers; i++)
		worker_destroy(&ctl->workers[i]);
	ctl->n_workers = ctl->n_started = 0;
	obs_set_xdp(NULL);
	obs_set_escalation_source(NULL);
	gate_set_ban_sink(NULL, NULL);
	xdpctl_close(ctl->xdp);
	ctl->xdp = NULL;
	pr_info("sluiced stopped");
	return st.err;
}

void control_destroy(struct control *ctl)
{
	if (ctl->admin_started)
		admin_stop();
	ctl->admin_started = false;
	if (ctl->admin)
		ctl->admin->close();
	for (unsigned int i = 0; i < ctl->n_started; i++)
		worker_stop(&ctl->workers[i], 0);
	for (unsigned int i = 0; i < ctl->n_workers; i++)
		worker_destroy(&ctl->workers[i]);
	free(ctl->workers);
	ctl->workers = NULL;
	obs_shutdown();
	gate_set_ban_sink(NULL, NULL);
	xdpctl_close(ctl->xdp);
	ctl->xdp = NULL;
	loop_free(ctl->loop);
	ctl->loop = NULL;
	if (ctl->sfd >= 0)
		close(ctl->sfd);
	ctl->sfd = -1;
	if (ctl->cfg)
		config_put(ctl->cfg);
	ctl->cfg = NULL;
	free(ctl->path);
	ctl->path = NULL;
	free(ctl->last_reload_errors);
	ctl->last_reload_errors = NULL;
}
