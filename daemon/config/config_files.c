// SPDX-License-Identifier: MIT
/*
 * Configuration: config_load_file(). Reads the file and config_parse()s it,
 * then loads what the snapshot refers to: the XDP allowlist and denylist
 * files (checked against their maps' sizes and the rate-class table), then
 * runs the caller's builder (policy_build(): secrets, keys, limit tables).
 * This runs at load time (sluiced -c, --check, SIGHUP), never per request.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/abi.h"
#include "lib/file.h"

#define CFG_MAX_FILE (16u << 20)

/* Append "line\n" to a malloc'd string. */
static int str_append(char **acc, size_t *len, const char *line, size_t n)
{
	char *p = realloc(*acc, *len + n + 2);

	if (!p)
		return -ENOMEM;
	memcpy(p + *len, line, n);
	*len += n;
	p[(*len)++] = '\n';
	p[*len] = '\0';
	*acc = p;
	return 0;
}

/*
 * Load CIDR list files into *list (normalized); every error line is
 * appended to *acc, and so is "too many entries" when the list would not
 * fit its XDP maps. `what` names the config key in that message.
 */
static int load_cidr_files(struct config *c, char *const *files, size_t n,
			   struct allowlist *list, unsigned int flags,
			   const char *what, size_t max4, size_t max6,
			   char **acc, size_t *acc_len)
{
	const size_t elen = 16384;
	char *ebuf = malloc(elen), line[160];
	size_t n4 = 0, n6 = 0;
	int ret = 0;

	if (!ebuf)
		return -ENOMEM;
	for (size_t i = 0; i < n && !ret; i++) {
		int r = allowlist_load_file_flags(files[i], list, flags, ebuf,
						  elen);

		if (r == -ENOMEM) {
			ret = -ENOMEM;
		} else if (r < 0) {
			for (char *l = ebuf, *nl; !ret && l && *l; l = nl) {
				nl = strchr(l, '\n');
				ret = str_append(acc, acc_len, l,
						 nl ? (size_t)(nl - l) : strlen(l));
				if (nl)
					nl++;
			}
		}
	}
	free(ebuf);
	if (ret)
		return ret;
	allowlist_normalize(list);
	for (size_t i = 0; i < list->n; i++) {
		if (list->entries[i].family == AF_INET)
			n4++;
		else
			n6++;
	}
	if (n4 > max4 || n6 > max6) {
		snprintf(line, sizeof(line),
			 "%s: %s: too many entries (%zu IPv4, %zu IPv6; max %zu each)",
			 c->path, what, n4, n6, max4);
		ret = str_append(acc, acc_len, line, strlen(line));
	}
	return ret;
}

static int opt_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 4 * sizeof(uint32_t));
}

/* Distinct rate-option sets in the allowlist must fit the class table. */
static int check_classes(struct config *c, char **acc, size_t *acc_len)
{
	const struct allowlist *al = &c->xdp.allow;
	uint32_t (*t)[4];
	size_t n = 0, distinct = 0;
	char line[200];
	int ret = 0;

	t = calloc(al->n ? al->n : 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < al->n; i++) {
		const struct allowlist_entry *e = &al->entries[i];

		if (!allowlist_has_options(e))
			continue;
		t[n][0] = e->rate;
		t[n][1] = e->burst;
		t[n][2] = e->syn;
		t[n][3] = e->syn_burst;
		n++;
	}
	qsort(t, n, sizeof(*t), opt_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(t[i], t[i - 1], sizeof(t[i])))
			distinct++;
	free(t);
	if (distinct > SLUICE_MAX_CLASSES - 1) {
		snprintf(line, sizeof(line),
			 "%s: xdp.allowlist: too many distinct rate option sets (%zu; max %u)",
			 c->path, distinct, SLUICE_MAX_CLASSES - 1);
		ret = str_append(acc, acc_len, line, strlen(line));
	}
	return ret;
}

int config_load_file_with(const char *path,
			  int (*build)(struct config *c, char **acc,
				       size_t *acc_len),
			  struct config **out, char **errors)
{
	struct config *c;
	size_t len = 0, acc_len = 0;
	char *buf = NULL, *acc = NULL;
	int ret;

	*out = NULL;
	if (errors)
		*errors = NULL;
	ret = file_read_all(path, CFG_MAX_FILE, &buf, &len);
	if (ret) {
		if (errors && asprintf(errors, "%s: %s\n", path, strerror(-ret)) < 0)
			*errors = NULL;
		return ret;
	}
	ret = config_parse(path, buf, len, &c, errors);
	free(buf);
	if (ret)
		return ret;

	if (c->xdp.enabled && c->xdp.allowlist_enabled) {
		ret = load_cidr_files(c, c->xdp.allowlist_files,
				      c->xdp.n_allowlist_files, &c->xdp.allow, 0,
				      "xdp.allowlist", SLUICE_MAX_ALLOW4,
				      SLUICE_MAX_ALLOW6, &acc, &acc_len);
		if (!ret)
			ret = check_classes(c, &acc, &acc_len);
	}
	if (!ret && c->xdp.enabled && c->xdp.n_deny_files)
		ret = load_cidr_files(c, c->xdp.deny_files, c->xdp.n_deny_files,
				      &c->xdp.deny, ALLOWLIST_NO_OPTIONS,
				      "xdp.denylist", SLUICE_MAX_DENY4,
				      SLUICE_MAX_DENY6, &acc, &acc_len);
	if (!ret && build)
		ret = build(c, &acc, &acc_len);
	if (!ret && acc)
		ret = -EINVAL;
	if (ret) {
		if (errors && ret == -EINVAL)
			*errors = acc;
		else
			free(acc);
		config_put(c);
		return ret;
	}
	*out = c;
	return 0;
}

int config_load_file(const char *path, struct config **out, char **errors)
{
	return config_load_file_with(path, NULL, out, errors);
}
