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
#include "control/health.h"
#include "control/watch.h"
#include "control/cluster.h"
#include "config/config.h"
#include "policy/policy.h"
#include "lib/log.h"
#include "io/loop.h"
#include "io/tls.h"
#include "control/privdrop.h"
#include "control/sdnotify.h"
#include "control/takeover.h"
#include "control/topsample.h"
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
	if (!err) {
		obs_ban(OBS_BAN_SLUICED);
		/* the other hosts of a cluster ban it too */
		cluster_publish_ban(&e, seconds, true, "sluiced");
	}
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

/* obs_cluster_fn: the cluster module's state, read at each scrape. */
static void cluster_counts(struct obs_cluster_counts *out)
{
	struct cluster_counts k;

	cluster_get_counts(&k);
	out->enabled = k.enabled;
	out->up = k.up;
	out->nodes = k.nodes;
	out->connects = k.reconnects;
	out->published = k.bans_published;
	out->applied = k.bans_applied;
	out->queued = k.bans_queued;
	out->lag_ms = k.stream_lag_ms;
	out->sync_age_ms = k.sync_age_ms;
}

_Static_assert(sizeof(((struct control *)0)->siginfo) ==
	       sizeof(struct signalfd_siginfo), "siginfo size");

static void cert_expiry_cb(void *ctx, const char *listener, const char *file,
			   const char *names, int64_t not_after)
{
	(void)ctx;
	(void)names;
	obs_tls_cert_expiry(listener, file, not_after);
}

/* sluice_tls_certificate_not_after_seconds of every served certificate */
static void publish_cert_expiry(const struct config *cfg)
{
	tls_each_cert(cfg, cert_expiry_cb, NULL);
}

enum control_op {
	CTL_OP_SIGNAL = 1,
	CTL_OP_CERT_POLL,
	CTL_OP_INOTIFY,
	CTL_OP_TICK,
};

/* How often the TLS certificate files are stat()ed (a changed one reloads
 * the configuration); SLUICE_CERT_POLL_MS overrides (tests). */
#define CTL_CERT_POLL_MS 2000

/* how often the control thread checks that XDP is still attached */
#define CTL_TICK_MS	1000

int control_block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);	/* reopen the access log */
	sigaddset(&set, SIGUSR2);	/* a successor took over: drain, exit */
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

/* Worker w's socket for listener i: one handed over by the process we
 * take over from (same address), else a new one. */
static int worker_socket(struct control *ctl, size_t i)
{
	const struct config_listener *l = &ctl->cfg->listeners[i];
	int fd = -1;

	if (ctl->takeover)
		fd = takeover_take(ctl->takeover,
				   (const struct sockaddr *)&l->addr.sa,
				   l->addr.salen);
	return fd >= 0 ? fd : listen_on(l);
}

/*
 * Sockets handed over beyond one per worker and listener (the old process
 * ran more workers) still hold connections in their accept queues: the
 * last worker accepts on them too. Those of listeners no longer configured
 * are closed by the caller (their queued connections are refused).
 */
static size_t extra_sockets(struct control *ctl, int *fds, unsigned int *lidx,
			    size_t n)
{
	const struct config *cfg = ctl->cfg;

	for (size_t i = 0; ctl->takeover && i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		int fd;

		while ((fd = takeover_take(ctl->takeover,
					   (const struct sockaddr *)&l->addr.sa,
					   l->addr.salen)) >= 0) {
			fds[n] = fd;
			lidx[n++] = (unsigned int)i;
		}
	}
	return n;
}

/* Bind every worker's listeners and set its ring up; no thread yet. */
static int init_workers(struct control *ctl)
{
	const struct config *cfg = ctl->cfg;
	unsigned int n = worker_count(cfg);
	size_t cap = cfg->n_listeners + 1 +
		     (ctl->takeover ? ctl->takeover->n_fds : 0);
	unsigned int *lidx;
	int *fds, ret = 0;

	ctl->workers = calloc(n, sizeof(*ctl->workers));
	fds = calloc(cap, sizeof(*fds));
	lidx = calloc(cap, sizeof(*lidx));
	if (!ctl->workers || !fds || !lidx) {
		free(fds);
		free(lidx);
		return -ENOMEM;
	}
	for (unsigned int w = 0; w < n; w++) {
		size_t i, nf;

		for (i = 0; i < cfg->n_listeners; i++) {
			ret = worker_socket(ctl, i);
			if (ret < 0)
				break;
			fds[i] = ret;
			lidx[i] = (unsigned int)i;
			ret = 0;
		}
		if (ret) {
			while (i-- > 0)
				close(fds[i]);
			break;
		}
		nf = cfg->n_listeners;
		/* the last worker takes what is left over */
		if (w + 1 == n)
			nf = extra_sockets(ctl, fds, lidx, nf);
		ctl->n_workers++;
		ret = worker_init(&ctl->workers[w], w, fds, lidx, nf,
				  config_get(ctl->cfg));
		if (ret)
			break;
	}
	if (ctl->takeover) {
		int fd;

		while ((fd = takeover_take_any(ctl->takeover)) >= 0) {
			pr_warn("takeover: a listener no longer configured is "
				"closed");
			close(fd);
		}
	}
	free(fds);
	free(lidx);
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
		.replace_live = ctl->takeover != NULL,
		.tcp_adopt = ctl->takeover && ctl->takeover->admin_tcp_fd >= 0,
		.tcp_fd = ctl->takeover ? ctl->takeover->admin_tcp_fd : -1,
	};
	int ret;

	if (ctl->admin) {
		ret = ctl->admin->open(ctl);
		if (!ret)
			ret = takeover_register(ctl);
		if (ret) {
			pr_err("admin: registering endpoints: %s",
			       strerror(-ret));
			return ret;
		}
	}
	if (o.tcp_adopt)
		ctl->takeover->admin_tcp_fd = -1;	/* admin owns it now */
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
		  bool log_level_fixed, const struct control_admin *admin,
		  const char *takeover)
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
	sigaddset(&set, SIGUSR2);
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
	if (takeover) {
		/* before anything else: a refusal leaves the old one as is */
		ctl->takeover = malloc(sizeof(*ctl->takeover));
		if (!ctl->takeover)
			return -ENOMEM;
		ret = takeover_fetch(takeover, ctl->takeover);
		if (ret) {
			free(ctl->takeover);
			ctl->takeover = NULL;
			return ret;
		}
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
		/* the ring is opened now (privileges); the thread starts
		 * once this process owns XDP (the end of control_open()) */
		ctl->top = topsample_new(ctl->xdp);
		if (!ctl->top)
			pr_warn("top sampler: %s; GET /top is unavailable",
				strerror(errno));
		/* until the old process is told to go, a failure here must not
		 * detach the program that replaced its own */
		if (ctl->takeover)
			xdpctl_set_persist(ctl->xdp, true);
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
		publish_cert_expiry(cfg);
		obs_set_cluster_source(cluster_counts);
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
	ret = cluster_open(ctl);
	if (ret)
		return ret;
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
	ret = cluster_start();
	if (ret) {
		pr_err("cluster: threads: %s", strerror(-ret));
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
	ctl->health = health_start(ctl);
	if (!ctl->health)
		pr_warn("health checks: thread: %s", strerror(errno));
	ctl->watch = watch_new();
	if (!ctl->watch)
		pr_warn("watch_files: inotify: %s", strerror(errno));
	else
		watch_set(ctl->watch, cfg);
	ret = sdnotifyf("READY=1\nSTATUS=serving, configuration generation 1\nMAINPID=%d",
			(int)getpid());
	if (ret)
		pr_warn("sd_notify: %s", strerror(-ret));
	if (ctl->takeover) {
		if (ctl->xdp)
			xdpctl_set_persist(ctl->xdp, cfg->xdp.persist);
		ret = takeover_commit(ctl->takeover);
		if (ret)
			pr_warn("takeover: cannot signal pid %d: %s",
				(int)ctl->takeover->pid, strerror(-ret));
		takeover_release(ctl->takeover);
		free(ctl->takeover);
		ctl->takeover = NULL;
	}
	/* after the takeover: the old process has been told to stop its
	 * own reader of the same ring */
	if (ctl->top) {
		ret = topsample_start(ctl->top);
		if (ret)
			pr_warn("top sampler: thread: %s", strerror(-ret));
	}
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
	if (old->cluster.enabled != new->cluster.enabled ||
	    strcmp(old->cluster.redis, new->cluster.redis) ||
	    strcmp(old->cluster.node, new->cluster.node) ||
	    strcmp(old->cluster.password, new->cluster.password) ||
	    old->cluster.on_redis_down != new->cluster.on_redis_down ||
	    old->cluster.sync_ms != new->cluster.sync_ms ||
	    old->cluster.timeout_ms != new->cluster.timeout_ms)
		pr_warn("reload: cluster changed; restart sluiced to apply");
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
	     old->xdp.rate_table_size != new->xdp.rate_table_size ||
	     old->xdp.list_size != new->xdp.list_size ||
	     old->xdp.list_prealloc != new->xdp.list_prealloc))
		pr_warn("reload: xdp.persist, rate_limit.table_size, list_size "
			"or list_prealloc changed; restart sluiced to apply");
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
	ret = tls_load_file(ctl->path, &ncfg, errors);
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
	ctl->tls_mtime = tls_files_mtime(ncfg);
	/* unchanged L7 limits keep their clients' counts */
	policy_adopt(ncfg, ctl->cfg);
	for (unsigned int i = 0; i < ctl->n_started; i++)
		worker_set_config(&ctl->workers[i], config_get(ncfg));
	config_put(ctl->cfg);
	ctl->cfg = ncfg;
	ctl->reloads++;
	ctl->loaded_at = time(NULL);
	obs_config_applied(ncfg, true);
	publish_cert_expiry(ncfg);
	if (ctl->watch)
		watch_set(ctl->watch, ncfg);
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

static void arm_cert_poll(struct control *ctl)
{
	const char *e = getenv("SLUICE_CERT_POLL_MS");
	unsigned long ms = e && *e ? strtoul(e, NULL, 10) : CTL_CERT_POLL_MS;

	loop_ts_ms(&ctl->poll_ts, ms ? ms : CTL_CERT_POLL_MS);
	if (loop_timeout(ctl->loop, &ctl->poll_ts,
			 loop_ud(CTL_OP_CERT_POLL, 0, 0)))
		pr_err("cannot arm the certificate file poll");
}

/* A certificate, key or CA file of a TLS listener changed on disk: reload
 * (a refused reload keeps the old certificates; the change is not retried
 * until the files change again). */
static void cert_poll(struct control *ctl)
{
	int64_t now;
	bool changed;

	pthread_mutex_lock(&ctl->lock);
	now = tls_files_mtime(ctl->cfg);
	changed = now && now != ctl->tls_mtime;
	if (changed)
		ctl->tls_mtime = now;
	pthread_mutex_unlock(&ctl->lock);
	if (changed) {
		pr_info("reload: a TLS certificate file changed");
		control_reload_ex(ctl, "certificate", NULL);
	}
	arm_cert_poll(ctl);
}

struct signal_state {
	struct control *ctl;
	bool stop;
	int err;
	struct loop_ts tick_ts;
};

static int arm_inotify(struct control *ctl)
{
	return loop_read(ctl->loop, watch_fd(ctl->watch), ctl->ibuf,
			 sizeof(ctl->ibuf), loop_ud(CTL_OP_INOTIFY, 0, 0));
}

/* Files changed: reload when one of them is watched (watch_files). */
static void on_inotify(struct control *ctl, const struct loop_cqe *cqe)
{
	bool hit = false;

	if (cqe->res > 0) {
		pthread_mutex_lock(&ctl->lock);
		hit = watch_hit(ctl->watch, ctl->ibuf, (size_t)cqe->res);
		pthread_mutex_unlock(&ctl->lock);
	}
	if (hit) {
		pr_info("watch_files: a watched file changed, reloading");
		control_reload_ex(ctl, "inotify", NULL);
	}
	if (cqe->res >= 0 || cqe->res == -EINTR || cqe->res == -EAGAIN) {
		if (arm_inotify(ctl))
			pr_warn("watch_files: cannot read inotify events");
	} else {
		pr_warn("watch_files: inotify read: %s; no longer watching",
			strerror(-cqe->res));
	}
}

static void arm_tick(struct signal_state *st)
{
	loop_ts_ms(&st->tick_ts, CTL_TICK_MS);
	if (loop_timeout(st->ctl->loop, &st->tick_ts,
			 loop_ud(CTL_OP_TICK, 0, 0)))
		pr_err("control: cannot arm the timer");
}

/* Someone may take the program off an interface (ip link set dev X xdp
 * off): put it back, count it. */
static void on_tick(struct signal_state *st)
{
	int n = xdpctl_check_attached(st->ctl->xdp);

	while (n-- > 0)
		obs_xdp_reattached();
	arm_tick(st);
}

static void on_signal(void *arg, const struct loop_cqe *cqe)
{
	struct signal_state *st = arg;
	struct control *ctl = st->ctl;
	const struct signalfd_siginfo *si = (const void *)ctl->siginfo;
	int ret;

	if (loop_ud_op(cqe->ud) == CTL_OP_CERT_POLL) {
		cert_poll(ctl);
		return;
	}
	if (loop_ud_op(cqe->ud) == CTL_OP_INOTIFY) {
		on_inotify(ctl, cqe);
		return;
	}
	if (loop_ud_op(cqe->ud) == CTL_OP_TICK) {
		if (!st->stop)
			on_tick(st);
		return;
	}
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
		case SIGUSR2:
			if (!atomic_load(&ctl->takeover_served)) {
				pr_warn("SIGUSR2 without a takeover: ignored");
				break;
			}
			pr_info("takeover: the new process is ready; "
				"draining and exiting");
			sdnotify("STOPPING=1\nSTATUS=handed over, draining");
			/* the successor reads the events ring from now on */
			topsample_stop(ctl->top);
			ctl->handed_over = true;
			st->stop = true;
			return;
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
	ctl->tls_mtime = tls_files_mtime(ctl->cfg);
	arm_cert_poll(ctl);
	if (ctl->watch && arm_inotify(ctl))
		pr_warn("watch_files: cannot read inotify events");
	if (ctl->xdp)
		arm_tick(&st);
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
		worker_stop(&ctl->workers[i], ctl->cfg->http.drain_timeout_ms,
			    ctl->handed_over);
	for (unsigned int i = 0; i < ctl->n_workers; i++)
		worker_destroy(&ctl->workers[i]);
	/* after the workers: the DNS resolver on its thread frees the
	 * service states it replaced once no worker can hold them */
	health_stop(ctl->health);
	ctl->health = NULL;
	ctl->n_workers = ctl->n_started = 0;
	cluster_stop();
	topsample_free(ctl->top);	/* the admin server is stopped */
	ctl->top = NULL;
	obs_set_xdp(NULL);
	obs_set_escalation_source(NULL);
	obs_set_cluster_source(NULL);
	gate_set_ban_sink(NULL, NULL);
	if (ctl->handed_over && ctl->xdp)
		xdpctl_set_persist(ctl->xdp, true);	/* the successor's */
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
		worker_stop(&ctl->workers[i], 0, ctl->handed_over);
	for (unsigned int i = 0; i < ctl->n_workers; i++)
		worker_destroy(&ctl->workers[i]);
	health_stop(ctl->health);	/* after the workers: control_run */
	ctl->health = NULL;
	free(ctl->workers);
	ctl->workers = NULL;
	cluster_stop();
	topsample_free(ctl->top);
	ctl->top = NULL;
	obs_shutdown();
	gate_set_ban_sink(NULL, NULL);
	xdpctl_close(ctl->xdp);
	ctl->xdp = NULL;
	loop_free(ctl->loop);
	ctl->loop = NULL;
	watch_free(ctl->watch);	/* after the ring: no read in flight */
	ctl->watch = NULL;
	if (ctl->sfd >= 0)
		close(ctl->sfd);
	ctl->sfd = -1;
	if (ctl->cfg)
		config_put(ctl->cfg);
	ctl->cfg = NULL;
	if (ctl->takeover) {
		takeover_release(ctl->takeover);
		free(ctl->takeover);
		ctl->takeover = NULL;
	}
	free(ctl->path);
	ctl->path = NULL;
	free(ctl->last_reload_errors);
	ctl->last_reload_errors = NULL;
}
