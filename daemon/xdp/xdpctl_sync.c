// SPDX-License-Identifier: MIT
/*
 * Map sync by diff (part of the xdpctl module): make the ports, allowlist,
 * denylist and rate-class maps equal to a config snapshot without ever
 * clearing them. Each list is two maps per family: a hash of its host
 * entries (/32, /128) and a trie of its shorter prefixes; an entry always
 * goes to the same one, so each map is synced on its own. Order:
 *   0. the SLUICE_SET_HOSTS_* flag of every host hash that holds or will
 *      hold entries set (the program skips a hash whose flag is off);
 *   1. new or changed rate classes into free slots (never rewriting a slot
 *      a live entry still points to with other limits);
 *   2. add/fix the tries' allowlist entries, guarded ports, the tries'
 *      denylist entries;
 *   3. each host hash: its stale entries deleted, then its new and changed
 *      ones written;
 *   4. settings with a new rules generation (cached verdicts retaken);
 *   5. delete stale ports and trie entries;
 *   6. a new generation again with the flags of the hashes left empty
 *      cleared, then clear the classes nothing uses.
 * A client allowed by both the old and the new config is never dropped:
 * at every instant some entry allows it with limits at least as loose as
 * one of the two configs. Step 3 keeps that although it deletes first: a
 * host entry is one address, so a stale key of a hash is never a key that
 * hash is about to get; a client that moves from a stale host entry to a
 * prefix finds the prefix written in step 2, and one that moves from a
 * prefix to a host entry keeps the prefix until step 5. Deleting first
 * lets the kernel reuse the freed elements and means a hash never holds
 * the old and the new list at once. Bans are runtime state and never
 * touched here.
 */
#include "xdp/xdpctl_sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "config/allowlist.h"
#include "config/config.h"
#include "lib/log.h"
#include "xdp/xdpctl_int.h"

/* The wanted contents of one map: records of key||value, sorted by key,
 * duplicate keys removed. */
struct sync_set {
	const char *name;
	int fd;
	size_t key_size, val_size, rec_size;
	unsigned char *recs;
	size_t n;
	struct xdpctl_sync_count *count;
	/* An LPM trie (lookups are not exact) or a host hash (large): the
	 * present records come from one batch walk, are diffed against the
	 * wanted ones in memory, and what changes is written in batches. */
	bool walk;
	bool array;		/* an array: every slot exists, zero = unused */
	size_t max_entries;
	/* The present keys the wanted set lacks, as sync_add()'s diff found
	 * them; sync_delete() deletes them without walking again (nothing
	 * else writes these maps while the sync holds the pin lock, and what
	 * sync_add() wrote is wanted, never stale). */
	bool diffed;
	unsigned char *stale;
	size_t n_stale;
};

/* Sort by key (stably: of duplicate keys the first in config order stays)
 * and drop the duplicates. 0 or -ENOMEM. */
static int sync_set_sort(struct sync_set *s)
{
	int err = xdpctl__rec_sort(&s->recs, s->n, s->rec_size, s->key_size);

	if (!err)
		s->n = xdpctl__rec_dedup(s->recs, s->n, s->rec_size,
					 s->key_size);
	return err;
}

static int sync_set_alloc(struct sync_set *s, const char *name, int fd,
			  size_t key_size, size_t val_size, size_t n,
			  struct xdpctl_sync_count *count)
{
	s->name = name;
	s->fd = fd;
	s->key_size = key_size;
	s->val_size = val_size;
	s->rec_size = key_size + val_size;
	s->n = 0;
	s->count = count;
	s->walk = false;
	s->array = false;
	s->diffed = false;
	s->stale = NULL;
	s->n_stale = 0;
	s->recs = calloc(n ? n : 1, s->rec_size);
	return s->recs ? 0 : -ENOMEM;
}

static void sync_set_push(struct sync_set *s, const void *key, const void *val)
{
	unsigned char *r = s->recs + s->n * s->rec_size;

	memcpy(r, key, s->key_size);
	memcpy(r + s->key_size, val, s->val_size);
	s->n++;
}

static int sync_set_contains(const struct sync_set *s, const void *key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(key, s->recs + mid * s->rec_size, s->key_size);

		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

static int is_full_error(int err)
{
	return err == -ENOSPC || err == -E2BIG;
}

/* Entries written or deleted per batch system call: a large reload costs
 * a few hundred calls, not one per entry. */
#define SYNC_BATCH 4096

/* All records (key||value) of a hash or trie (at most limit), unsorted,
 * read with batch lookups (a few hundred calls for 10^6 entries, where a
 * get_next_key walk makes one per entry). An LPM trie's lookup is a
 * longest-prefix match, not an exact one (10.0.0.0/24 finds 10.0.0.0/16
 * if only that exists): presence must be decided on the exact keys a walk
 * returns, or a narrowed entry would be taken as present and then lose
 * its covering entry in the delete phase. *out malloc'd. 0 or -errno. */
static int walk_recs(const struct sync_set *s, size_t limit,
		     unsigned char **out, size_t *n_out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	unsigned char *recs = NULL, *keys, *vals, in[64], next[64];
	size_t n = 0, cap = 0;
	bool first = true;
	int err = 0;

	keys = malloc((size_t)SYNC_BATCH * s->key_size);
	vals = malloc((size_t)SYNC_BATCH * (s->val_size ? s->val_size : 1));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 count = SYNC_BATCH;

		if (n + SYNC_BATCH > cap) {
			size_t ncap = cap ? cap * 2 : SYNC_BATCH * 2;
			unsigned char *p = realloc(recs, ncap * s->rec_size);

			if (!p) {
				err = -ENOMEM;
				break;
			}
			recs = p;
			cap = ncap;
		}
		err = bpf_map_lookup_batch(s->fd, first ? NULL : in, next, keys,
					   vals, &count, &o);
		first = false;
		if (count > SYNC_BATCH)
			count = SYNC_BATCH;
		for (__u32 i = 0; i < count; i++) {
			unsigned char *r = recs + (n + i) * s->rec_size;

			memcpy(r, keys + (size_t)i * s->key_size, s->key_size);
			memcpy(r + s->key_size, vals + (size_t)i * s->val_size,
			       s->val_size);
		}
		n += count;
		if (err == -ENOENT) { /* the end of the map */
			err = 0;
			break;
		}
		if (err < 0)
			break;
		if (n >= limit)
			break;
		memcpy(in, next, s->key_size);
	}
out:
	free(keys);
	free(vals);
	if (err) {
		free(recs);
		return err;
	}
	*out = recs;
	*n_out = n;
	return 0;
}

/* The map's records (one walk) against the wanted ones: d gets what to
 * write (d->idx malloc'd), s->stale what to delete. 0 or -errno, logged. */
static int sync_diff(struct sync_set *s, struct xdpctl_diff *d)
{
	unsigned char *live = NULL;
	size_t n_live = 0;
	int err;

	memset(d, 0, sizeof(*d)); /* the caller frees d->idx, set or not */
	err = walk_recs(s, 2 * s->max_entries + 16, &live, &n_live);
	if (!err)
		err = xdpctl__rec_sort(&live, n_live, s->rec_size, s->key_size);
	if (!err) {
		/* the diff needs each key once (a walk meets each once
		 * unless the map changes under it) */
		n_live = xdpctl__rec_dedup(live, n_live, s->rec_size,
					   s->key_size);
		err = xdpctl__rec_diff(s->recs, s->n, live, n_live, s->key_size,
				       s->val_size, d);
	}
	if (err) {
		pr_err("xdp: walking %s failed: %s", s->name, strerror(-err));
		free(live);
		return err;
	}
	free(s->stale);
	s->stale = d->stale;
	s->n_stale = d->n_stale;
	s->diffed = true;
	return 0;
}

struct sync_batch {
	unsigned char *keys, *vals;
	uint32_t n;
};

static int batch_init(struct sync_batch *b, const struct sync_set *s)
{
	b->n = 0;
	b->keys = malloc(SYNC_BATCH * s->key_size);
	b->vals = malloc(SYNC_BATCH * (s->val_size ? s->val_size : 1));
	if (b->keys && b->vals)
		return 0;
	free(b->keys);
	free(b->vals);
	b->keys = b->vals = NULL;
	return -ENOMEM;
}

static void batch_free(struct sync_batch *b)
{
	free(b->keys);
	free(b->vals);
}

/* Write the pending entries; *written counts them. */
static int batch_flush(struct sync_set *s, struct sync_batch *b,
		       size_t *written)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	__u32 count = b->n;
	int err;

	if (!b->n)
		return 0;
	err = bpf_map_update_batch(s->fd, b->keys, b->vals, &count, &o);
	*written += count < b->n ? count : b->n;
	b->n = 0;
	if (err < 0 && is_full_error(err))
		return -ENOSPC; /* caller reports */
	if (err < 0)
		pr_err("xdp: batch update of %s failed: %s", s->name,
		       strerror(-err));
	return err < 0 ? err : 0;
}

/* Write the records of s at idx[0..n) in batches; *count gets how many
 * were written. 0, -ENOSPC (the map is full: the caller reports) or
 * -errno, logged. */
static int write_recs(struct sync_set *s, const size_t *idx, size_t n,
		      size_t *count)
{
	struct sync_batch b;
	int err = batch_init(&b, s);

	if (err) {
		pr_err("xdp: cannot write %s: %s", s->name, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < n && !err; i++) {
		const unsigned char *r = s->recs + idx[i] * s->rec_size;

		memcpy(b.keys + (size_t)b.n * s->key_size, r, s->key_size);
		memcpy(b.vals + (size_t)b.n * s->val_size, r + s->key_size,
		       s->val_size);
		if (++b.n == SYNC_BATCH)
			err = batch_flush(s, &b, count);
	}
	if (!err)
		err = batch_flush(s, &b, count);
	batch_free(&b);
	return err;
}

/* Write what diff d found missing or different. */
static int write_diff(struct sync_set *s, const struct xdpctl_diff *d)
{
	int err;

	s->count->kept += d->n_kept;
	err = write_recs(s, d->idx, d->n_add, &s->count->added);
	if (!err)
		err = write_recs(s, d->idx + (s->n - d->n_upd), d->n_upd,
				 &s->count->updated);
	return err;
}

/* Phase 1: make every wanted entry present with its value. */
static int sync_add(struct sync_set *s)
{
	unsigned char cur[64];
	int err = 0;

	if (s->walk) {
		struct xdpctl_diff d;

		err = sync_diff(s, &d);
		if (!err)
			err = write_diff(s, &d);
		free(d.idx);
		return err;
	}
	/* an array (the ports): one lookup and write per wanted slot */
	for (size_t i = 0; i < s->n && !err; i++) {
		const unsigned char *key = s->recs + i * s->rec_size;
		const unsigned char *val = key + s->key_size;
		bool present;

		if (bpf_map_lookup_elem(s->fd, key, cur) == 0) {
			if (memcmp(cur, val, s->val_size) == 0) {
				s->count->kept++;
				continue;
			}
			present = !s->array ||
				  !xdpctl__all_zero(cur, s->val_size);
		} else if (errno == ENOENT) {
			present = false;
		} else {
			err = -errno;
			pr_err("xdp: lookup in %s failed: %s", s->name,
			       strerror(-err));
			break;
		}
		if (bpf_map_update_elem(s->fd, key, val, BPF_ANY) < 0) {
			err = -errno;
			if (is_full_error(err)) {
				err = -ENOSPC; /* caller reports */
				break;
			}
			pr_err("xdp: update of %s failed: %s", s->name,
			       strerror(-err));
			break;
		}
		if (present)
			s->count->updated++;
		else
			s->count->added++;
	}
	return err;
}

/* Phase 2: delete every live entry that is not wanted. The walk collects
 * first and deletes after, so deleting never disturbs the iteration. */
static int sync_clear_array(struct sync_set *s, uint32_t slots)
{
	unsigned char *vals, zero[64] = {0};
	int err;

	err = xdpctl__array_read(s->fd, slots, s->val_size, &vals);
	if (err) {
		pr_err("xdp: reading %s failed: %s", s->name, strerror(-err));
		return err;
	}
	for (uint32_t i = 0; i < slots && !err; i++) {
		const unsigned char *v = vals + (size_t)i * s->val_size;

		if (xdpctl__all_zero(v, s->val_size) ||
		    sync_set_contains(s, &i))
			continue;
		if (bpf_map_update_elem(s->fd, &i, zero, BPF_ANY) < 0) {
			err = -errno;
			pr_err("xdp: clearing slot %u of %s failed: %s", i,
			       s->name, strerror(-err));
			break;
		}
		s->count->deleted++;
	}
	free(vals);
	return err;
}

static int sync_delete(struct sync_set *s, size_t max_entries)
{
	unsigned char *stale;
	size_t n_stale;
	int err = 0;

	if (s->array)
		return sync_clear_array(s, (uint32_t)max_entries);
	if (!s->diffed) {
		struct xdpctl_diff d;

		s->max_entries = max_entries;
		err = sync_diff(s, &d);
		if (err)
			return err;
		free(d.idx);
	}
	stale = s->stale; /* taken over: see struct sync_set */
	n_stale = s->n_stale;
	s->stale = NULL;
	s->n_stale = 0;
	s->diffed = false;
	for (size_t i = 0; i < n_stale;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 count = n_stale - i < SYNC_BATCH ? (__u32)(n_stale - i)
						       : SYNC_BATCH;
		__u32 want = count;

		/* a batch stops at a key already gone (-ENOENT): that one
		 * is skipped, the rest go on */
		err = bpf_map_delete_batch(s->fd, stale + i * s->key_size,
					   &count, &o);
		if (count > want)
			count = want;
		s->count->deleted += count;
		i += count;
		if (err == -ENOENT) {
			i++;
			err = 0;
		} else if (err < 0) {
			pr_err("xdp: delete from %s failed: %s", s->name,
			       strerror(-err));
			goto out;
		}
	}
out:
	free(stale);
	return err;
}

/*
 * Phase 1 with a way out when the map is full: a config near capacity that
 * swaps entries cannot add everything before deleting anything. Then delete
 * this map's stale entries first and add again. Only in that case can a
 * client covered solely by a changing entry see a brief gap; it is logged.
 */
static int sync_add_or_make_room(struct sync_set *s, size_t max_entries)
{
	struct xdpctl_sync_count first;
	int err;

	s->max_entries = max_entries;
	err = sync_add(s);
	if (err != -ENOSPC)
		return err;
	pr_warn("xdp: map %s is full (%zu entries max): removing stale "
		"entries before adding new ones",
		s->name, max_entries);
	first = *s->count;
	err = sync_delete(s, max_entries);
	if (err)
		return err;
	s->count->added = s->count->updated = s->count->kept = 0;
	err = sync_add(s);
	/* what the first pass wrote shows up as kept in the second */
	if (s->count->kept >= first.added + first.updated)
		s->count->kept -= first.added + first.updated;
	s->count->added += first.added;
	s->count->updated += first.updated;
	if (err == -ENOSPC)
		pr_err("xdp: map %s is full (%zu entries max): cannot hold "
		       "the %zu configured entries",
		       s->name, max_entries, s->n);
	return err;
}

/* Step 3 (see the top of the file): a host hash's stale entries deleted,
 * then its new and changed ones written. */
static int sync_replace(struct sync_set *s, size_t max_entries)
{
	struct xdpctl_diff d;
	int err;

	s->max_entries = max_entries;
	err = sync_diff(s, &d);
	if (err)
		return err;
	err = sync_delete(s, max_entries);
	if (!err)
		err = write_diff(s, &d);
	free(d.idx);
	if (err == -ENOSPC)
		pr_err("xdp: map %s is full (%zu entries max): cannot hold "
		       "the %zu configured entries",
		       s->name, max_entries, s->n);
	return err;
}

/* ---- rate classes --------------------------------------------------------- */

static uint64_t interval_ns(uint32_t rate)
{
	uint64_t iv = (1000000000ull + rate / 2) / rate;

	return iv ? iv : 1;
}

void xdpctl_class_make(struct sluice_class *c, uint32_t rate, uint32_t burst,
		       uint32_t syn, uint32_t syn_burst)
{
	memset(c, 0, sizeof(*c));
	if (rate) {
		c->pkt_rate = rate;
		c->pkt_burst = burst ? burst : rate;
		c->pkt_interval_ns = interval_ns(rate);
		c->pkt_tolerance_ns =
			c->pkt_interval_ns * (uint64_t)(c->pkt_burst - 1);
	}
	if (syn) {
		c->syn_rate = syn;
		c->syn_burst = syn_burst ? syn_burst : syn;
		c->syn_interval_ns = interval_ns(syn);
		c->syn_tolerance_ns =
			c->syn_interval_ns * (uint64_t)(c->syn_burst - 1);
	}
}

void xdpctl_class_of(struct sluice_class *c, const struct config_rate *def,
		     const struct allowlist_entry *e)
{
	uint32_t rate = e->rate ? e->rate : def->rate;
	uint32_t burst = e->burst ? e->burst : e->rate ? 0 : def->burst;
	uint32_t syn = e->syn ? e->syn : def->syn;
	uint32_t sburst = e->syn_burst ? e->syn_burst : e->syn ? 0
							       : def->syn_burst;

	xdpctl_class_make(c, rate, burst, syn, sburst);
}

static bool class_zero(const struct sluice_class *c)
{
	static const struct sluice_class z;

	return memcmp(c, &z, sizeof(z)) == 0;
}

static bool class_limits(const struct sluice_class *c)
{
	return c->pkt_interval_ns || c->syn_interval_ns;
}

/* The class table as it is and as it will be. */
struct class_plan {
	struct sluice_class live[SLUICE_MAX_CLASSES];
	struct sluice_class want[SLUICE_MAX_CLASSES];
	bool used[SLUICE_MAX_CLASSES];
};

static int classes_read(int fd, struct class_plan *cp)
{
	for (__u32 i = 0; i < SLUICE_MAX_CLASSES; i++) {
		if (bpf_map_lookup_elem(fd, &i, &cp->live[i]) < 0) {
			int err = -errno;

			pr_err("xdp: reading %s[%u] failed: %s",
			       SLUICE_MAP_NAME(SLUICE_MAP_CLASSES), i,
			       strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Slot for class c: one already planned with the same limits, else a live
 * slot holding exactly these limits, else a free (all-zero) one. */
static int class_slot(struct class_plan *cp, const struct sluice_class *c,
		      __u32 *id)
{
	__u32 pick = 0;

	if (memcmp(c, &cp->want[0], sizeof(*c)) == 0) {
		*id = 0;
		return 0;
	}
	for (__u32 i = 1; i < SLUICE_MAX_CLASSES; i++) {
		if (cp->used[i] && !memcmp(&cp->want[i], c, sizeof(*c))) {
			*id = i;
			return 0;
		}
	}
	for (__u32 i = 1; i < SLUICE_MAX_CLASSES && !pick; i++)
		if (!cp->used[i] && !memcmp(&cp->live[i], c, sizeof(*c)))
			pick = i;
	for (__u32 i = 1; i < SLUICE_MAX_CLASSES && !pick; i++)
		if (!cp->used[i] && class_zero(&cp->live[i]))
			pick = i;
	if (!pick)
		return -ENOSPC;
	cp->used[pick] = true;
	cp->want[pick] = *c;
	*id = pick;
	return 0;
}

struct class_ref {
	struct sluice_class c;
	size_t entry;	/* index into the allowlist */
};

static int class_ref_cmp(const void *a, const void *b)
{
	const struct class_ref *x = a, *y = b;
	int c = memcmp(&x->c, &y->c, sizeof(x->c));

	if (c)
		return c;
	return (x->entry > y->entry) - (x->entry < y->entry);
}

/* Plan the classes; class_ids[i] for allowlist entry i. */
static int plan_classes(const struct config *cfg, struct class_plan *cp,
			__u32 *class_ids)
{
	const struct allowlist *al = &cfg->xdp.allow;
	struct class_ref *refs;
	size_t n = 0;
	int err = 0;

	xdpctl_class_make(&cp->want[0], cfg->xdp.rate.rate, cfg->xdp.rate.burst,
			  cfg->xdp.rate.syn, cfg->xdp.rate.syn_burst);
	cp->used[0] = true;
	refs = calloc(al->n ? al->n : 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < al->n; i++) {
		class_ids[i] = 0;
		if (!allowlist_has_options(&al->entries[i]))
			continue;
		xdpctl_class_of(&refs[n].c, &cfg->xdp.rate, &al->entries[i]);
		refs[n].entry = i;
		n++;
	}
	qsort(refs, n, sizeof(*refs), class_ref_cmp);
	for (size_t i = 0; i < n; i++) {
		__u32 id;

		if (i && !memcmp(&refs[i].c, &refs[i - 1].c, sizeof(refs[i].c))) {
			class_ids[refs[i].entry] = class_ids[refs[i - 1].entry];
			continue;
		}
		err = class_slot(cp, &refs[i].c, &id);
		if (err) {
			pr_err("xdp: map %s is full: more than %u distinct "
			       "rate classes",
			       SLUICE_MAP_NAME(SLUICE_MAP_CLASSES),
			       SLUICE_MAX_CLASSES - 1);
			break;
		}
		class_ids[refs[i].entry] = id;
	}
	free(refs);
	return err;
}

/* Write the planned classes that differ from the live ones. */
static int classes_write(int fd, struct class_plan *cp,
			 struct xdpctl_sync_count *cnt)
{
	for (__u32 i = 0; i < SLUICE_MAX_CLASSES; i++) {
		if (!cp->used[i])
			continue;
		if (!memcmp(&cp->live[i], &cp->want[i], sizeof(cp->want[i]))) {
			cnt->kept++;
			continue;
		}
		if (bpf_map_update_elem(fd, &i, &cp->want[i], BPF_ANY) < 0) {
			int err = -errno;

			pr_err("xdp: writing %s[%u] failed: %s",
			       SLUICE_MAP_NAME(SLUICE_MAP_CLASSES), i,
			       strerror(-err));
			return err;
		}
		if (class_zero(&cp->live[i]))
			cnt->added++;
		else
			cnt->updated++;
	}
	return 0;
}

/* Clear the live classes nothing points to any more. */
static int classes_clear_unused(int fd, struct class_plan *cp,
				struct xdpctl_sync_count *cnt)
{
	static const struct sluice_class z;

	for (__u32 i = 1; i < SLUICE_MAX_CLASSES; i++) {
		if (cp->used[i] || class_zero(&cp->live[i]))
			continue;
		if (bpf_map_update_elem(fd, &i, &z, BPF_ANY) < 0) {
			int err = -errno;

			pr_err("xdp: clearing %s[%u] failed: %s",
			       SLUICE_MAP_NAME(SLUICE_MAP_CLASSES), i,
			       strerror(-err));
			return err;
		}
		cnt->deleted++;
	}
	return 0;
}

/* ---- the sets --------------------------------------------------------------- */

/* a4..d6: the tries (prefixes shorter than the address); ha4..hd6: the
 * host hashes (/32, /128), counted apart and summed into the list's stats
 * at the end. */
struct sets {
	struct sync_set ports, a4, a6, d4, d6;
	struct sync_set ha4, ha6, hd4, hd6;
	struct xdpctl_sync_count cha4, cha6, chd4, chd6;
};

static void sets_free(struct sets *s)
{
	free(s->ports.recs);
	free(s->a4.recs);
	free(s->a6.recs);
	free(s->d4.recs);
	free(s->d6.recs);
	free(s->ha4.recs);
	free(s->ha6.recs);
	free(s->hd4.recs);
	free(s->hd6.recs);
	free(s->ha4.stale);
	free(s->ha6.stale);
	free(s->hd4.stale);
	free(s->hd6.stale);
	free(s->a4.stale);
	free(s->a6.stale);
	free(s->d4.stale);
	free(s->d6.stale);
}

static int count_families(const struct allowlist *al, const char *what,
			  size_t *n4, size_t *n6)
{
	*n4 = *n6 = 0;
	for (size_t i = 0; i < al->n; i++) {
		if (al->entries[i].family == AF_INET)
			(*n4)++;
		else if (al->entries[i].family == AF_INET6)
			(*n6)++;
		else {
			pr_err("xdp: %s entry from line %u has unknown "
			       "address family %u",
			       what, al->entries[i].line, al->entries[i].family);
			return -EAFNOSUPPORT;
		}
	}
	return 0;
}

/* Push every entry of al into the v4/v6 sets with value rule (class from
 * class_ids when given): host entries (/32, /128) into h4/h6, shorter
 * prefixes into the tries' s4/s6. */
static int push_entries(const struct allowlist *al, const char *what,
			struct sync_set *s4, struct sync_set *s6,
			struct sync_set *h4, struct sync_set *h6,
			const __u32 *class_ids)
{
	for (size_t i = 0; i < al->n; i++) {
		const struct allowlist_entry *e = &al->entries[i];
		struct sluice_rule rule = {
			.class_id = class_ids ? class_ids[i] : 0,
		};

		if (e->family == AF_INET) {
			struct sluice_lpm4_key k = {0};

			if (e->prefixlen > 32) {
				pr_err("xdp: %s entry from line %u: "
				       "prefix /%u is too long for IPv4",
				       what, e->line, e->prefixlen);
				return -EINVAL;
			}
			k.prefixlen = e->prefixlen;
			xdpctl__mask_addr(k.addr, e->addr, 4, e->prefixlen);
			sync_set_push(k.prefixlen == 32 ? h4 : s4, &k, &rule);
		} else {
			struct sluice_lpm6_key k = {0};

			if (e->prefixlen > 128) {
				pr_err("xdp: %s entry from line %u: "
				       "prefix /%u is too long for IPv6",
				       what, e->line, e->prefixlen);
				return -EINVAL;
			}
			k.prefixlen = e->prefixlen;
			xdpctl__mask_addr(k.addr, e->addr, 16, e->prefixlen);
			sync_set_push(k.prefixlen == 128 ? h6 : s6, &k, &rule);
		}
	}
	return 0;
}

/* The capacity of the map behind fd (the loader may have sized the tries
 * from xdp.list_size); def when the kernel does not say. */
static size_t map_capacity(int fd, size_t def)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || !info.max_entries)
		return def;
	return info.max_entries;
}

static int check_fits(const struct sync_set *s, size_t max)
{
	if (s->n <= max)
		return 0;
	pr_err("xdp: map %s is full: %zu entries configured, %zu max", s->name,
	       s->n, max);
	return -ENOSPC;
}

static int build_sets(const struct xdpctl_map_fds *m, const struct config *cfg,
		      const __u32 *class_ids, struct sets *s,
		      struct xdpctl_sync_stats *st)
{
	const struct sluice_port_val pv = {.flags = SLUICE_PORT_GUARDED};
	size_t a4 = 0, a6 = 0, d4 = 0, d6 = 0;
	int err;

	err = count_families(&cfg->xdp.allow, "allowlist", &a4, &a6);
	if (!err)
		err = count_families(&cfg->xdp.deny, "denylist", &d4, &d6);
	if (err)
		return err;
	if (sync_set_alloc(&s->ports, SLUICE_MAP_NAME(SLUICE_MAP_PORTS),
			   m->ports_fd, sizeof(__u32),
			   sizeof(struct sluice_port_val), cfg->xdp.n_ports,
			   &st->ports) ||
	    sync_set_alloc(&s->a4, SLUICE_MAP_NAME(SLUICE_MAP_ALLOW4),
			   m->allow4_fd, sizeof(struct sluice_lpm4_key),
			   sizeof(struct sluice_rule), a4, &st->allow4) ||
	    sync_set_alloc(&s->a6, SLUICE_MAP_NAME(SLUICE_MAP_ALLOW6),
			   m->allow6_fd, sizeof(struct sluice_lpm6_key),
			   sizeof(struct sluice_rule), a6, &st->allow6) ||
	    sync_set_alloc(&s->d4, SLUICE_MAP_NAME(SLUICE_MAP_DENY4),
			   m->deny4_fd, sizeof(struct sluice_lpm4_key),
			   sizeof(struct sluice_rule), d4, &st->deny4) ||
	    sync_set_alloc(&s->d6, SLUICE_MAP_NAME(SLUICE_MAP_DENY6),
			   m->deny6_fd, sizeof(struct sluice_lpm6_key),
			   sizeof(struct sluice_rule), d6, &st->deny6) ||
	    sync_set_alloc(&s->ha4, SLUICE_MAP_NAME(SLUICE_MAP_HALLOW4),
			   m->hallow4_fd, sizeof(struct sluice_lpm4_key),
			   sizeof(struct sluice_rule), a4, &s->cha4) ||
	    sync_set_alloc(&s->ha6, SLUICE_MAP_NAME(SLUICE_MAP_HALLOW6),
			   m->hallow6_fd, sizeof(struct sluice_lpm6_key),
			   sizeof(struct sluice_rule), a6, &s->cha6) ||
	    sync_set_alloc(&s->hd4, SLUICE_MAP_NAME(SLUICE_MAP_HDENY4),
			   m->hdeny4_fd, sizeof(struct sluice_lpm4_key),
			   sizeof(struct sluice_rule), d4, &s->chd4) ||
	    sync_set_alloc(&s->hd6, SLUICE_MAP_NAME(SLUICE_MAP_HDENY6),
			   m->hdeny6_fd, sizeof(struct sluice_lpm6_key),
			   sizeof(struct sluice_rule), d6, &s->chd6))
		return -ENOMEM;
	s->a4.walk = s->a6.walk = s->d4.walk = s->d6.walk = true;
	s->ha4.walk = s->ha6.walk = s->hd4.walk = s->hd6.walk = true;
	s->ports.array = true;

	for (size_t i = 0; i < cfg->xdp.n_ports; i++) {
		__u32 k = cfg->xdp.ports[i];

		sync_set_push(&s->ports, &k, &pv);
	}
	err = push_entries(&cfg->xdp.allow, "allowlist", &s->a4, &s->a6,
			   &s->ha4, &s->ha6, class_ids);
	if (!err)
		err = push_entries(&cfg->xdp.deny, "denylist", &s->d4, &s->d6,
				   &s->hd4, &s->hd6, NULL);
	if (err)
		return err;
	if (sync_set_sort(&s->ports) || sync_set_sort(&s->a4) ||
	    sync_set_sort(&s->a6) || sync_set_sort(&s->d4) ||
	    sync_set_sort(&s->d6) || sync_set_sort(&s->ha4) ||
	    sync_set_sort(&s->ha6) || sync_set_sort(&s->hd4) ||
	    sync_set_sort(&s->hd6))
		return -ENOMEM;

	/* refuse a config that cannot fit before touching any map */
	s->a4.max_entries = map_capacity(m->allow4_fd, SLUICE_MAX_ALLOW4);
	s->a6.max_entries = map_capacity(m->allow6_fd, SLUICE_MAX_ALLOW6);
	s->d4.max_entries = map_capacity(m->deny4_fd, SLUICE_MAX_DENY4);
	s->d6.max_entries = map_capacity(m->deny6_fd, SLUICE_MAX_DENY6);
	s->ha4.max_entries = map_capacity(m->hallow4_fd, SLUICE_MAX_ALLOW4);
	s->ha6.max_entries = map_capacity(m->hallow6_fd, SLUICE_MAX_ALLOW6);
	s->hd4.max_entries = map_capacity(m->hdeny4_fd, SLUICE_MAX_DENY4);
	s->hd6.max_entries = map_capacity(m->hdeny6_fd, SLUICE_MAX_DENY6);
	if (check_fits(&s->ports, SLUICE_MAX_PORTS) ||
	    check_fits(&s->ha4, s->ha4.max_entries) ||
	    check_fits(&s->ha6, s->ha6.max_entries) ||
	    check_fits(&s->hd4, s->hd4.max_entries) ||
	    check_fits(&s->hd6, s->hd6.max_entries) ||
	    check_fits(&s->a4, s->a4.max_entries) ||
	    check_fits(&s->a6, s->a6.max_entries) ||
	    check_fits(&s->d4, s->d4.max_entries) ||
	    check_fits(&s->d6, s->d6.max_entries))
		return -ENOSPC;
	return 0;
}

static void count_add(struct xdpctl_sync_count *to,
		      const struct xdpctl_sync_count *c)
{
	to->added += c->added;
	to->updated += c->updated;
	to->kept += c->kept;
	to->deleted += c->deleted;
}

static unsigned int log2u(uint32_t v)
{
	unsigned int n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

/* xdp.syncookies into the settings: the mode, and for auto the SYN rate
 * as a count per detector window (2^SLUICE_SYNFLOOD_WINDOW_SHIFT ns). */
static void cookie_settings(const struct config_xdp *x,
			    struct sluice_settings *set)
{
	uint64_t rate = x->cookie_syn_rate ? x->cookie_syn_rate
					   : CFG_DEF_COOKIE_SYN_RATE;
	uint64_t n = (rate << SLUICE_SYNFLOOD_WINDOW_SHIFT) / 1000000000ull;

	if (x->cookies == CFG_XDP_COOKIES_ON)
		set->flags |= SLUICE_SET_COOKIE_ON;
	else if (x->cookies == CFG_XDP_COOKIES_AUTO)
		set->flags |= SLUICE_SET_COOKIE_AUTO;
	set->cookie_syn_window = (__u32)(n ? (n > UINT32_MAX ? UINT32_MAX : n)
					   : 1);
}

static int write_settings(int fd, struct sluice_settings *set, uint64_t *gen)
{
	struct sluice_settings cur = {0};
	__u32 zero = 0;
	int err;

	if (bpf_map_lookup_elem(fd, &zero, &cur) < 0) {
		err = -errno;
		goto fail;
	}
	set->gen = xdpctl__next_gen(cur.gen);
	if (bpf_map_update_elem(fd, &zero, set, BPF_ANY) < 0) {
		err = -errno;
		goto fail;
	}
	*gen = set->gen;
	return 0;
fail:
	pr_err("xdp: writing %s failed: %s",
	       SLUICE_MAP_NAME(SLUICE_MAP_SETTINGS), strerror(-err));
	return err;
}

/* SLUICE_SET_HOSTS_* of the host hashes that will hold entries (want)
 * and of those that do now or will (keep). The program looks a hash up
 * only while its flag is set, so keep is in force while the sync adds and
 * deletes, and want only once the deletes have emptied the others; from
 * old pins (takeover, persist) the flags follow what the maps hold. */
static void hosts_flags(const struct sets *s, __u32 *want, __u32 *keep)
{
	const struct {
		const struct sync_set *set;
		__u32 flag;
	} h[] = {
		{&s->hd4, SLUICE_SET_HOSTS_DENY4},
		{&s->hd6, SLUICE_SET_HOSTS_DENY6},
		{&s->ha4, SLUICE_SET_HOSTS_ALLOW4},
		{&s->ha6, SLUICE_SET_HOSTS_ALLOW6},
	};
	unsigned char key[64];

	*want = *keep = 0;
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		if (h[i].set->n)
			*want |= h[i].flag;
		/* an error other than "empty" counts as nonempty: the flag
		 * stays set, which is only slower */
		if (bpf_map_get_next_key(h[i].set->fd, NULL, key) == 0 ||
		    errno != ENOENT)
			*keep |= h[i].flag;
	}
	*keep |= *want;
}

int xdpctl_sync_maps(const struct xdpctl_map_fds *m, const struct config *cfg,
		     struct xdpctl_sync_stats *st)
{
	__u32 hosts_want = 0, hosts_keep = 0;
	struct xdpctl_sync_stats local;
	struct class_plan *cp = NULL;
	__u32 *class_ids = NULL;
	struct sets s = {0};
	struct sluice_settings set = {
		.abi_version = SLUICE_ABI_VERSION,
	};
	bool limits = false;
	int err;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));

	cp = calloc(1, sizeof(*cp));
	class_ids = calloc(cfg->xdp.allow.n ? cfg->xdp.allow.n : 1,
			   sizeof(*class_ids));
	if (!cp || !class_ids) {
		err = -ENOMEM;
		pr_err("xdp: cannot prepare map sync: %s", strerror(-err));
		goto out;
	}
	err = classes_read(m->classes_fd, cp);
	if (!err)
		err = plan_classes(cfg, cp, class_ids);
	if (!err)
		err = build_sets(m, cfg, class_ids, &s, st);
	if (err) {
		if (err == -ENOMEM)
			pr_err("xdp: cannot prepare map sync: %s",
			       strerror(-err));
		goto out;
	}
	for (size_t i = 0; i < SLUICE_MAX_CLASSES; i++)
		if (cp->used[i] && class_limits(&cp->want[i]))
			limits = true;

	set.flags = (cfg->xdp.allowlist_enabled ? SLUICE_SET_ALLOWLIST : 0) |
		    (cfg->xdp.scope == CFG_XDP_SCOPE_ALL ? SLUICE_SET_SCOPE_ALL
							 : 0) |
		    (limits ? SLUICE_SET_RATE : 0) |
		    (cfg->xdp.drop_sample ? SLUICE_SET_EVENTS : 0);
	set.v6_prefix = (__u8)(cfg->xdp.rate_v6_prefix &&
					       cfg->xdp.rate_v6_prefix <= 128
				       ? cfg->xdp.rate_v6_prefix
				       : SLUICE_DEF_V6_PREFIX);
	set.sample_shift =
		(__u8)(cfg->xdp.drop_sample ? log2u(cfg->xdp.drop_sample) : 0);
	cookie_settings(&cfg->xdp, &set);

	/* 0. the host hashes' flags on before any of them gets an entry */
	hosts_flags(&s, &hosts_want, &hosts_keep);
	err = xdpctl__set_flags(m->settings_fd, hosts_keep);
	if (err)
		pr_err("xdp: writing %s failed: %s",
		       SLUICE_MAP_NAME(SLUICE_MAP_SETTINGS), strerror(-err));
	/* 1. classes; 2. the tries and ports: loosening first, then the
	 * tightening parts */
	if (!err)
		err = classes_write(m->classes_fd, cp, &st->classes);
	if (!err)
		err = sync_add_or_make_room(&s.a4, s.a4.max_entries);
	if (!err)
		err = sync_add_or_make_room(&s.a6, s.a6.max_entries);
	if (!err)
		err = sync_add_or_make_room(&s.ports, SLUICE_PORT_SLOTS);
	if (!err)
		err = sync_add_or_make_room(&s.d4, s.d4.max_entries);
	if (!err)
		err = sync_add_or_make_room(&s.d6, s.d6.max_entries);
	/* 3. the host hashes, once every trie entry is in */
	if (!err)
		err = sync_replace(&s.ha4, s.ha4.max_entries);
	if (!err)
		err = sync_replace(&s.ha6, s.ha6.max_entries);
	if (!err)
		err = sync_replace(&s.hd4, s.hd4.max_entries);
	if (!err)
		err = sync_replace(&s.hd6, s.hd6.max_entries);
	/* 4. settings + generation; every hash that holds entries still
	 * looked up */
	set.flags |= hosts_keep;
	if (!err)
		err = write_settings(m->settings_fd, &set, &st->gen);
	/* 5. stale entries (the host hashes lost theirs in 3) */
	if (!err)
		err = sync_delete(&s.ports, SLUICE_PORT_SLOTS);
	if (!err)
		err = sync_delete(&s.a4, s.a4.max_entries);
	if (!err)
		err = sync_delete(&s.a6, s.a6.max_entries);
	if (!err)
		err = sync_delete(&s.d4, s.d4.max_entries);
	if (!err)
		err = sync_delete(&s.d6, s.d6.max_entries);
	/* 6. generation again, the flags of the hashes now empty off; unused
	 * classes */
	set.flags = (set.flags & ~SLUICE_SET_HOSTS_ALL) | hosts_want;
	if (!err)
		err = write_settings(m->settings_fd, &set, &st->gen);
	if (!err)
		err = classes_clear_unused(m->classes_fd, cp, &st->classes);
	count_add(&st->allow4, &s.cha4);
	count_add(&st->allow6, &s.cha6);
	count_add(&st->deny4, &s.chd4);
	count_add(&st->deny6, &s.chd6);
	if (err)
		goto out;

	pr_debug("xdp: sync: ports +%zu -%zu, allow4 +%zu ~%zu -%zu, "
		 "allow6 +%zu ~%zu -%zu, deny4 +%zu -%zu, deny6 +%zu -%zu, "
		 "classes +%zu ~%zu -%zu, allowlist %s, rate limits %s",
		 st->ports.added, st->ports.deleted, st->allow4.added,
		 st->allow4.updated, st->allow4.deleted, st->allow6.added,
		 st->allow6.updated, st->allow6.deleted, st->deny4.added,
		 st->deny4.deleted, st->deny6.added, st->deny6.deleted,
		 st->classes.added, st->classes.updated, st->classes.deleted,
		 set.flags & SLUICE_SET_ALLOWLIST ? "enforced" : "off",
		 limits ? "on" : "off");
	pr_debug("xdp: sync: host hashes looked up:%s%s%s%s",
		 hosts_want & SLUICE_SET_HOSTS_DENY4 ? " deny4" : "",
		 hosts_want & SLUICE_SET_HOSTS_DENY6 ? " deny6" : "",
		 hosts_want & SLUICE_SET_HOSTS_ALLOW4 ? " allow4" : "",
		 hosts_want & SLUICE_SET_HOSTS_ALLOW6 ? " allow6" : "");
out:
	sets_free(&s);
	free(cp);
	free(class_ids);
	return err;
}
