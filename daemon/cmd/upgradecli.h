/* SPDX-License-Identifier: MIT */
/*
 * `sluicectl upgrade [--binary PATH] [--output FILE]`: replace the running
 * sluiced by a new process without refusing a connection.
 *
 * Asks the daemon on the admin socket for its pid and configuration file,
 * checks that configuration with the new binary (`--check`), starts
 * `BINARY -c CONFIG --takeover SOCKET` in a session of its own (stdout and
 * stderr appended to FILE, else inherited), and waits until the new
 * process answers on the admin socket and the old one has exited (drained).
 * The binary defaults to the running one's executable as it is on disk now
 * (after a package upgrade: the new version).
 */
#ifndef SLUICE_UPGRADECLI_H
#define SLUICE_UPGRADECLI_H

/* Exit status: 0 upgraded; 2 no daemon; 3 the new process failed (its
 * configuration, or it exited) or the old one did not exit in time. */
int upgradecli_run(const char *sock, const char *binary, const char *output,
		   int json);

#endif
