/* The 9P2000.L codec: known wire bytes, a round trip of every message type,
 * every truncation rejected, lying sizes and counts rejected, encoders that
 * never write past their buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gofer/proto/p9.h"

static const uint8_t payload[] = "0123456789abcdef payload bytes";

static struct p9_qid qid(uint8_t type, uint64_t path)
{
	return (struct p9_qid){type, 0x01020304, path};
}

static struct p9_flock flock_sample(void)
{
	return (struct p9_flock){.type = P9_LOCK_TYPE_WRLCK,
				 .flags = P9_LOCK_FLAGS_BLOCK,
				 .start = 100,
				 .length = 0x1122334455667788ULL,
				 .proc_id = 4242,
				 .client_id = p9_str("client-1")};
}

/* One message of every type with fields that are all non-zero where the
 * type allows, so a field dropped or swapped shows up. */
static size_t samples(struct p9_msg *out)
{
	size_t n = 0;
	struct p9_msg m;
#define ADD(T)                                                                 \
	do {                                                                   \
		m.type = (T);                                                  \
		m.tag = (uint16_t)(0x100 + n);                                 \
		out[n++] = m;                                                  \
		memset(&m, 0, sizeof(m));                                      \
	} while (0)

	memset(&m, 0, sizeof(m));
	m.u.version.msize = 65536;
	m.u.version.version = p9_str(P9_VERSION_L);
	ADD(P9_TVERSION);
	m.u.version.msize = 8192;
	m.u.version.version = p9_str(P9_VERSION_L_FDS);
	ADD(P9_RVERSION);
	m.u.tauth.afid = 7;
	m.u.tauth.uname = p9_str("root");
	m.u.tauth.aname = p9_str("/srv");
	m.u.tauth.n_uname = 1000;
	ADD(P9_TAUTH);
	m.u.rauth.aqid = qid(P9_QTAUTH, 99);
	ADD(P9_RAUTH);
	m.u.tattach.fid = 1;
	m.u.tattach.afid = P9_NOFID;
	m.u.tattach.uname = p9_str("user");
	m.u.tattach.aname = p9_str("/");
	m.u.tattach.n_uname = 1001;
	ADD(P9_TATTACH);
	m.u.rattach.qid = qid(P9_QTDIR, 2);
	ADD(P9_RATTACH);
	m.u.rlerror.ecode = ENOENT;
	ADD(P9_RLERROR);
	m.u.tflush.oldtag = 33;
	ADD(P9_TFLUSH);
	ADD(P9_RFLUSH);
	m.u.twalk.fid = 1;
	m.u.twalk.newfid = 2;
	m.u.twalk.nwname = 3;
	m.u.twalk.wname[0] = p9_str("usr");
	m.u.twalk.wname[1] = p9_str("");
	m.u.twalk.wname[2] = p9_str("bin");
	ADD(P9_TWALK);
	m.u.rwalk.nwqid = 2;
	m.u.rwalk.wqid[0] = qid(P9_QTDIR, 10);
	m.u.rwalk.wqid[1] = qid(P9_QTSYMLINK, 11);
	ADD(P9_RWALK);
	m.u.tlopen.fid = 5;
	m.u.tlopen.flags = 02101;
	ADD(P9_TLOPEN);
	m.u.ropen.qid = qid(P9_QTFILE, 77);
	m.u.ropen.iounit = 4096;
	ADD(P9_RLOPEN);
	m.u.tlcreate.fid = 6;
	m.u.tlcreate.name = p9_str("new.txt");
	m.u.tlcreate.flags = 0102;
	m.u.tlcreate.mode = 0644;
	m.u.tlcreate.gid = 100;
	ADD(P9_TLCREATE);
	m.u.ropen.qid = qid(P9_QTFILE, 78);
	m.u.ropen.iounit = 8000;
	ADD(P9_RLCREATE);
	m.u.tread.fid = 8;
	m.u.tread.offset = 0x123456789ULL;
	m.u.tread.count = 512;
	ADD(P9_TREAD);
	m.u.rread.count = sizeof(payload);
	m.u.rread.data = payload;
	ADD(P9_RREAD);
	m.u.twrite.fid = 9;
	m.u.twrite.offset = 1ULL << 40;
	m.u.twrite.count = 10;
	m.u.twrite.data = payload;
	ADD(P9_TWRITE);
	m.u.rwrite.count = 10;
	ADD(P9_RWRITE);
	m.u.tfid.fid = 11;
	ADD(P9_TCLUNK);
	ADD(P9_RCLUNK);
	m.u.tfid.fid = 12;
	ADD(P9_TREMOVE);
	ADD(P9_RREMOVE);
	m.u.tgetattr.fid = 13;
	m.u.tgetattr.request_mask = P9_GETATTR_ALL;
	ADD(P9_TGETATTR);
	{
		struct p9_attr *a = &m.u.rgetattr;
		a->valid = P9_GETATTR_BASIC;
		a->qid = qid(P9_QTFILE, 1234);
		a->mode = 0100644;
		a->uid = 1;
		a->gid = 2;
		a->nlink = 3;
		a->rdev = 4;
		a->size = 5;
		a->blksize = 6;
		a->blocks = 7;
		a->atime_sec = 8;
		a->atime_nsec = 9;
		a->mtime_sec = 10;
		a->mtime_nsec = 11;
		a->ctime_sec = 12;
		a->ctime_nsec = 13;
		a->btime_sec = 14;
		a->btime_nsec = 15;
		a->gen = 16;
		a->data_version = 17;
	}
	ADD(P9_RGETATTR);
	m.u.tsetattr.fid = 14;
	m.u.tsetattr.attr = (struct p9_iattr){
	    P9_SETATTR_MODE | P9_SETATTR_SIZE, 0600, 3, 4, 99, 5, 6, 7, 8};
	ADD(P9_TSETATTR);
	ADD(P9_RSETATTR);
	m.u.tread.fid = 15;
	m.u.tread.offset = 3;
	m.u.tread.count = 8192;
	ADD(P9_TREADDIR);
	m.u.rread.count = 5;
	m.u.rread.data = payload + 3;
	ADD(P9_RREADDIR);
	m.u.tmkdir.dfid = 16;
	m.u.tmkdir.name = p9_str("dir");
	m.u.tmkdir.mode = 0755;
	m.u.tmkdir.gid = 50;
	ADD(P9_TMKDIR);
	m.u.rqid.qid = qid(P9_QTDIR, 500);
	ADD(P9_RMKDIR);
	m.u.tunlinkat.dfid = 17;
	m.u.tunlinkat.name = p9_str("gone");
	m.u.tunlinkat.flags = P9_AT_REMOVEDIR;
	ADD(P9_TUNLINKAT);
	ADD(P9_RUNLINKAT);
	m.u.trenameat.olddfid = 18;
	m.u.trenameat.oldname = p9_str("a");
	m.u.trenameat.newdfid = 19;
	m.u.trenameat.newname = p9_str("bb");
	ADD(P9_TRENAMEAT);
	ADD(P9_RRENAMEAT);
	m.u.trename.fid = 40;
	m.u.trename.dfid = 41;
	m.u.trename.name = p9_str("renamed");
	ADD(P9_TRENAME);
	ADD(P9_RRENAME);
	m.u.tsymlink.dfid = 20;
	m.u.tsymlink.name = p9_str("ln");
	m.u.tsymlink.target = p9_str("../target/x");
	m.u.tsymlink.gid = 7;
	ADD(P9_TSYMLINK);
	m.u.rqid.qid = qid(P9_QTSYMLINK, 501);
	ADD(P9_RSYMLINK);
	m.u.tfid.fid = 21;
	ADD(P9_TREADLINK);
	m.u.rreadlink.target = p9_str("/etc/passwd");
	ADD(P9_RREADLINK);
	m.u.tlink.dfid = 22;
	m.u.tlink.fid = 23;
	m.u.tlink.name = p9_str("hard");
	ADD(P9_TLINK);
	ADD(P9_RLINK);
	m.u.tmknod.dfid = 24;
	m.u.tmknod.name = p9_str("fifo");
	m.u.tmknod.mode = 010644;
	m.u.tmknod.major = 1;
	m.u.tmknod.minor = 2;
	m.u.tmknod.gid = 3;
	ADD(P9_TMKNOD);
	m.u.rqid.qid = qid(0, 502);
	ADD(P9_RMKNOD);
	m.u.tfid.fid = 25;
	ADD(P9_TSTATFS);
	m.u.rstatfs = (struct p9_statfs){0xef53, 4096, 1, 2, 3, 4, 5, 6, 255};
	ADD(P9_RSTATFS);
	m.u.tfsync.fid = 26;
	m.u.tfsync.datasync = 1;
	ADD(P9_TFSYNC);
	ADD(P9_RFSYNC);
	m.u.txattrwalk.fid = 27;
	m.u.txattrwalk.newfid = 28;
	m.u.txattrwalk.name = p9_str("user.test");
	ADD(P9_TXATTRWALK);
	m.u.rxattrwalk.size = 1ULL << 33;
	ADD(P9_RXATTRWALK);
	m.u.txattrcreate.fid = 29;
	m.u.txattrcreate.name = p9_str("user.x");
	m.u.txattrcreate.size = 12;
	m.u.txattrcreate.flags = 1;
	ADD(P9_TXATTRCREATE);
	ADD(P9_RXATTRCREATE);
	m.u.tlock.fid = 30;
	m.u.tlock.lock = flock_sample();
	ADD(P9_TLOCK);
	m.u.rlock.status = P9_LOCK_BLOCKED;
	ADD(P9_RLOCK);
	m.u.tlock.fid = 31;
	m.u.tlock.lock = flock_sample();
	m.u.tlock.lock.flags = 0; /* Tgetlock has no flags field */
	ADD(P9_TGETLOCK);
	m.u.rgetlock = flock_sample();
	m.u.rgetlock.flags = 0;
	ADD(P9_RGETLOCK);
#undef ADD
	return n;
}

#define MAXS 80

/* Every type of p9.h appears in the samples (T and R of each pair). */
static void samples_cover_every_type(void **state)
{
	struct p9_msg ms[MAXS];
	size_t n = samples(ms);
	int seen[256] = {0};
	for (size_t i = 0; i < n; i++)
		seen[ms[i].type]++;
	int named = 0;
	for (int t = 0; t < 256; t++) {
		if (t == P9_TLERROR || !p9_type_name((uint8_t)t))
			continue;
		named++;
		if (!seen[t])
			fail_msg("type %s has no sample",
				 p9_type_name((uint8_t)t));
	}
	assert_int_equal(named, (int)n);
	assert_int_equal(n, 57); /* 28 T/R pairs and Rlerror */
}

static void round_trip_every_type(void **state)
{
	struct p9_msg ms[MAXS];
	size_t n = samples(ms);
	for (size_t i = 0; i < n; i++) {
		uint8_t a[1024], b[1024];
		struct p9_msg d;
		ssize_t la = p9_encode(&ms[i], a, sizeof(a));
		assert_true(la >= P9_HDRSZ);
		assert_int_equal(p9_peek_size(a), la);
		assert_int_equal(p9_decode(a, (size_t)la, &d), 0);
		assert_int_equal(d.type, ms[i].type);
		assert_int_equal(d.tag, ms[i].tag);
		/* Re-encoding the decoded struct gives the same bytes, so the
		 * decoder kept every field the encoder wrote. */
		ssize_t lb = p9_encode(&d, b, sizeof(b));
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
	}
}

/* Field values survive, checked on the struct (not only on bytes). */
static void decoded_fields(void **state)
{
	struct p9_msg ms[MAXS], d;
	size_t n = samples(ms);
	uint8_t buf[1024];
	for (size_t i = 0; i < n; i++) {
		ssize_t l = p9_encode(&ms[i], buf, sizeof(buf));
		assert_int_equal(p9_decode(buf, (size_t)l, &d), 0);
		switch (d.type) {
		case P9_TWALK:
			assert_int_equal(d.u.twalk.nwname, 3);
			assert_true(p9_str_eq(d.u.twalk.wname[0], "usr"));
			assert_true(p9_str_eq(d.u.twalk.wname[1], ""));
			assert_true(p9_str_eq(d.u.twalk.wname[2], "bin"));
			assert_int_equal(d.u.twalk.newfid, 2);
			break;
		case P9_TWRITE:
			assert_int_equal(d.u.twrite.count, 10);
			assert_memory_equal(d.u.twrite.data, payload, 10);
			/* zero copy: the payload points into the buffer */
			assert_ptr_equal(d.u.twrite.data,
					 buf + P9_TWRITE_DATA_OFF);
			assert_true(d.u.twrite.offset == 1ULL << 40);
			break;
		case P9_RREAD:
			assert_ptr_equal(d.u.rread.data,
					 buf + P9_RREAD_DATA_OFF);
			assert_memory_equal(d.u.rread.data, payload,
					    sizeof(payload));
			break;
		case P9_RGETATTR:
			assert_int_equal(d.u.rgetattr.mode, 0100644);
			assert_int_equal(d.u.rgetattr.data_version, 17);
			assert_int_equal(d.u.rgetattr.qid.path, 1234);
			assert_int_equal(d.u.rgetattr.qid.version, 0x01020304);
			break;
		case P9_TLOCK:
			assert_int_equal(d.u.tlock.lock.flags,
					 P9_LOCK_FLAGS_BLOCK);
			assert_true(d.u.tlock.lock.length ==
				    0x1122334455667788ULL);
			assert_true(
			    p9_str_eq(d.u.tlock.lock.client_id, "client-1"));
			break;
		case P9_TATTACH:
			assert_int_equal(d.u.tattach.afid, P9_NOFID);
			assert_int_equal(d.u.tattach.n_uname, 1001);
			assert_true(p9_str_eq(d.u.tattach.uname, "user"));
			break;
		}
	}
}

/* Wire bytes written by hand from the protocol description. */
static void known_bytes(void **state)
{
	static const uint8_t tversion[] = {21,	0,    0,   0,	100, 0xff, 0xff,
					   0,	0x20, 0,   0,	8,   0,	   '9',
					   'P', '2',  '0', '0', '0', '.',  'L'};
	struct p9_msg m = {.type = P9_TVERSION, .tag = P9_NOTAG};
	m.u.version.msize = 8192;
	m.u.version.version = p9_str("9P2000.L");
	uint8_t buf[64];
	assert_int_equal(p9_encode(&m, buf, sizeof(buf)), sizeof(tversion));
	assert_memory_equal(buf, tversion, sizeof(tversion));

	static const uint8_t rlerror[] = {11,	0, 0, 0, 7, 0x34,
					  0x12, 2, 0, 0, 0};
	struct p9_msg d;
	assert_int_equal(p9_decode(rlerror, sizeof(rlerror), &d), 0);
	assert_int_equal(d.type, P9_RLERROR);
	assert_int_equal(d.tag, 0x1234);
	assert_int_equal(d.u.rlerror.ecode, 2);

	/* Rgetattr has a fixed size: hdr + valid + qid + 3*4 + 15*8. */
	struct p9_msg ga = {.type = P9_RGETATTR};
	assert_int_equal(p9_encode(&ga, buf, sizeof(buf)), -EMSGSIZE);
	uint8_t big[256];
	assert_int_equal(p9_encode(&ga, big, sizeof(big)),
			 7 + 8 + 13 + 12 + 120);

	/* Twalk: nwname after the two fids, then each name. */
	struct p9_msg w = {.type = P9_TWALK, .tag = 1};
	w.u.twalk.fid = 0x0a0b0c0d;
	w.u.twalk.newfid = 2;
	w.u.twalk.nwname = 1;
	w.u.twalk.wname[0] = p9_str("ab");
	static const uint8_t twalk[] = {21,   0,    0,	  0,	110, 1,	  0,
					0x0d, 0x0c, 0x0b, 0x0a, 2,   0,	  0,
					0,    1,    0,	  2,	0,   'a', 'b'};
	assert_int_equal(p9_encode(&w, buf, sizeof(buf)), sizeof(twalk));
	assert_memory_equal(buf, twalk, sizeof(twalk));
}

static void every_truncation_rejected(void **state)
{
	struct p9_msg ms[MAXS], d;
	size_t n = samples(ms);
	for (size_t i = 0; i < n; i++) {
		uint8_t full[1024];
		ssize_t l = p9_encode(&ms[i], full, sizeof(full));
		for (ssize_t k = 0; k < l; k++) {
			/* A heap copy of exactly k bytes: ASan catches any
			 * read past the end. */
			uint8_t *t = malloc(k ? (size_t)k : 1);
			memcpy(t, full, (size_t)k);
			/* size field still claims the full length */
			assert_true(p9_decode(t, (size_t)k, &d) < 0);
			/* size field patched to agree with the cut */
			if (k >= 4) {
				for (int b = 0; b < 4; b++)
					t[b] = (uint8_t)(k >> (8 * b));
				int r = p9_decode(t, (size_t)k, &d);
				if (r != -EBADMSG)
					fail_msg("%s cut at %zd of %zd: %d",
						 p9_type_name(ms[i].type), k, l,
						 r);
			}
			free(t);
		}
	}
}

static void trailing_garbage_rejected(void **state)
{
	struct p9_msg ms[MAXS], d;
	size_t n = samples(ms);
	for (size_t i = 0; i < n; i++) {
		uint8_t buf[1024];
		ssize_t l = p9_encode(&ms[i], buf, sizeof(buf));
		buf[l] = 0x55;
		uint32_t nl = (uint32_t)l + 1;
		for (int b = 0; b < 4; b++)
			buf[b] = (uint8_t)(nl >> (8 * b));
		assert_int_equal(p9_decode(buf, nl, &d), -EBADMSG);
	}
}

static void lying_size_rejected(void **state)
{
	struct p9_msg m = {.type = P9_TCLUNK, .tag = 3}, d;
	m.u.tfid.fid = 9;
	uint8_t buf[64];
	ssize_t l = p9_encode(&m, buf, sizeof(buf));
	assert_int_equal(l, 11);
	buf[0] = 12; /* claims one more byte than given */
	assert_int_equal(p9_decode(buf, 11, &d), -EBADMSG);
	buf[0] = 10; /* claims one less */
	assert_int_equal(p9_decode(buf, 11, &d), -EBADMSG);
	buf[0] = 11;
	buf[3] = 0x80; /* huge */
	assert_int_equal(p9_decode(buf, 11, &d), -EBADMSG);
	assert_int_equal(p9_check_frame(buf, 65536), -EMSGSIZE);
	buf[3] = 0;
	buf[0] = 6; /* smaller than a header */
	assert_int_equal(p9_check_frame(buf, 65536), -EBADMSG);
	buf[0] = 11;
	assert_int_equal(p9_check_frame(buf, 65536), 0);
	assert_int_equal(p9_check_frame(buf, 10), -EMSGSIZE);
}

/* Each count field of a message raised past the end is rejected. */
static void lying_counts_rejected(void **state)
{
	uint8_t buf[256];
	struct p9_msg d;

	/* Twalk: string length, then nwname. */
	struct p9_msg w = {.type = P9_TWALK, .tag = 1};
	w.u.twalk.nwname = 2;
	w.u.twalk.wname[0] = p9_str("ab");
	w.u.twalk.wname[1] = p9_str("cd");
	ssize_t l = p9_encode(&w, buf, sizeof(buf));
	assert_int_equal(p9_decode(buf, (size_t)l, &d), 0);
	buf[21] = 3; /* second name's length: 2 -> 3 */
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[21] = 1; /* 2 -> 1: one byte left over */
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[21] = 2;
	buf[22] = 1; /* length 258 */
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[22] = 0;
	buf[15] = 3; /* nwname 3 with two names */
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[15] = 17; /* above P9_MAXWELEM */
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[15] = 1; /* fewer: trailing bytes */
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[15] = 2;
	assert_int_equal(p9_decode(buf, (size_t)l, &d), 0);
	buf[19] = 0; /* a NUL inside a name */
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);

	/* Rread count past the end, and short of it. */
	struct p9_msg r = {.type = P9_RREAD, .tag = 2};
	r.u.rread.count = 4;
	r.u.rread.data = payload;
	l = p9_encode(&r, buf, sizeof(buf));
	assert_int_equal(l, 15);
	buf[7] = 5;
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[7] = 3;
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
	buf[7] = 0xff;
	buf[10] = 0xff;
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);

	/* Rwalk with nwqid above the maximum even if bytes follow. */
	struct p9_msg rw = {.type = P9_RWALK, .tag = 3};
	rw.u.rwalk.nwqid = 1;
	l = p9_encode(&rw, buf, sizeof(buf));
	buf[7] = 17;
	assert_int_equal(p9_decode(buf, (size_t)l, &d), -EBADMSG);
}

static void unknown_type(void **state)
{
	uint8_t buf[] = {7, 0, 0, 0, 112 /* Topen: 9P2000 only */, 1, 0};
	struct p9_msg d;
	assert_int_equal(p9_decode(buf, sizeof(buf), &d), -EOPNOTSUPP);
	buf[4] = 0;
	assert_int_equal(p9_decode(buf, sizeof(buf), &d), -EOPNOTSUPP);
	buf[4] = P9_TLERROR;
	assert_int_equal(p9_decode(buf, sizeof(buf), &d), -EOPNOTSUPP);
	struct p9_msg m = {.type = 200};
	assert_int_equal(p9_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* The encoder fails cleanly with every buffer too small and never writes a
 * byte past the end it was given. */
static void encode_never_overruns(void **state)
{
	struct p9_msg ms[MAXS];
	size_t n = samples(ms);
	for (size_t i = 0; i < n; i++) {
		uint8_t full[1024];
		ssize_t l = p9_encode(&ms[i], full, sizeof(full));
		for (ssize_t cap = 0; cap < l; cap++) {
			uint8_t buf[1024];
			memset(buf, 0xa5, sizeof(buf));
			assert_int_equal(p9_encode(&ms[i], buf, (size_t)cap),
					 -EMSGSIZE);
			for (size_t b = (size_t)cap; b < sizeof(buf); b++)
				assert_int_equal(buf[b], 0xa5);
		}
	}
}

static void encode_bad_fields(void **state)
{
	uint8_t buf[256];
	struct p9_msg w = {.type = P9_TWALK};
	w.u.twalk.nwname = P9_MAXWELEM + 1;
	assert_int_equal(p9_encode(&w, buf, sizeof(buf)), -EINVAL);

	char *longs = malloc(70000);
	memset(longs, 'x', 69999);
	longs[69999] = 0;
	struct p9_msg a = {.type = P9_TATTACH};
	a.u.tattach.uname = p9_str(longs);
	a.u.tattach.aname = p9_str("");
	assert_int_equal(p9_encode(&a, buf, sizeof(buf)), -EINVAL);
	free(longs);
}

static void head_encoding(void **state)
{
	uint8_t buf[64];
	struct p9_msg w = {.type = P9_TWRITE, .tag = 4};
	w.u.twrite.fid = 1;
	w.u.twrite.count = 1000;
	assert_int_equal(p9_encode_head(&w, buf, sizeof(buf)),
			 P9_TWRITE_DATA_OFF);
	assert_int_equal(p9_peek_size(buf), P9_TWRITE_DATA_OFF + 1000);
	struct p9_msg r = {.type = P9_RREAD, .tag = 4};
	r.u.rread.count = 7;
	assert_int_equal(p9_encode_head(&r, buf, sizeof(buf)),
			 P9_RREAD_DATA_OFF);
	assert_int_equal(p9_peek_size(buf), P9_RREAD_DATA_OFF + 7);
	struct p9_msg c = {.type = P9_TCLUNK};
	assert_int_equal(p9_encode_head(&c, buf, sizeof(buf)), -EINVAL);

	/* A payload already in place is left alone (and still correct). */
	uint8_t msg[64];
	memcpy(msg + P9_RREAD_DATA_OFF, "hello", 5);
	r.u.rread.count = 5;
	r.u.rread.data = msg + P9_RREAD_DATA_OFF;
	assert_int_equal(p9_encode(&r, msg, sizeof(msg)), 16);
	struct p9_msg d;
	assert_int_equal(p9_decode(msg, 16, &d), 0);
	assert_memory_equal(d.u.rread.data, "hello", 5);
}

static void dirents(void **state)
{
	uint8_t buf[256];
	struct p9_dirent e = {qid(P9_QTDIR, 42), 0x7fffffffffffffffULL, 4,
			      p9_str("subdir")};
	ssize_t l = p9_dirent_encode(&e, buf, sizeof(buf));
	assert_int_equal(l, 13 + 8 + 1 + 2 + 6);
	struct p9_dirent d;
	assert_int_equal(p9_dirent_decode(buf, (size_t)l, &d), l);
	assert_true(p9_str_eq(d.name, "subdir"));
	assert_int_equal(d.qid.path, 42);
	assert_int_equal(d.type, 4);
	assert_true(d.offset == 0x7fffffffffffffffULL);
	for (ssize_t k = 0; k < l; k++) {
		uint8_t *t = malloc(k ? (size_t)k : 1);
		memcpy(t, buf, (size_t)k);
		assert_int_equal(p9_dirent_decode(t, (size_t)k, &d), -EBADMSG);
		free(t);
	}
	for (ssize_t cap = 0; cap < l; cap++)
		assert_int_equal(p9_dirent_encode(&e, buf, (size_t)cap),
				 -ENOSPC);
	/* two entries back to back decode in sequence */
	l = p9_dirent_encode(&e, buf, sizeof(buf));
	e.name = p9_str("f");
	ssize_t l2 = p9_dirent_encode(&e, buf + l, sizeof(buf) - (size_t)l);
	assert_int_equal(p9_dirent_decode(buf + l, (size_t)l2, &d), l2);
	assert_true(p9_str_eq(d.name, "f"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(samples_cover_every_type),
	    cmocka_unit_test(round_trip_every_type),
	    cmocka_unit_test(decoded_fields),
	    cmocka_unit_test(known_bytes),
	    cmocka_unit_test(every_truncation_rejected),
	    cmocka_unit_test(trailing_garbage_rejected),
	    cmocka_unit_test(lying_size_rejected),
	    cmocka_unit_test(lying_counts_rejected),
	    cmocka_unit_test(unknown_type),
	    cmocka_unit_test(encode_never_overruns),
	    cmocka_unit_test(encode_bad_fields),
	    cmocka_unit_test(head_encoding),
	    cmocka_unit_test(dirents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
