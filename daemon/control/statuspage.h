/* SPDX-License-Identifier: MIT */
/*
 * The status page: GET / on the admin listeners serves one self-contained
 * HTML page (status_page.html, embedded in the binary at build time) whose
 * script reads the admin API's JSON endpoints and /metrics and refreshes
 * itself. Read-only like the TCP listener; its Content-Security-Policy
 * allows only that inline script and style (by their SHA-256) and requests
 * to the page's own origin.
 */
#ifndef SLUICE_STATUSPAGE_H
#define SLUICE_STATUSPAGE_H

/* Register GET / with the admin server. 0 or -errno. */
int statuspage_register(void);

/* The Content-Security-Policy header line the page is served with
 * ("Content-Security-Policy: ...\r\n"), computed on first use. */
const char *statuspage_csp(void);

#endif
