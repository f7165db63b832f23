/* SPDX-License-Identifier: MIT */
/*
 * DNS-named targets ("api-3.internal:9003" in services[].targets),
 * resolved with c-ares on the health-check thread (health.c drives it:
 * its sockets join that thread's poll), never on a worker.
 *
 * Each name of the running snapshot is asked for its A and AAAA records;
 * every address becomes a target with the name's weight. The answer is
 * used for its TTL clamped to dns.min_ttl_ms..dns.max_ttl_ms, then the
 * name is asked again. A failed resolution (timeout, SERVFAIL, NXDOMAIN,
 * no records, the server unreachable) keeps the last good addresses, is
 * logged with the name and the reason, counted
 * (sluice_dns_resolutions_total) and tried again after a back-off
 * (min_ttl_ms doubled per failure, at most max_ttl_ms).
 *
 * Publication: when a name's addresses change, a new service state
 * (policy/balance.h: the addresses and their health) is built with the
 * health and ejection state of the addresses that stay carried over, and
 * swapped into the running snapshot's service (balance_state_publish(),
 * under the control lock so that it cannot cross a reload). A worker
 * loads the pointer and takes a reference within one turn of its loop;
 * the state replaced is dropped only once every worker finished the turn
 * it was in at the swap (struct worker.turns), so no worker can be
 * between the load and the reference. Exchanges keep the state they
 * picked from until they end.
 */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct control;
struct dns;

#define DNS_MAX_SOCKETS 16	/* dns_pollfds() fills at most this many */

/* NULL + errno (c-ares could not be initialised). */
struct dns *dns_new(struct control *ctl);

/* Once per turn of the health thread: follow the running snapshot's
 * names, start the queries that are due, handle timeouts, publish
 * changed address sets, drop replaced states no worker can hold. */
void dns_step(struct dns *d, uint64_t now_ms);

/* The resolver's sockets to poll, appended at pfd (at most max). */
size_t dns_pollfds(struct dns *d, struct pollfd *pfd, size_t max);

/* After poll(): the sockets' events (pfd as dns_pollfds() filled it). */
void dns_events(struct dns *d, const struct pollfd *pfd, size_t n);

/* Free everything; the workers must have stopped (replaced states are
 * dropped without waiting). */
void dns_free(struct dns *d);

#endif
