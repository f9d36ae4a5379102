/* The overlay: a writable upper layer (a tmpfs) over a read-only lower one
 * (the gofer's tree), as Linux's overlayfs does it:
 *   - a name is looked up in the upper layer, then, unless the upper
 *     entry is a non-directory or an opaque directory, in the lower;
 *     directories found in both are merged;
 *   - a change to something only the lower layer has copies it up first
 *     (its directory chain, then it: data, mode, owner, times, xattrs);
 *   - removing or renaming away a name the lower layer has leaves a
 *     whiteout in the upper layer (a character device 0:0); a directory
 *     made where a whiteout was is opaque (the xattr
 *     trusted.overlay.opaque=y) so the old lower contents stay hidden;
 *   - a listing merges both layers, without whiteouts and hidden names.
 * Renaming a directory that has lower contents answers EXDEV, as Linux
 * does without redirect_dir (mv then copies).
 *
 * An overlay inode holds its layers' dentries. Until it is copied up, a
 * lower-only object has exactly one name (renames and links copy up
 * first), which the inode keeps (parent overlay dentry + name) for the
 * copy-up. Lock order: the VFS holds overlay rwsems; the overlay then
 * takes its inode's copy-up lock and the layers' rwsems (through the
 * vfs_k_* calls), never the other way round. A copy-up finishes the
 * parent before it takes the child's lock. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "overlay.h"

#define OPAQUE_XATTR  "trusted.overlay.opaque"
#define ORIGIN_XATTR  "trusted.overlay.origin"
#define OVL_PREFIX    "trusted.overlay."
#define UPPER_INO_BIT (1ULL << 62)

struct ovl_sb {
	struct vfs_mntns *upper_ns, *lower_ns;
	struct vfs_mount *upper_mnt, *lower_mnt;
};

struct ovl_inode {
	pthread_mutex_t lock; /* upper, parent, name, opaque */
	struct vfs_dentry *upper;
	struct vfs_dentry *lower;
	bool opaque;
	struct vfs_dentry *parent; /* lower-only: its overlay parent */
	char *name;
};

static const struct vfs_inode_ops ovl_iops;
static const struct file_ops ovl_reg_fops, ovl_dir_fops;

static struct ovl_inode *OI(struct vfs_inode *i)
{
	return i->priv;
}

static struct ovl_sb *OSB(struct vfs_sb *sb)
{
	return sb->priv;
}

static struct vfs_dentry *upper_of(struct vfs_inode *i)
{
	struct ovl_inode *oi = OI(i);
	pthread_mutex_lock(&oi->lock);
	struct vfs_dentry *u = oi->upper ? vfs_dget(oi->upper) : NULL;
	pthread_mutex_unlock(&oi->lock);
	return u;
}

/* The layer that shows: upper if there is one. */
static struct vfs_dentry *top_of(struct vfs_inode *i)
{
	struct vfs_dentry *u = upper_of(i);
	return u ? u : vfs_dget(OI(i)->lower);
}

static bool is_whiteout(struct vfs_dentry *d)
{
	if (!d->inode || !S_ISCHR(d->inode->type))
		return false;
	struct vfs_attr a;
	return vfs_getattr(d->inode, &a) == 0 && a.rdev == 0;
}

static bool is_opaque(struct vfs_dentry *d)
{
	struct vfs_inode *i = d->inode;
	char v[2];
	if (!i || !S_ISDIR(i->type) || !i->ops || !i->ops->getxattr)
		return false;
	long n = i->ops->getxattr(i, OPAQUE_XATTR, v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

/* The inode number a copied-up file had in the lower layer, kept in the
 * upper copy so stat stays the same across the copy-up. */
static uint64_t origin_ino(struct vfs_dentry *u)
{
	struct vfs_inode *ui = u->inode;
	uint64_t ino;
	if (ui->ops && ui->ops->getxattr &&
	    ui->ops->getxattr(ui, ORIGIN_XATTR, &ino, sizeof(ino)) ==
		sizeof(ino))
		return ino;
	return ui->ino | UPPER_INO_BIT;
}

static struct vfs_inode *ovl_inode_new(struct vfs_sb *sb, struct vfs_dentry *u,
				       struct vfs_dentry *l, bool opaque,
				       struct vfs_dentry *parent,
				       const char *name)
{
	struct ovl_inode *oi = calloc(1, sizeof(*oi));
	if (!oi)
		return NULL;
	struct vfs_dentry *top = u ? u : l;
	uint64_t ino = l ? l->inode->ino : origin_ino(u);
	struct vfs_inode *i =
	    vfs_inode_new(sb, top->inode->type, ino, &ovl_iops, NULL, oi);
	if (!i) {
		free(oi);
		return NULL;
	}
	pthread_mutex_init(&oi->lock, NULL);
	oi->upper = u ? vfs_dget(u) : NULL;
	oi->lower = l ? vfs_dget(l) : NULL;
	oi->opaque = opaque;
	if (!u && parent) {
		oi->parent = vfs_dget(parent);
		oi->name = strdup(name);
		if (!oi->name) {
			vfs_inode_put(i);
			return NULL;
		}
	}
	return i;
}

static void ovl_evict(struct vfs_inode *i)
{
	struct ovl_inode *oi = OI(i);
	if (!oi)
		return;
	vfs_dput(oi->upper);
	vfs_dput(oi->lower);
	vfs_dput(oi->parent);
	free(oi->name);
	pthread_mutex_destroy(&oi->lock);
	free(oi);
	i->priv = NULL;
}

/* ---- lookup ------------------------------------------------------------ */

/* Does the lower layer have name under the overlay directory dir? */
static bool lower_has(struct vfs_inode *dir, const char *name)
{
	struct ovl_inode *di = OI(dir);
	struct vfs_dentry *d;
	if (!di->lower || di->opaque)
		return false;
	if (vfs_lookup_child(di->lower, name, &d) < 0)
		return false;
	bool has = d->inode != NULL;
	vfs_dput(d);
	return has;
}

static int ovl_lookup(struct vfs_dentry *dp, const char *name,
		      struct vfs_inode **out)
{
	struct ovl_inode *pi = OI(dp->inode);
	struct vfs_dentry *pu = upper_of(dp->inode);
	struct vfs_dentry *u = NULL, *l = NULL, *d;
	bool opaque = false;
	int err = 0;

	if (pu) {
		err = vfs_lookup_child(pu, name, &d);
		vfs_dput(pu);
		if (err < 0)
			return err;
		if (is_whiteout(d)) {
			vfs_dput(d);
			return -ENOENT;
		}
		if (d->inode)
			u = d;
		else
			vfs_dput(d);
	}
	if (u && S_ISDIR(u->inode->type))
		opaque = is_opaque(u);
	bool want_lower = pi->lower && !pi->opaque &&
			  (!u || (S_ISDIR(u->inode->type) && !opaque));
	if (want_lower) {
		err = vfs_lookup_child(pi->lower, name, &d);
		if (err < 0 && err != -ENOTDIR) {
			vfs_dput(u);
			return err;
		}
		if (err == 0) {
			/* Under an upper directory only a lower directory
			 * merges; anything else stays hidden. */
			if (d->inode && (!u || S_ISDIR(d->inode->type)))
				l = d;
			else
				vfs_dput(d);
		}
		err = 0;
	}
	if (!u && !l)
		return -ENOENT;
	struct vfs_inode *i = ovl_inode_new(dp->sb, u, l, opaque, dp, name);
	vfs_dput(u);
	vfs_dput(l);
	if (!i)
		return -ENOMEM;
	*out = i;
	return 0;
}

/* ---- copy-up ----------------------------------------------------------- */

static int copy_data(struct ovl_sb *os, struct vfs_dentry *from,
		     struct vfs_dentry *to)
{
	struct vfs_path lp = {os->lower_mnt, from};
	struct vfs_path up = {os->upper_mnt, to};
	struct file *in = NULL, *out = NULL;
	int err = vfs_file_open(NULL, &lp, O_RDONLY, &in);
	if (err == 0)
		err = vfs_file_open(NULL, &up, O_WRONLY, &out);
	char *buf = err == 0 ? malloc(1 << 20) : NULL;
	if (err == 0 && !buf)
		err = -ENOMEM;
	uint64_t pos = 0;
	while (err == 0) {
		uint64_t rp = pos;
		long n = in->ops->read(NULL, in, buf, 1 << 20, &rp);
		if (n < 0)
			err = (int)n;
		if (n <= 0)
			break;
		for (long done = 0; done < n && err == 0;) {
			uint64_t wp = pos + (uint64_t)done;
			long w = out->ops->write(NULL, out, buf + done,
						 (size_t)(n - done), &wp);
			if (w < 0)
				err = (int)w;
			else if (w == 0)
				err = -EIO;
			else
				done += w;
		}
		pos += (uint64_t)n;
	}
	free(buf);
	file_put(in);
	file_put(out);
	return err;
}

static void copy_xattrs(struct vfs_inode *from, struct vfs_inode *to)
{
	if (!from->ops || !from->ops->listxattr || !to->ops ||
	    !to->ops->setxattr)
		return;
	char *names = malloc(65536);
	char *val = malloc(65536);
	long n = names && val ? from->ops->listxattr(from, names, 65536) : -1;
	for (long p = 0; p < n;) {
		const char *name = names + p;
		size_t l = strnlen(name, (size_t)(n - p));
		p += (long)l + 1;
		if (strncmp(name, OVL_PREFIX, strlen(OVL_PREFIX)) == 0)
			continue;
		long vl = from->ops->getxattr(from, name, val, 65536);
		if (vl >= 0)
			to->ops->setxattr(to, name, val, (size_t)vl, 0);
	}
	free(names);
	free(val);
}

static int copy_up_with(struct vfs_inode *i, bool data);

/* Gives i an upper layer (its directories first). data false: a regular
 * file's contents are not copied (it is about to be truncated). */
static int copy_up_with(struct vfs_inode *i, bool data)
{
	struct ovl_inode *oi = OI(i);
	struct ovl_sb *os = OSB(i->sb);

	pthread_mutex_lock(&oi->lock);
	bool done = oi->upper != NULL;
	struct vfs_dentry *parent = oi->parent ? vfs_dget(oi->parent) : NULL;
	pthread_mutex_unlock(&oi->lock);
	if (done) {
		vfs_dput(parent);
		return 0;
	}
	if (!parent)
		return -EIO; /* only the root has no parent, and it is upper */
	int err = copy_up_with(parent->inode, true);
	struct vfs_dentry *pu = err == 0 ? upper_of(parent->inode) : NULL;
	vfs_dput(parent);
	if (err < 0)
		return err;

	pthread_mutex_lock(&oi->lock);
	if (oi->upper) {
		pthread_mutex_unlock(&oi->lock);
		vfs_dput(pu);
		return 0;
	}
	struct vfs_dentry *l = oi->lower;
	struct vfs_attr a;
	err = vfs_getattr(l->inode, &a);
	char *target = NULL;
	struct vfs_create vc = {.uid = a.uid, .gid = a.gid, .rdev = a.rdev};
	if (err == 0) {
		switch (a.mode & S_IFMT) {
		case S_IFREG:
			vc.mode = S_IFREG | 0600;
			break;
		case S_IFDIR:
			vc.mode = S_IFDIR | 0700;
			break;
		case S_IFLNK:
			vc.mode = S_IFLNK | 0777;
			target = malloc(4097);
			if (!target) {
				err = -ENOMEM;
				break;
			}
			long n =
			    l->inode->ops->readlink(l->inode, target, 4096);
			if (n < 0)
				err = (int)n;
			else
				target[n] = '\0';
			vc.target = target;
			break;
		default:
			vc.mode = a.mode;
			break;
		}
	}
	struct vfs_dentry *u = NULL;
	if (err == 0)
		err = vfs_k_create(pu, oi->name, &vc, &u);
	free(target);
	if (err == 0 && S_ISREG(a.mode) && data)
		err = copy_data(os, l, u);
	if (err == 0 && !S_ISLNK(a.mode)) {
		/* The owner and mode (set-id bits included) last, so the
		 * copy itself could write the file. */
		struct vfs_setattr s = {
		    .valid = VFS_ATTR_MODE | VFS_ATTR_UID | VFS_ATTR_GID |
			     VFS_ATTR_ATIME | VFS_ATTR_MTIME,
		    .mode = a.mode,
		    .uid = a.uid,
		    .gid = a.gid,
		    .atime = a.atime,
		    .mtime = a.mtime,
		};
		pthread_mutex_lock(&u->inode->rwsem);
		err = u->inode->ops->setattr(u->inode, &s);
		pthread_mutex_unlock(&u->inode->rwsem);
		copy_xattrs(l->inode, u->inode);
	}
	if (err == 0 && u->inode->ops->setxattr) {
		uint64_t ino = i->ino;
		u->inode->ops->setxattr(u->inode, ORIGIN_XATTR, &ino,
					sizeof(ino), 0);
	}
	if (err == 0) {
		oi->upper = u;
		u = NULL;
		vfs_dput(oi->parent);
		oi->parent = NULL;
		free(oi->name);
		oi->name = NULL;
	} else if (u) {
		vfs_k_unlink(pu, u, S_ISDIR(a.mode));
	}
	pthread_mutex_unlock(&oi->lock);
	vfs_dput(u);
	vfs_dput(pu);
	return err;
}

int overlay_copy_up(struct vfs_inode *i)
{
	return copy_up_with(i, true);
}

/* ---- attributes -------------------------------------------------------- */

static int ovl_getattr(struct vfs_inode *i, struct vfs_attr *a)
{
	struct vfs_dentry *t = top_of(i);
	int err = vfs_getattr(t->inode, a);
	vfs_dput(t);
	if (err == 0) {
		a->dev = i->sb->dev;
		a->ino = i->ino;
	}
	return err;
}

static int ovl_setattr(struct vfs_inode *i, const struct vfs_setattr *s)
{
	bool truncate0 = (s->valid & VFS_ATTR_SIZE) && s->size == 0;
	int err = copy_up_with(i, !truncate0);
	if (err < 0)
		return err;
	struct vfs_dentry *u = upper_of(i);
	struct vfs_inode *ui = u->inode;
	pthread_mutex_lock(&ui->rwsem);
	err = ui->ops->setattr(ui, s);
	pthread_mutex_unlock(&ui->rwsem);
	vfs_dput(u);
	return err;
}

static long ovl_readlink(struct vfs_inode *i, char *buf, size_t len)
{
	struct vfs_dentry *t = top_of(i);
	long r = t->inode->ops->readlink(t->inode, buf, len);
	vfs_dput(t);
	return r;
}

static long ovl_getxattr(struct vfs_inode *i, const char *name, void *buf,
			 size_t len)
{
	if (strncmp(name, OVL_PREFIX, strlen(OVL_PREFIX)) == 0)
		return -ENODATA;
	struct vfs_dentry *t = top_of(i);
	long r = t->inode->ops && t->inode->ops->getxattr
		     ? t->inode->ops->getxattr(t->inode, name, buf, len)
		     : -EOPNOTSUPP;
	vfs_dput(t);
	return r;
}

static long ovl_listxattr(struct vfs_inode *i, char *buf, size_t len)
{
	struct vfs_dentry *t = top_of(i);
	struct vfs_inode *ti = t->inode;
	char *all = malloc(65536);
	long n = all && ti->ops && ti->ops->listxattr
		     ? ti->ops->listxattr(ti, all, 65536)
		     : 0;
	vfs_dput(t);
	long out = 0;
	for (long p = 0; p < n;) {
		size_t l = strnlen(all + p, (size_t)(n - p));
		if (strncmp(all + p, OVL_PREFIX, strlen(OVL_PREFIX)) != 0) {
			if (len) {
				if ((size_t)out + l + 1 > len) {
					free(all);
					return -ERANGE;
				}
				memcpy(buf + out, all + p, l + 1);
			}
			out += (long)l + 1;
		}
		p += (long)l + 1;
	}
	free(all);
	return n < 0 ? n : out;
}

static int ovl_setxattr(struct vfs_inode *i, const char *name, const void *val,
			size_t len, int flags)
{
	if (strncmp(name, OVL_PREFIX, strlen(OVL_PREFIX)) == 0)
		return -EPERM;
	int err = overlay_copy_up(i);
	if (err < 0)
		return err;
	struct vfs_dentry *u = upper_of(i);
	struct vfs_inode *ui = u->inode;
	err = ui->ops && ui->ops->setxattr
		  ? ui->ops->setxattr(ui, name, val, len, flags)
		  : -EOPNOTSUPP;
	vfs_dput(u);
	return err;
}

static int ovl_removexattr(struct vfs_inode *i, const char *name)
{
	if (strncmp(name, OVL_PREFIX, strlen(OVL_PREFIX)) == 0)
		return -ENODATA;
	int err = overlay_copy_up(i);
	if (err < 0)
		return err;
	struct vfs_dentry *u = upper_of(i);
	struct vfs_inode *ui = u->inode;
	err = ui->ops && ui->ops->removexattr ? ui->ops->removexattr(ui, name)
					      : -EOPNOTSUPP;
	vfs_dput(u);
	return err;
}

/* ---- the merged listing ------------------------------------------------ */

struct ent {
	char *name;
	uint64_t ino;
	uint8_t type;
	bool hidden; /* a whiteout, or a name an upper entry covers */
};

struct listing {
	struct ent *e;
	size_t n, cap;
};

static void listing_free(struct listing *l)
{
	if (!l)
		return;
	for (size_t k = 0; k < l->n; k++)
		free(l->e[k].name);
	free(l->e);
	free(l);
}

/* The upper layer's names, for the lower listing to skip: a hash set of
 * indexes into the listing (the listings can hold 10 000 names). */
struct nameset {
	size_t *slot; /* index + 1; 0: empty */
	size_t mask;
};

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int nameset_build(struct nameset *ns, const struct listing *l)
{
	size_t cap = 16;
	while (cap < 2 * l->n)
		cap *= 2;
	ns->slot = calloc(cap, sizeof(*ns->slot));
	if (!ns->slot)
		return -ENOMEM;
	ns->mask = cap - 1;
	for (size_t k = 0; k < l->n; k++) {
		size_t i = name_hash(l->e[k].name) & ns->mask;
		while (ns->slot[i])
			i = (i + 1) & ns->mask;
		ns->slot[i] = k + 1;
	}
	return 0;
}

static bool nameset_has(const struct nameset *ns, const struct listing *l,
			const char *name)
{
	for (size_t i = name_hash(name) & ns->mask; ns->slot[i];
	     i = (i + 1) & ns->mask)
		if (strcmp(l->e[ns->slot[i] - 1].name, name) == 0)
			return true;
	return false;
}

struct collect {
	struct vfs_dir_ctx ctx;
	struct listing *l;
	size_t first; /* entries before this are the other layer's */
	int err;
};

static bool collect_emit(struct vfs_dir_ctx *ctx, const char *name, size_t len,
			 uint64_t ino, unsigned type, uint64_t next)
{
	struct collect *c = (struct collect *)ctx;
	struct listing *l = c->l;
	(void)next;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return true;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct ent *e = realloc(l->e, cap * sizeof(*e));
		if (!e) {
			c->err = -ENOMEM;
			return false;
		}
		l->e = e;
		l->cap = cap;
	}
	char *n = strndup(name, len);
	if (!n) {
		c->err = -ENOMEM;
		return false;
	}
	l->e[l->n++] = (struct ent){n, ino, (uint8_t)type, false};
	return true;
}

/* Lists one layer's directory d into l. */
static int list_layer(struct vfs_mount *mnt, struct vfs_dentry *d,
		      struct listing *l)
{
	struct vfs_path p = {mnt, d};
	struct file *f;
	int err = vfs_file_open(NULL, &p, O_RDONLY | O_DIRECTORY, &f);
	if (err < 0)
		return err;
	struct collect c = {{collect_emit, 0}, l, l->n, 0};
	for (;;) {
		size_t before = l->n;
		uint64_t pos = c.ctx.pos;
		err = vfs_iterate(NULL, f, &c.ctx);
		if (err < 0 || c.err < 0 ||
		    (l->n == before && c.ctx.pos == pos))
			break;
	}
	file_put(f);
	return err < 0 ? err : c.err;
}

/* The names an overlay directory shows. */
static int merged(struct vfs_inode *dir, struct listing **out)
{
	struct ovl_inode *oi = OI(dir);
	struct ovl_sb *os = OSB(dir->sb);
	struct listing *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	struct vfs_dentry *u = upper_of(dir);
	int err = 0;
	bool opaque = oi->opaque;
	if (u) {
		err = list_layer(os->upper_mnt, u, l);
		for (size_t k = 0; k < l->n && err == 0; k++) {
			if (l->e[k].type != DT_CHR)
				continue;
			struct vfs_dentry *c;
			if (vfs_lookup_child(u, l->e[k].name, &c) == 0) {
				l->e[k].hidden = is_whiteout(c);
				vfs_dput(c);
			}
		}
	}
	if (err == 0 && oi->lower && !opaque) {
		struct listing *ll = calloc(1, sizeof(*ll));
		struct nameset ns = {NULL, 0};
		err = ll ? list_layer(os->lower_mnt, oi->lower, ll) : -ENOMEM;
		if (err == 0 && l->n)
			err = nameset_build(&ns, l);
		size_t nupper = l->n;
		for (size_t k = 0; err == 0 && k < ll->n; k++) {
			if (nupper && nameset_has(&ns, l, ll->e[k].name))
				continue;
			if (l->n == l->cap) {
				size_t cap = l->cap ? l->cap * 2 : 64;
				struct ent *e = realloc(l->e, cap * sizeof(*e));
				if (!e) {
					err = -ENOMEM;
					break;
				}
				l->e = e;
				l->cap = cap;
			}
			l->e[l->n++] = ll->e[k];
			ll->e[k].name = NULL;
		}
		free(ns.slot);
		listing_free(ll);
	}
	vfs_dput(u);
	if (err < 0) {
		listing_free(l);
		return err;
	}
	*out = l;
	return 0;
}

static int ovl_iterate(struct task *t, struct file *f, struct vfs_dir_ctx *ctx)
{
	(void)t;
	struct listing *l = f->priv;
	if (!l || ctx->pos == 0) {
		struct listing *n;
		int err = merged(f->inode, &n);
		if (err < 0)
			return err;
		listing_free(l);
		f->priv = l = n;
	}
	if (!vfs_dir_emit_dots(f, ctx))
		return 0;
	for (uint64_t k = ctx->pos - 2; k < l->n; k++) {
		struct ent *e = &l->e[k];
		if (!e->hidden && !ctx->emit(ctx, e->name, strlen(e->name),
					     e->ino, e->type, k + 3))
			break;
		ctx->pos = k + 3;
	}
	return 0;
}

static void ovl_dir_release(struct file *f)
{
	listing_free(f->priv);
	f->priv = NULL;
}

static int dir_empty(struct vfs_inode *dir)
{
	struct listing *l;
	int err = merged(dir, &l);
	if (err < 0)
		return err;
	for (size_t k = 0; k < l->n; k++)
		if (!l->e[k].hidden)
			err = -ENOTEMPTY;
	listing_free(l);
	return err;
}

/* Removes the whiteouts left in an upper directory, so the layer's own
 * rmdir or rename-over sees it empty. */
static int purge_whiteouts(struct ovl_sb *os, struct vfs_dentry *u)
{
	struct listing *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	int err = list_layer(os->upper_mnt, u, l);
	for (size_t k = 0; k < l->n && err == 0; k++) {
		struct vfs_dentry *c;
		if (vfs_lookup_child(u, l->e[k].name, &c) < 0)
			continue;
		if (is_whiteout(c))
			err = vfs_k_unlink(u, c, false);
		vfs_dput(c);
	}
	listing_free(l);
	return err;
}

/* ---- namespace --------------------------------------------------------- */

static int make_whiteout(struct vfs_dentry *pu, const char *name)
{
	struct vfs_create vc = {.mode = S_IFCHR | 0, .rdev = makedev(0, 0)};
	return vfs_k_create(pu, name, &vc, NULL);
}

/* Removes a whiteout at name in pu, if there is one: *was says so. */
static int clear_whiteout(struct vfs_dentry *pu, const char *name, bool *was)
{
	struct vfs_dentry *d;
	*was = false;
	int err = vfs_lookup_child(pu, name, &d);
	if (err < 0)
		return err;
	if (is_whiteout(d)) {
		*was = true;
		err = vfs_k_unlink(pu, d, false);
	} else if (d->inode) {
		err = -EEXIST;
	}
	vfs_dput(d);
	return err;
}

static int set_opaque(struct vfs_dentry *u)
{
	struct vfs_inode *ui = u->inode;
	if (!ui->ops || !ui->ops->setxattr)
		return -EOPNOTSUPP;
	return ui->ops->setxattr(ui, OPAQUE_XATTR, "y", 1, 0);
}

static int ovl_create(struct vfs_dentry *dir, const char *name,
		      const struct vfs_create *c, struct vfs_inode **out)
{
	int err = overlay_copy_up(dir->inode);
	if (err < 0)
		return err;
	struct vfs_dentry *pu = upper_of(dir->inode);
	bool was;
	err = clear_whiteout(pu, name, &was);
	struct vfs_dentry *u = NULL;
	if (err == 0)
		err = vfs_k_create(pu, name, c, &u);
	bool opaque = false;
	if (err == 0 && S_ISDIR(c->mode) &&
	    (was || lower_has(dir->inode, name))) {
		/* What the lower layer had under this name stays hidden. */
		err = set_opaque(u);
		opaque = true;
	}
	if (err == 0) {
		*out = ovl_inode_new(dir->sb, u, NULL, opaque, NULL, NULL);
		if (!*out)
			err = -ENOMEM;
	}
	if (err < 0 && u)
		vfs_k_unlink(pu, u, S_ISDIR(c->mode));
	if (err < 0 && was)
		make_whiteout(pu, name);
	vfs_dput(u);
	vfs_dput(pu);
	return err;
}

/* O_TMPFILE: the upper layer's, in the copied-up directory. */
static int ovl_tmpfile(struct vfs_dentry *dir, const struct vfs_create *c,
		       struct vfs_inode **out)
{
	int err = overlay_copy_up(dir->inode);
	if (err < 0)
		return err;
	struct vfs_dentry *pu = upper_of(dir->inode);
	struct vfs_dentry *u = NULL;
	err = vfs_k_tmpfile(pu, c, &u);
	if (err == 0) {
		*out = ovl_inode_new(dir->sb, u, NULL, false, NULL, NULL);
		if (!*out)
			err = -ENOMEM;
	}
	vfs_dput(u);
	vfs_dput(pu);
	return err;
}

static int ovl_link(struct vfs_dentry *dir, const char *name,
		    struct vfs_inode *target)
{
	int err = overlay_copy_up(dir->inode);
	if (err == 0)
		err = overlay_copy_up(target);
	if (err < 0)
		return err;
	struct vfs_dentry *pu = upper_of(dir->inode);
	struct vfs_dentry *tu = upper_of(target);
	bool was;
	err = clear_whiteout(pu, name, &was);
	if (err == 0)
		err = vfs_k_link(pu, name, tu->inode, NULL);
	if (err < 0 && was)
		make_whiteout(pu, name);
	vfs_dput(tu);
	vfs_dput(pu);
	return err;
}

static int ovl_unlink(struct vfs_dentry *dir, const char *name,
		      struct vfs_dentry *victim, bool rmdir)
{
	struct ovl_sb *os = OSB(dir->sb);
	int err = overlay_copy_up(dir->inode);
	if (err < 0)
		return err;
	if (rmdir) {
		err = dir_empty(victim->inode);
		if (err < 0)
			return err;
	}
	struct vfs_dentry *pu = upper_of(dir->inode);
	bool whiteout = lower_has(dir->inode, name);
	struct vfs_dentry *u = NULL;
	err = vfs_lookup_child(pu, name, &u);
	if (err == 0 && u->inode && !is_whiteout(u)) {
		if (rmdir)
			err = purge_whiteouts(os, u);
		if (err == 0)
			err = vfs_k_unlink(pu, u, rmdir);
	}
	vfs_dput(u);
	if (err == 0 && whiteout)
		err = make_whiteout(pu, name);
	vfs_dput(pu);
	return err;
}

static int ovl_rename(struct vfs_dentry *odir, const char *oname,
		      struct vfs_dentry *ndir, const char *nname,
		      struct vfs_dentry *ov, struct vfs_dentry *nv,
		      unsigned flags)
{
	struct ovl_sb *os = OSB(odir->sb);
	struct ovl_inode *ovi = OI(ov->inode);
	bool exchange = flags & VFS_RENAME_EXCHANGE;
	if (flags & VFS_RENAME_WHITEOUT)
		return -EINVAL;
	/* A directory with lower contents cannot move: they would have to
	 * move too (Linux's overlay without redirect_dir answers the same). */
	if (S_ISDIR(ov->inode->type) && ovi->lower)
		return -EXDEV;
	if (exchange && nv->inode && S_ISDIR(nv->inode->type) &&
	    OI(nv->inode)->lower)
		return -EXDEV;
	bool target_dir = nv->inode && S_ISDIR(nv->inode->type);
	if (target_dir && !exchange) {
		int e = dir_empty(nv->inode);
		if (e < 0)
			return e;
	}
	int err = overlay_copy_up(odir->inode);
	if (err == 0)
		err = overlay_copy_up(ndir->inode);
	if (err == 0)
		err = overlay_copy_up(ov->inode);
	if (err == 0 && exchange && nv->inode)
		err = overlay_copy_up(nv->inode);
	if (err < 0)
		return err;
	struct vfs_dentry *opu = upper_of(odir->inode);
	struct vfs_dentry *npu = upper_of(ndir->inode);
	bool old_lower = lower_has(odir->inode, oname);
	bool new_lower = lower_has(ndir->inode, nname);
	struct vfs_dentry *ou = NULL, *nu = NULL;
	err = vfs_lookup_child(opu, oname, &ou);
	if (err == 0 && !ou->inode)
		err = -ENOENT;
	if (err == 0)
		err = vfs_lookup_child(npu, nname, &nu);
	if (err == 0 && nu->inode && S_ISDIR(nu->inode->type) && !exchange)
		err = purge_whiteouts(os, nu);
	if (err == 0)
		err = vfs_k_rename(opu, ou, npu, nname,
				   flags & VFS_RENAME_EXCHANGE);
	/* A directory arriving where the lower layer had something must
	 * not show it. */
	if (err == 0 && !exchange && S_ISDIR(ov->inode->type) && new_lower) {
		err = set_opaque(ou);
		if (err == 0) {
			pthread_mutex_lock(&ovi->lock);
			ovi->opaque = true;
			pthread_mutex_unlock(&ovi->lock);
		}
	}
	if (err == 0 && !exchange && old_lower)
		err = make_whiteout(opu, oname);
	vfs_dput(ou);
	vfs_dput(nu);
	vfs_dput(opu);
	vfs_dput(npu);
	return err;
}

/* ---- files ------------------------------------------------------------- */

static int ovl_open(struct task *t, struct file *f, int flags)
{
	struct vfs_inode *i = f->inode;
	struct ovl_sb *os = OSB(i->sb);
	if (S_ISDIR(i->type)) {
		f->ops = &ovl_dir_fops;
		return 0;
	}
	bool write = (flags & O_ACCMODE) != O_RDONLY;
	if (write || (flags & O_TRUNC)) {
		int err = copy_up_with(i, !(flags & O_TRUNC));
		if (err < 0)
			return err;
	}
	struct vfs_dentry *u = upper_of(i);
	struct vfs_path p = u ? (struct vfs_path){os->upper_mnt, u}
			      : (struct vfs_path){os->lower_mnt, OI(i)->lower};
	struct file *real;
	int err =
	    vfs_file_open(t, &p, flags & ~(O_CREAT | O_EXCL | O_TRUNC), &real);
	vfs_dput(u);
	if (err < 0)
		return err;
	f->priv = real;
	f->ops = &ovl_reg_fops;
	return 0;
}

static struct file *REAL(struct file *f)
{
	struct file *r = f->priv;
	/* F_SETFL acts on the overlay's description: the layer's follows. */
	atomic_store(&r->flags, atomic_load(&f->flags));
	return r;
}

static long ovl_read(struct task *t, struct file *f, void *buf, size_t n,
		     uint64_t *pos)
{
	struct file *r = REAL(f);
	return r->ops->read(t, r, buf, n, pos);
}

static long ovl_write(struct task *t, struct file *f, const void *buf, size_t n,
		      uint64_t *pos)
{
	struct file *r = REAL(f);
	if (!r->ops->write)
		return -EINVAL;
	return r->ops->write(t, r, buf, n, pos);
}

static long ovl_llseek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	struct file *r = REAL(f);
	if (r->ops->llseek)
		return r->ops->llseek(r, off, whence, pos);
	struct vfs_attr a;
	int err = vfs_getattr(r->inode, &a);
	if (err < 0)
		return err;
	return vfs_generic_llseek(f, off, whence, pos, a.size);
}

static int ovl_fsync(struct file *f, bool datasync)
{
	struct file *r = REAL(f);
	return r->ops->fsync ? r->ops->fsync(r, datasync) : 0;
}

static int ovl_fallocate(struct file *f, int mode, uint64_t off, uint64_t len)
{
	struct file *r = REAL(f);
	return r->ops->fallocate ? r->ops->fallocate(r, mode, off, len)
				 : -EOPNOTSUPP;
}

static int ovl_mmap_fd(struct file *f)
{
	struct file *r = REAL(f);
	return r->ops->mmap_fd ? r->ops->mmap_fd(r) : -ENODEV;
}

static int ovl_io_fd(struct file *f)
{
	struct file *r = REAL(f);
	return r->ops->io_fd ? r->ops->io_fd(r) : -ENODEV;
}

static void ovl_accessed(struct file *f)
{
	struct file *r = REAL(f);
	if (r->ops->accessed)
		r->ops->accessed(r);
}

static void ovl_release(struct file *f)
{
	file_put(f->priv);
	f->priv = NULL;
}

/* ---- tables and construction ------------------------------------------- */

static const struct vfs_inode_ops ovl_iops = {
    .lookup = ovl_lookup,
    .getattr = ovl_getattr,
    .setattr = ovl_setattr,
    .create = ovl_create,
    .link = ovl_link,
    .tmpfile = ovl_tmpfile,
    .unlink = ovl_unlink,
    .rename = ovl_rename,
    .readlink = ovl_readlink,
    .open = ovl_open,
    .getxattr = ovl_getxattr,
    .setxattr = ovl_setxattr,
    .listxattr = ovl_listxattr,
    .removexattr = ovl_removexattr,
    .evict = ovl_evict,
};

static const struct file_ops ovl_reg_fops = {
    .read = ovl_read,
    .write = ovl_write,
    .llseek = ovl_llseek,
    .fsync = ovl_fsync,
    .fallocate = ovl_fallocate,
    .mmap_fd = ovl_mmap_fd,
    .io_fd = ovl_io_fd,
    .accessed = ovl_accessed,
    .release = ovl_release,
};

static const struct file_ops ovl_dir_fops = {
    .iterate = ovl_iterate,
    .release = ovl_dir_release,
};

static int ovl_statfs(struct vfs_sb *sb, struct statfs *st)
{
	struct vfs_sb *u = OSB(sb)->upper_mnt->sb;
	return u->ops && u->ops->statfs ? u->ops->statfs(u, st) : 0;
}

static void ovl_release_sb(struct vfs_sb *sb)
{
	struct ovl_sb *os = OSB(sb);
	vfs_mntns_put(os->upper_ns);
	vfs_mntns_put(os->lower_ns);
	free(os);
}

static const struct vfs_sb_ops ovl_sb_ops = {
    .statfs = ovl_statfs,
    .release = ovl_release_sb,
};

int overlay_new(struct vfs_sb *upper, struct vfs_sb *lower, struct vfs_sb **out)
{
	struct ovl_sb *os = calloc(1, sizeof(*os));
	if (!os)
		return -ENOMEM;
	int err = vfs_mntns_new(upper, 0, "upper", &os->upper_ns);
	if (err == 0)
		err = vfs_mntns_new(lower, VFS_MNT_RDONLY, "lower",
				    &os->lower_ns);
	if (err < 0) {
		vfs_mntns_put(os->upper_ns);
		free(os);
		return err;
	}
	os->upper_mnt = os->upper_ns->root;
	os->lower_mnt = os->lower_ns->root;
	struct vfs_sb *sb =
	    vfs_sb_new("overlay", OVERLAYFS_SUPER_MAGIC, &ovl_sb_ops, os);
	if (!sb) {
		vfs_mntns_put(os->upper_ns);
		vfs_mntns_put(os->lower_ns);
		free(os);
		return -ENOMEM;
	}
	struct vfs_inode *root =
	    ovl_inode_new(sb, upper->root, lower->root, false, NULL, NULL);
	if (!root) {
		vfs_sb_put(sb);
		return -ENOMEM;
	}
	/* The upper root takes the lower root's looks. */
	struct vfs_attr a;
	if (vfs_getattr(lower->root->inode, &a) == 0) {
		struct vfs_inode *ur = upper->root->inode;
		struct vfs_setattr s = {
		    .valid = VFS_ATTR_MODE | VFS_ATTR_UID | VFS_ATTR_GID,
		    .mode = a.mode,
		    .uid = a.uid,
		    .gid = a.gid,
		};
		pthread_mutex_lock(&ur->rwsem);
		ur->ops->setattr(ur, &s);
		pthread_mutex_unlock(&ur->rwsem);
	}
	err = vfs_sb_set_root(sb, root);
	if (err < 0) {
		vfs_sb_put(sb);
		return err;
	}
	*out = sb;
	return 0;
}
