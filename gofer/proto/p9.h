/* The 9P2000.L codec, shared by the gofer's server and the sentry's client.
 *
 * Wire format: size[4] type[1] tag[2] body, little-endian, where size counts
 * the whole message including itself. Strings are len[2] bytes (no NUL);
 * qids are type[1] version[4] path[8].
 *
 * Decoding never copies: strings and bulk payloads (Twrite/Rread data,
 * Rreaddir entries) point into the caller's buffer, which must outlive the
 * decoded struct. A message is accepted only if every field lies inside it
 * and nothing follows the last field; anything else is -EBADMSG, an unknown
 * type is -EOPNOTSUPP. Integers are assembled byte by byte.
 *
 * Encoding writes into a caller buffer and never over-runs it (-EMSGSIZE).
 *
 * Depends on libc only (the fuzz target builds it alone). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Message types (Linux include/net/9p/9p.h numbering). */
enum p9_type {
	P9_TLERROR = 6, /* not a real request: Rlerror's pair */
	P9_RLERROR = 7,
	P9_TSTATFS = 8,
	P9_RSTATFS = 9,
	P9_TLOPEN = 12,
	P9_RLOPEN = 13,
	P9_TLCREATE = 14,
	P9_RLCREATE = 15,
	P9_TSYMLINK = 16,
	P9_RSYMLINK = 17,
	P9_TMKNOD = 18,
	P9_RMKNOD = 19,
	P9_TRENAME = 20, /* fid-based rename: for servers without Trenameat */
	P9_RRENAME = 21,
	P9_TREADLINK = 22,
	P9_RREADLINK = 23,
	P9_TGETATTR = 24,
	P9_RGETATTR = 25,
	P9_TSETATTR = 26,
	P9_RSETATTR = 27,
	P9_TXATTRWALK = 30,
	P9_RXATTRWALK = 31,
	P9_TXATTRCREATE = 32,
	P9_RXATTRCREATE = 33,
	P9_TREADDIR = 40,
	P9_RREADDIR = 41,
	P9_TFSYNC = 50,
	P9_RFSYNC = 51,
	P9_TLOCK = 52,
	P9_RLOCK = 53,
	P9_TGETLOCK = 54,
	P9_RGETLOCK = 55,
	P9_TLINK = 70,
	P9_RLINK = 71,
	P9_TMKDIR = 72,
	P9_RMKDIR = 73,
	P9_TRENAMEAT = 74,
	P9_RRENAMEAT = 75,
	P9_TUNLINKAT = 76,
	P9_RUNLINKAT = 77,
	P9_TVERSION = 100,
	P9_RVERSION = 101,
	P9_TAUTH = 102,
	P9_RAUTH = 103,
	P9_TATTACH = 104,
	P9_RATTACH = 105,
	P9_TFLUSH = 108,
	P9_RFLUSH = 109,
	P9_TWALK = 110,
	P9_RWALK = 111,
	P9_TREAD = 116,
	P9_RREAD = 117,
	P9_TWRITE = 118,
	P9_RWRITE = 119,
	P9_TCLUNK = 120,
	P9_RCLUNK = 121,
	P9_TREMOVE = 122,
	P9_RREMOVE = 123,
};

#define P9_NOTAG    ((uint16_t)0xffff)
#define P9_NOFID    ((uint32_t)0xffffffff)
#define P9_NONUNAME ((uint32_t)0xffffffff)
#define P9_MAXWELEM 16
#define P9_HDRSZ    7 /* size[4] type[1] tag[2] */
/* Bytes of a Twrite/Rread before its payload, the most of any message: what
 * an msize must leave for data (Linux's P9_IOHDRSZ). */
#define P9_IOHDRSZ	   24
#define P9_RREAD_DATA_OFF  11 /* hdr count[4] */
#define P9_TWRITE_DATA_OFF 23 /* hdr fid[4] offset[8] count[4] */
#define P9_MIN_MSIZE	   4096
/* Bytes of an Rreaddir before its entries. */
#define P9_READDIRHDRSZ 11

/* The version strings: plain 9P2000.L, and ours with the fd extension. */
#define P9_VERSION_L	   "9P2000.L"
#define P9_VERSION_L_FDS   "9P2000.L+fds"
#define P9_VERSION_UNKNOWN "unknown"

/* qid.type bits */
#define P9_QTDIR     0x80
#define P9_QTAPPEND  0x40
#define P9_QTEXCL    0x20
#define P9_QTAUTH    0x08
#define P9_QTTMP     0x04
#define P9_QTSYMLINK 0x02
#define P9_QTFILE    0x00

/* Tgetattr request_mask / Rgetattr valid bits */
#define P9_GETATTR_MODE		0x00000001ULL
#define P9_GETATTR_NLINK	0x00000002ULL
#define P9_GETATTR_UID		0x00000004ULL
#define P9_GETATTR_GID		0x00000008ULL
#define P9_GETATTR_RDEV		0x00000010ULL
#define P9_GETATTR_ATIME	0x00000020ULL
#define P9_GETATTR_MTIME	0x00000040ULL
#define P9_GETATTR_CTIME	0x00000080ULL
#define P9_GETATTR_INO		0x00000100ULL
#define P9_GETATTR_SIZE		0x00000200ULL
#define P9_GETATTR_BLOCKS	0x00000400ULL
#define P9_GETATTR_BTIME	0x00000800ULL
#define P9_GETATTR_GEN		0x00001000ULL
#define P9_GETATTR_DATA_VERSION 0x00002000ULL
#define P9_GETATTR_BASIC	0x000007ffULL
#define P9_GETATTR_ALL		0x00003fffULL

/* Tsetattr valid bits */
#define P9_SETATTR_MODE	     0x00000001U
#define P9_SETATTR_UID	     0x00000002U
#define P9_SETATTR_GID	     0x00000004U
#define P9_SETATTR_SIZE	     0x00000008U
#define P9_SETATTR_ATIME     0x00000010U
#define P9_SETATTR_MTIME     0x00000020U
#define P9_SETATTR_CTIME     0x00000040U
#define P9_SETATTR_ATIME_SET 0x00000080U
#define P9_SETATTR_MTIME_SET 0x00000100U

/* Tlock type / Rlock status / Tlock flags */
#define P9_LOCK_TYPE_RDLCK    0
#define P9_LOCK_TYPE_WRLCK    1
#define P9_LOCK_TYPE_UNLCK    2
#define P9_LOCK_SUCCESS	      0
#define P9_LOCK_BLOCKED	      1
#define P9_LOCK_ERROR	      2
#define P9_LOCK_GRACE	      3
#define P9_LOCK_FLAGS_BLOCK   1
#define P9_LOCK_FLAGS_RECLAIM 2

/* Tunlinkat flags: Linux's AT_REMOVEDIR. */
#define P9_AT_REMOVEDIR 0x200

/* Tlopen/Tlcreate flags: 9P2000.L defines them with the values of Linux on
 * x86 (P9_DOTL_*), so they are passed as Linux open flags. */

struct p9_str {
	uint16_t len;
	const char *s; /* not NUL-terminated; points into the message */
};

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

struct p9_attr {
	uint64_t valid;
	struct p9_qid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
	uint64_t ctime_sec, ctime_nsec, btime_sec, btime_nsec;
	uint64_t gen, data_version;
};

struct p9_iattr {
	uint32_t valid, mode, uid, gid;
	uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

struct p9_statfs {
	uint32_t type, bsize;
	uint64_t blocks, bfree, bavail, files, ffree, fsid;
	uint32_t namelen;
};

struct p9_flock {
	uint8_t type;
	uint32_t flags; /* Tlock only */
	uint64_t start, length;
	uint32_t proc_id;
	struct p9_str client_id;
};

/* One decoded message. Which member of u is valid follows type. */
struct p9_msg {
	uint8_t type;
	uint16_t tag;
	union {
		struct {
			uint32_t msize;
			struct p9_str version;
		} version; /* T and R */
		struct {
			uint32_t afid;
			struct p9_str uname, aname;
			uint32_t n_uname;
		} tauth;
		struct {
			struct p9_qid aqid;
		} rauth;
		struct {
			uint32_t fid, afid;
			struct p9_str uname, aname;
			uint32_t n_uname;
		} tattach;
		struct {
			struct p9_qid qid;
		} rattach;
		struct {
			uint32_t ecode;
		} rlerror;
		struct {
			uint16_t oldtag;
		} tflush;
		struct {
			uint32_t fid, newfid;
			uint16_t nwname;
			struct p9_str wname[P9_MAXWELEM];
		} twalk;
		struct {
			uint16_t nwqid;
			struct p9_qid wqid[P9_MAXWELEM];
		} rwalk;
		struct {
			uint32_t fid, flags;
		} tlopen;
		struct {
			struct p9_qid qid;
			uint32_t iounit;
		} ropen; /* Rlopen and Rlcreate */
		struct {
			uint32_t fid;
			struct p9_str name;
			uint32_t flags, mode, gid;
		} tlcreate;
		struct {
			uint32_t fid;
			uint64_t offset;
			uint32_t count;
		} tread; /* Tread and Treaddir */
		struct {
			uint32_t count;
			const uint8_t *data;
		} rread; /* Rread and Rreaddir */
		struct {
			uint32_t fid;
			uint64_t offset;
			uint32_t count;
			const uint8_t *data;
		} twrite;
		struct {
			uint32_t count;
		} rwrite;
		struct {
			uint32_t fid;
		} tfid; /* Tclunk, Tremove, Tstatfs, Treadlink */
		struct {
			uint32_t fid;
			uint64_t request_mask;
		} tgetattr;
		struct p9_attr rgetattr;
		struct {
			uint32_t fid;
			struct p9_iattr attr;
		} tsetattr;
		struct {
			uint32_t dfid;
			struct p9_str name;
			uint32_t mode, gid;
		} tmkdir;
		struct {
			struct p9_qid qid;
		} rqid; /* Rmkdir, Rsymlink, Rmknod */
		struct {
			uint32_t dfid;
			struct p9_str name;
			uint32_t flags;
		} tunlinkat;
		struct {
			uint32_t fid, dfid;
			struct p9_str name;
		} trename;
		struct {
			uint32_t olddfid;
			struct p9_str oldname;
			uint32_t newdfid;
			struct p9_str newname;
		} trenameat;
		struct {
			uint32_t dfid;
			struct p9_str name, target;
			uint32_t gid;
		} tsymlink;
		struct {
			struct p9_str target;
		} rreadlink;
		struct {
			uint32_t dfid, fid;
			struct p9_str name;
		} tlink;
		struct {
			uint32_t dfid;
			struct p9_str name;
			uint32_t mode, major, minor, gid;
		} tmknod;
		struct p9_statfs rstatfs;
		struct {
			uint32_t fid, datasync;
		} tfsync;
		struct {
			uint32_t fid, newfid;
			struct p9_str name;
		} txattrwalk;
		struct {
			uint64_t size;
		} rxattrwalk;
		struct {
			uint32_t fid;
			struct p9_str name;
			uint64_t size;
			uint32_t flags;
		} txattrcreate;
		struct {
			uint32_t fid;
			struct p9_flock lock;
		} tlock; /* Tlock and Tgetlock (flags unused by Tgetlock) */
		struct {
			uint8_t status;
		} rlock;
		struct p9_flock rgetlock; /* flags unused */
	} u;
};

/* One entry of an Rreaddir payload: qid[13] offset[8] type[1] name[s]. */
struct p9_dirent {
	struct p9_qid qid;
	uint64_t offset; /* cookie to pass to the next Treaddir */
	uint8_t type;	 /* DT_* */
	struct p9_str name;
};

/* Builds a p9_str from a C string (NULL gives the empty string). Strings
 * longer than 65535 bytes are rejected by the encoder. */
struct p9_str p9_str(const char *s);
/* True when s equals the C string c. */
bool p9_str_eq(struct p9_str s, const char *c);

/* The size field of a message whose first 4 bytes are at buf. */
uint32_t p9_peek_size(const void *buf);

/* Checks the header of a message of which the first P9_HDRSZ bytes are at
 * buf: 0 if its size is at least P9_HDRSZ and at most msize, else
 * -EMSGSIZE (-EBADMSG below the header's own size). */
int p9_check_frame(const void *buf, uint32_t msize);

/* Decodes exactly one message occupying buf[0..len). */
int p9_decode(const void *buf, size_t len, struct p9_msg *m);

/* Encodes m into buf (at most cap bytes). Returns the message length or
 * -EMSGSIZE / -EINVAL (bad field: too many walk elements, a string over
 * 65535 bytes, an unknown type). A payload (Twrite/Rread/Rreaddir data)
 * already in place at its offset in buf is not copied. */
ssize_t p9_encode(const struct p9_msg *m, void *buf, size_t cap);

/* Encodes only the part of a Twrite, Rread or Rreaddir before its payload,
 * with a size field that counts the payload (count bytes), so the caller
 * can send the payload from where it is (writev). Returns the header
 * length (P9_TWRITE_DATA_OFF or P9_RREAD_DATA_OFF) or -EINVAL. */
ssize_t p9_encode_head(const struct p9_msg *m, void *buf, size_t cap);

/* Decodes the readdir entry at buf[0..len): returns the bytes it used or
 * -EBADMSG. d->name points into buf. */
ssize_t p9_dirent_decode(const void *buf, size_t len, struct p9_dirent *d);
/* Appends one entry; -ENOSPC when it does not fit in cap (nothing written). */
ssize_t p9_dirent_encode(const struct p9_dirent *d, void *buf, size_t cap);

/* The name of a message type ("Twalk"), or NULL if unknown. */
const char *p9_type_name(uint8_t type);
