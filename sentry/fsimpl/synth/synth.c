/* Synthetic read-only file systems (see synth.h). The tree is built once
 * and never changes, so lookups need no lock beyond the VFS's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

struct synth_node {
	struct synth_node *next; /* sibling */
	char *name;
	struct vfs_inode *inode;
};

struct synth_dir {
	struct vfs_sb *sb;
	struct vfs_inode *inode;
	struct synth_node *children;
};

struct synth_file {
	synth_gen gen;
	void *arg;
	char *text; /* synth_text's copy */
};

struct synth_sb {
	uint64_t next_ino;
};

struct open_snapshot {
	char *buf;
	size_t len;
};

static const struct vfs_inode_ops synth_iops;
static const struct file_ops synth_file_fops, synth_dir_fops;

static int synth_lookup(struct vfs_dentry *dp, const char *name,
			struct vfs_inode **out)
{
	struct synth_dir *d = dp->inode->priv;
	for (struct synth_node *n = d->children; n; n = n->next) {
		if (strcmp(n->name, name) == 0) {
			*out = vfs_inode_ref(n->inode);
			return 0;
		}
	}
	return -ENOENT;
}

static long synth_readlink(struct vfs_inode *i, char *buf, size_t len)
{
	const char *t = i->priv;
	size_t n = strlen(t);
	if (n > len)
		n = len;
	memcpy(buf, t, n);
	return (long)n;
}

static int synth_open(struct task *t, struct file *f, int flags)
{
	(void)t;
	struct vfs_inode *i = f->inode;
	if (S_ISDIR(i->type)) {
		f->ops = &synth_dir_fops;
		return 0;
	}
	if (flags & (O_WRONLY | O_RDWR))
		return -EACCES;
	struct synth_file *sf = i->priv;
	struct open_snapshot *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	long n;
	if (sf->text) {
		s->buf = strdup(sf->text);
		n = s->buf ? (long)strlen(sf->text) : -ENOMEM;
	} else {
		n = sf->gen(sf->arg, &s->buf);
	}
	if (n < 0) {
		free(s->buf);
		free(s);
		return (int)n;
	}
	s->len = (size_t)n;
	f->priv = s;
	f->ops = &synth_file_fops;
	return 0;
}

static long synth_read(struct task *t, struct file *f, void *buf, size_t n,
		       uint64_t *pos)
{
	(void)t;
	struct open_snapshot *s = f->priv;
	if (*pos >= s->len)
		return 0;
	if (n > s->len - *pos)
		n = (size_t)(s->len - *pos);
	memcpy(buf, s->buf + *pos, n);
	*pos += n;
	return (long)n;
}

static long synth_llseek(struct file *f, int64_t off, int whence, uint64_t *pos)
{
	struct open_snapshot *s = f->priv;
	return vfs_generic_llseek(f, off, whence, pos, s->len);
}

static void synth_release(struct file *f)
{
	struct open_snapshot *s = f->priv;
	if (s)
		free(s->buf);
	free(s);
}

static int synth_iterate(struct task *t, struct file *f,
			 struct vfs_dir_ctx *ctx)
{
	(void)t;
	if (!vfs_dir_emit_dots(f, ctx))
		return 0;
	struct synth_dir *d = f->inode->priv;
	uint64_t pos = 2;
	for (struct synth_node *n = d->children; n; n = n->next, pos++) {
		if (pos < ctx->pos)
			continue;
		if (!ctx->emit(ctx, n->name, strlen(n->name), n->inode->ino,
			       (n->inode->type >> 12) & 15, pos + 1))
			break;
		ctx->pos = pos + 1;
	}
	return 0;
}

static void synth_evict(struct vfs_inode *i)
{
	if (S_ISDIR(i->type)) {
		struct synth_dir *d = i->priv;
		while (d && d->children) {
			struct synth_node *n = d->children;
			d->children = n->next;
			vfs_inode_put(n->inode);
			free(n->name);
			free(n);
		}
		free(d);
	} else if (S_ISREG(i->type)) {
		struct synth_file *sf = i->priv;
		if (sf)
			free(sf->text);
		free(sf);
	} else {
		free(i->priv);
	}
}

static const struct vfs_inode_ops synth_iops = {
    .lookup = synth_lookup,
    .readlink = synth_readlink,
    .open = synth_open,
    .evict = synth_evict,
};

static const struct file_ops synth_file_fops = {
    .read = synth_read,
    .llseek = synth_llseek,
    .release = synth_release,
};

static const struct file_ops synth_dir_fops = {
    .iterate = synth_iterate,
};

static void synth_sb_release(struct vfs_sb *sb)
{
	free(sb->priv);
}

static const struct vfs_sb_ops synth_sb_ops = {
    .release = synth_sb_release,
};

static struct vfs_inode *node_new(struct vfs_sb *sb, uint32_t mode, void *priv)
{
	struct synth_sb *ss = sb->priv;
	struct vfs_inode *i =
	    vfs_inode_new(sb, mode, ss->next_ino++, &synth_iops, NULL, priv);
	if (!i)
		return NULL;
	struct timespec now = vfs_now();
	i->attr.mode = mode;
	i->attr.nlink = S_ISDIR(mode) ? 2 : 1;
	i->attr.atime = i->attr.mtime = i->attr.ctime = now;
	if (S_ISREG(mode))
		i->attr.size = 4096; /* as sysfs reports */
	return i;
}

static int add_child(struct synth_dir *parent, const char *name,
		     struct vfs_inode *i)
{
	struct synth_node *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		vfs_inode_put(i);
		return -ENOMEM;
	}
	n->inode = i;
	/* Appended, so listings keep the order of construction. */
	struct synth_node **pp = &parent->children;
	while (*pp)
		pp = &(*pp)->next;
	*pp = n;
	if (S_ISDIR(i->type))
		parent->inode->attr.nlink++;
	return 0;
}

int synth_new(const char *type, long magic, struct vfs_sb **out,
	      struct synth_dir **root)
{
	struct synth_sb *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->next_ino = 1;
	struct vfs_sb *sb = vfs_sb_new(type, magic, &synth_sb_ops, ss);
	if (!sb) {
		free(ss);
		return -ENOMEM;
	}
	struct synth_dir *d = calloc(1, sizeof(*d));
	struct vfs_inode *i = d ? node_new(sb, S_IFDIR | 0755, d) : NULL;
	if (!i) {
		free(d);
		vfs_sb_put(sb);
		return -ENOMEM;
	}
	d->sb = sb;
	d->inode = i;
	int err = vfs_sb_set_root(sb, i);
	if (err < 0) {
		vfs_sb_put(sb);
		return err;
	}
	*out = sb;
	*root = d;
	return 0;
}

struct synth_dir *synth_mkdir(struct synth_dir *parent, const char *name,
			      uint32_t mode)
{
	struct synth_dir *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	struct vfs_inode *i = node_new(parent->sb, S_IFDIR | (mode & 07777), d);
	if (!i) {
		free(d);
		return NULL;
	}
	d->sb = parent->sb;
	d->inode = i;
	if (add_child(parent, name, i) < 0)
		return NULL;
	return d;
}

static int add_file(struct synth_dir *parent, const char *name, uint32_t mode,
		    synth_gen gen, void *arg, const char *text)
{
	struct synth_file *sf = calloc(1, sizeof(*sf));
	if (!sf)
		return -ENOMEM;
	sf->gen = gen;
	sf->arg = arg;
	if (text && !(sf->text = strdup(text))) {
		free(sf);
		return -ENOMEM;
	}
	struct vfs_inode *i =
	    node_new(parent->sb, S_IFREG | (mode & 07777), sf);
	if (!i) {
		free(sf->text);
		free(sf);
		return -ENOMEM;
	}
	return add_child(parent, name, i);
}

int synth_file(struct synth_dir *parent, const char *name, uint32_t mode,
	       synth_gen gen, void *arg)
{
	return add_file(parent, name, mode, gen, arg, NULL);
}

int synth_text(struct synth_dir *parent, const char *name, uint32_t mode,
	       const char *text)
{
	return add_file(parent, name, mode, NULL, NULL, text);
}

int synth_symlink(struct synth_dir *parent, const char *name,
		  const char *target)
{
	char *t = strdup(target);
	if (!t)
		return -ENOMEM;
	struct vfs_inode *i = node_new(parent->sb, S_IFLNK | 0777, t);
	if (!i) {
		free(t);
		return -ENOMEM;
	}
	i->attr.size = strlen(target);
	return add_child(parent, name, i);
}
