/* The dentry cache: one hash table of (parent, name) -> dentry and an LRU
 * list of unused dentries, both under vfs_dcache_lock, which also guards
 * every dentry's parent, name and flags. The lock is short: no file system
 * call and no inode release runs under it.
 *
 * A dentry's refcount is atomic. It drops to 0 only under the lock (the
 * dentry then goes on the LRU, still hashed) and leaves 0 only under the
 * lock (a hash lookup takes it off the LRU), so eviction, which also runs
 * under the lock, never frees a dentry someone is about to use. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

#define DCACHE_BUCKETS (1 << 16)

static pthread_mutex_t dcache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vfs_dentry *buckets[DCACHE_BUCKETS];
static struct vfs_dentry lru = {.lru_prev = &lru, .lru_next = &lru};
static long lru_len;
/* Unused dentries kept: each gofer one holds a fid (an fd in the gofer). */
static long lru_limit = 4096;
static long total;

static uint32_t name_hash(const struct vfs_dentry *parent, const char *name)
{
	uint32_t h = (uint32_t)((uintptr_t)parent >> 4) * 2654435761u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static void lru_del(struct vfs_dentry *d)
{
	if (!(d->flags & VFS_D_ONLRU))
		return;
	d->lru_prev->lru_next = d->lru_next;
	d->lru_next->lru_prev = d->lru_prev;
	d->lru_prev = d->lru_next = NULL;
	d->flags &= ~VFS_D_ONLRU;
	lru_len--;
}

static void lru_add(struct vfs_dentry *d)
{
	d->lru_prev = lru.lru_prev;
	d->lru_next = &lru;
	lru.lru_prev->lru_next = d;
	lru.lru_prev = d;
	d->flags |= VFS_D_ONLRU;
	lru_len++;
}

static void unhash(struct vfs_dentry *d)
{
	if (!(d->flags & VFS_D_HASHED))
		return;
	struct vfs_dentry **pp = &buckets[d->hash % DCACHE_BUCKETS];
	while (*pp && *pp != d)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = d->hnext;
	d->hnext = NULL;
	d->flags &= ~VFS_D_HASHED;
}

static void hash_in(struct vfs_dentry *d)
{
	struct vfs_dentry **b = &buckets[d->hash % DCACHE_BUCKETS];
	d->hnext = *b;
	*b = d;
	d->flags |= VFS_D_HASHED;
}

struct vfs_dentry *vfs_dget(struct vfs_dentry *d)
{
	atomic_fetch_add(&d->refs, 1);
	return d;
}

/* Frees a dentry already out of the hash and the LRU with refcount 0,
 * then drops what it held; its parent may become unused in turn. */
static void d_free(struct vfs_dentry *d)
{
	struct vfs_dentry *parent = d->parent;
	vfs_inode_put(d->inode);
	free(d->name);
	free(d);
	vfs_dput(parent);
}

/* Picks unused dentries beyond the limit off the LRU; lock held. Returns
 * a chain (through hnext) for the caller to free after unlocking. */
static struct vfs_dentry *evict_locked(long limit, struct vfs_sb *only)
{
	struct vfs_dentry *chain = NULL;
	struct vfs_dentry *d = lru.lru_next;
	while (d != &lru && lru_len > limit) {
		struct vfs_dentry *next = d->lru_next;
		if (atomic_load(&d->refs) == 0 && (!only || d->sb == only) &&
		    atomic_load(&d->mounted) == 0) {
			lru_del(d);
			unhash(d);
			total--;
			d->hnext = chain;
			chain = d;
		}
		d = next;
	}
	return chain;
}

static void free_chain(struct vfs_dentry *chain)
{
	while (chain) {
		struct vfs_dentry *next = chain->hnext;
		d_free(chain);
		chain = next;
	}
}

void vfs_dput(struct vfs_dentry *d)
{
	if (!d)
		return;
	long old = atomic_load(&d->refs);
	while (old > 1) {
		if (atomic_compare_exchange_weak(&d->refs, &old, old - 1))
			return;
	}
	pthread_mutex_lock(&dcache_lock);
	if (atomic_fetch_sub(&d->refs, 1) != 1) {
		pthread_mutex_unlock(&dcache_lock);
		return;
	}
	if (!(d->flags & VFS_D_HASHED)) {
		/* Unlinked or replaced: nobody can find it again. */
		lru_del(d);
		total--;
		pthread_mutex_unlock(&dcache_lock);
		d_free(d);
		return;
	}
	lru_add(d);
	struct vfs_dentry *chain = NULL;
	if (lru_len > lru_limit)
		chain = evict_locked(lru_limit * 7 / 8, NULL);
	pthread_mutex_unlock(&dcache_lock);
	free_chain(chain);
}

/* Lock held. */
static struct vfs_dentry *find_locked(struct vfs_dentry *parent,
				      const char *name, uint32_t h)
{
	for (struct vfs_dentry *d = buckets[h % DCACHE_BUCKETS]; d;
	     d = d->hnext) {
		if (d->hash == h && d->parent == parent &&
		    strcmp(d->name, name) == 0) {
			if (atomic_fetch_add(&d->refs, 1) == 0)
				lru_del(d);
			return d;
		}
	}
	return NULL;
}

struct vfs_dentry *vfs_d_lookup(struct vfs_dentry *parent, const char *name)
{
	uint32_t h = name_hash(parent, name);
	pthread_mutex_lock(&dcache_lock);
	struct vfs_dentry *d = find_locked(parent, name, h);
	pthread_mutex_unlock(&dcache_lock);
	return d;
}

static struct vfs_dentry *d_alloc(struct vfs_sb *sb, const char *name,
				  struct vfs_inode *inode)
{
	struct vfs_dentry *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->name = strdup(name);
	if (!d->name) {
		free(d);
		return NULL;
	}
	atomic_init(&d->refs, 1);
	atomic_init(&d->mounted, 0);
	d->sb = sb;
	d->inode = inode ? vfs_inode_ref(inode) : NULL;
	return d;
}

/* A new dentry for parent/name, not yet in the hash. */
static struct vfs_dentry *d_alloc_child(struct vfs_dentry *parent,
					const char *name,
					struct vfs_inode *inode)
{
	struct vfs_dentry *d = d_alloc(parent->sb, name, inode);
	if (!d)
		return NULL;
	d->parent = vfs_dget(parent);
	d->hash = name_hash(parent, name);
	return d;
}

struct vfs_dentry *vfs_d_add(struct vfs_dentry *parent, const char *name,
			     struct vfs_inode *inode)
{
	struct vfs_dentry *d = d_alloc_child(parent, name, inode);
	if (!d)
		return NULL;
	bool cache = inode || !(parent->sb->flags & VFS_SB_NO_NEGATIVE);
	pthread_mutex_lock(&dcache_lock);
	struct vfs_dentry *old = find_locked(parent, name, d->hash);
	if (old)
		unhash(old);
	if (cache)
		hash_in(d);
	total++;
	pthread_mutex_unlock(&dcache_lock);
	vfs_dput(old);
	return d;
}

void vfs_d_drop(struct vfs_dentry *d)
{
	pthread_mutex_lock(&dcache_lock);
	unhash(d);
	pthread_mutex_unlock(&dcache_lock);
}

void vfs_d_delete(struct vfs_dentry *d)
{
	pthread_mutex_lock(&dcache_lock);
	unhash(d);
	d->flags |= VFS_D_DEAD;
	pthread_mutex_unlock(&dcache_lock);
}

struct vfs_dentry *vfs_d_new_dead(struct vfs_dentry *parent, const char *name,
				  struct vfs_inode *inode)
{
	struct vfs_dentry *d = d_alloc_child(parent, name, inode);
	if (!d)
		return NULL;
	d->flags |= VFS_D_DEAD;
	pthread_mutex_lock(&dcache_lock);
	total++;
	pthread_mutex_unlock(&dcache_lock);
	return d;
}

/* The sb root dentry: never hashed, parent NULL. */
struct vfs_dentry *vfs_d_make_root(struct vfs_sb *sb, struct vfs_inode *inode)
{
	struct vfs_dentry *d = d_alloc(sb, "/", inode);
	if (!d)
		return NULL;
	pthread_mutex_lock(&dcache_lock);
	total++;
	pthread_mutex_unlock(&dcache_lock);
	return d;
}

struct vfs_dentry *vfs_d_parent(struct vfs_dentry *d)
{
	pthread_mutex_lock(&dcache_lock);
	struct vfs_dentry *p = d->parent ? d->parent : d;
	vfs_dget(p);
	pthread_mutex_unlock(&dcache_lock);
	return p;
}

int vfs_d_name(struct vfs_dentry *d, char *buf, size_t len)
{
	pthread_mutex_lock(&dcache_lock);
	size_t n = strlen(d->name);
	int err = n < len ? 0 : -ENAMETOOLONG;
	if (!err)
		memcpy(buf, d->name, n + 1);
	pthread_mutex_unlock(&dcache_lock);
	return err;
}

bool vfs_d_dead(struct vfs_dentry *d)
{
	pthread_mutex_lock(&dcache_lock);
	bool dead = d->flags & VFS_D_DEAD;
	pthread_mutex_unlock(&dcache_lock);
	return dead;
}

/* Rename in the cache: d now is ndir/nname; whatever was cached there is
 * dropped. exchange: the entry at ndir/nname (other) moves to d's place. */
void vfs_d_move(struct vfs_dentry *d, struct vfs_dentry *ndir,
		const char *nname, struct vfs_dentry *other, bool exchange)
{
	char *nn = strdup(nname);
	char *on = exchange && other ? strdup(d->name) : NULL;
	struct vfs_dentry *put1 = NULL, *put2 = NULL, *victim = NULL;

	pthread_mutex_lock(&dcache_lock);
	if (!nn || (exchange && other && !on)) {
		/* No memory for the names: drop both, lookups will refill. */
		unhash(d);
		if (other)
			unhash(other);
		pthread_mutex_unlock(&dcache_lock);
		free(nn);
		free(on);
		return;
	}
	struct vfs_dentry *odir = d->parent;
	uint32_t nh = name_hash(ndir, nname);
	struct vfs_dentry *cached = find_locked(ndir, nname, nh);
	if (cached && cached != d && cached != other) {
		unhash(cached);
		cached->flags |= VFS_D_DEAD;
		victim = cached;
	} else if (cached) {
		/* The extra reference find_locked took. */
		atomic_fetch_sub(&cached->refs, 1);
	}
	unhash(d);
	if (other)
		unhash(other);
	if (exchange && other) {
		char *tmp = other->name;
		other->name = on;
		free(tmp);
		other->parent = odir; /* the references swap too */
		other->hash = name_hash(odir, other->name);
		hash_in(other);
	} else if (other) {
		other->flags |= VFS_D_DEAD;
	}
	free(d->name);
	d->name = nn;
	if (exchange && other) {
		d->parent = ndir;
	} else {
		put1 = odir;
		d->parent = ndir;
		atomic_fetch_add(&ndir->refs, 1);
	}
	d->hash = nh;
	hash_in(d);
	(void)put2;
	pthread_mutex_unlock(&dcache_lock);
	vfs_dput(victim);
	vfs_dput(put1);
}

void vfs_dcache_shrink(struct vfs_sb *sb)
{
	for (;;) {
		pthread_mutex_lock(&dcache_lock);
		struct vfs_dentry *chain = evict_locked(0, sb);
		pthread_mutex_unlock(&dcache_lock);
		if (!chain)
			return;
		free_chain(chain);
	}
}

void vfs_dcache_set_limit(long n)
{
	pthread_mutex_lock(&dcache_lock);
	lru_limit = n;
	struct vfs_dentry *chain = evict_locked(n, NULL);
	pthread_mutex_unlock(&dcache_lock);
	free_chain(chain);
}

long vfs_dcache_count(void)
{
	pthread_mutex_lock(&dcache_lock);
	long n = total;
	pthread_mutex_unlock(&dcache_lock);
	return n;
}

/* For the path walk: snapshot of d's parent and whether d is an sb root,
 * under one lock. */
void vfs_dcache_lock(void)
{
	pthread_mutex_lock(&dcache_lock);
}

void vfs_dcache_unlock(void)
{
	pthread_mutex_unlock(&dcache_lock);
}
