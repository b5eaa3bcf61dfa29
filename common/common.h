/* common: status codes, event parsing, keyed hashing of identifiers and small
 * utilities shared by every module. The only public header of common/.
 * Depends on libc and libsodium only. */
#ifndef RW_COMMON_H
#define RW_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- status ------------------------------------------------------------ */

typedef enum {
    RW_OK = 0,
    RW_ERR_NOMEM,     /* allocation failed */
    RW_ERR_IO,        /* file or socket error */
    RW_ERR_INVALID,   /* bad input data (a line, a request, a flag) */
    RW_ERR_NOTFOUND,  /* no such account, cluster, file, ... */
    RW_ERR_DB,        /* SQLite reported an error */
    RW_ERR_CORRUPT,   /* a file is not what it should be */
    RW_ERR_FULL,      /* disk or database full */
    RW_ERR_EXISTS,    /* already exists */
    RW_ERR_PERM,      /* permission denied, read-only */
    RW_ERR_LIMIT,     /* a configured limit was exceeded */
    RW_ERR_INTERNAL,  /* a library failed in a way that is our bug */
    RW_ERR_CANCELLED, /* stopped on request before it finished */
    RW_STATUS_COUNT
} rw_status;

/* A static English name for a status ("invalid input"); never NULL. */
const char *rw_status_str(rw_status s);

/* Details of the last failure; functions that can fail take an rw_err * last
 * (NULL allowed) and fill it when they return a status other than RW_OK. */
typedef struct {
    char msg[512];
} rw_err;

/* Formats a message into err (if not NULL) and returns s, so callers can
 * write `return rw_fail(err, RW_ERR_IO, "open %s: %s", path, strerror(e));` */
rw_status rw_fail(rw_err *err, rw_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with a formatted context ("file.jsonl:12: "). */
void rw_err_prefix(rw_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- kinds, events ----------------------------------------------------- */

/* Node kinds of the bipartite graph. Accounts on one side, attributes on the
 * other. A subnet node is not joined by edges: it groups IP nodes (/24 for
 * IPv4, /48 for IPv6) so detectors can say "from one /24". */
typedef enum {
    RW_KIND_ACCOUNT = 0,
    RW_KIND_IP = 1,
    RW_KIND_DEVICE = 2,
    RW_KIND_PAYMENT = 3,
    RW_KIND_SUBNET = 4,
    RW_KIND_COUNT
} rw_kind;

/* The attribute kinds an event carries (ip, device, payment). */
#define RW_EVENT_ATTRS 3

/* Lower-case name ("ip", "subnet") or NULL when out of range. */
const char *rw_kind_name(rw_kind k);
/* Parses a kind name; RW_ERR_INVALID when unknown. */
rw_status rw_kind_parse(rw_kind *out, const char *name);

typedef enum { RW_EV_SIGNUP = 0, RW_EV_LOGIN = 1, RW_EV_PAYMENT = 2, RW_EV_TYPE_COUNT } rw_event_type;
const char *rw_event_type_name(rw_event_type t);

#define RW_ACCOUNT_MAX 256        /* bytes of an account id */
#define RW_ATTR_MAX    512        /* bytes of a raw attribute value */
#define RW_LINE_MAX    (1u << 20) /* a longer event line is refused, not read whole */

/* One parsed, validated event with raw values. Raw values are personal data:
 * keep this struct on the stack or in a scratch buffer, hash, then forget. */
typedef struct {
    int64_t ts; /* Unix seconds */
    rw_event_type type;
    size_t account_len;
    char account[RW_ACCOUNT_MAX + 1];
    /* attr[i] is kind i + 1 (ip, device, payment); len 0 means absent. The IP
     * is normalised (IPv4 dotted quad, IPv4-mapped IPv6 as IPv4, canonical
     * IPv6 text). */
    size_t attr_len[RW_EVENT_ATTRS];
    char attr[RW_EVENT_ATTRS][RW_ATTR_MAX + 1];
    unsigned unknown_keys; /* keys ignored on this line */
} rw_event_raw;

/* Parses one JSON line (without its newline) into out. On RW_ERR_INVALID,
 * err->msg reads "field: what is wrong" (field is "json" for syntax errors,
 * with the column), ready to be prefixed with "FILE:LINE: ". */
rw_status rw_event_parse(rw_event_raw *out, const char *line, size_t len, rw_err *err);

/* Parses an IPv4 or IPv6 address and writes its normalised text form into
 * out (at least 46 bytes) and the 16-byte IPv6 (or IPv4-mapped) address into
 * addr16 (may be NULL). RW_ERR_INVALID when it is not an address. */
rw_status rw_ip_normalise(char *out, size_t out_size, uint8_t addr16[16], const char *in, size_t len);

/* The subnet text of a normalised IP ("203.0.113.0/24", "2001:db8:1::/48"). */
rw_status rw_ip_subnet(char *out, size_t out_size, const char *normalised_ip);

/* Parses an RFC 3339 timestamp ("2026-09-21T14:03:00Z", offsets allowed,
 * fractional seconds truncated) into Unix seconds. */
rw_status rw_time_parse_rfc3339(int64_t *out, const char *s, size_t len);

/* Formats Unix seconds as RFC 3339 UTC into out (at least 21 bytes). */
void rw_time_format(char *out, size_t out_size, int64_t ts);

/* Checks that s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int rw_utf8_valid(const char *s, size_t len);

/* ---- a JSON writer for hot answers ------------------------------------- */

/* Appends JSON text to a growing buffer: for answers on hot paths, where a
 * jansson tree built and dumped costs more than the work behind it. The
 * caller writes a well-formed shape (keys only inside objects, every begin
 * matched by its end); commas are placed here. Strings must be valid UTF-8
 * and are escaped. Any allocation failure sticks: rw_jw_take then returns
 * NULL. Ownership: the text belongs to the writer until rw_jw_take hands it
 * to the caller (free it); every writer ends in rw_jw_take. Not thread-safe. */
typedef struct {
    char *s;
    size_t len, cap;
    uint64_t first;    /* bit d: nothing written yet in the container at depth d */
    uint64_t is_array; /* bit d: the container at depth d is an array */
    int depth, after_key, failed;
} rw_jw;

void rw_jw_init(rw_jw *w);
/* The text, NUL-terminated (*len its length), or NULL after a failure or a
 * shape left open; the writer is empty afterwards either way. */
char *rw_jw_take(rw_jw *w, size_t *len);
void rw_jw_object(rw_jw *w);
void rw_jw_array(rw_jw *w);
void rw_jw_end(rw_jw *w); /* closes the innermost object or array */
void rw_jw_key(rw_jw *w, const char *key);
void rw_jw_str(rw_jw *w, const char *s, size_t len);
void rw_jw_cstr(rw_jw *w, const char *s); /* NULL writes null */
void rw_jw_int(rw_jw *w, int64_t v);
/* A finite number with at most 6 decimals (trailing zeros dropped), or in
 * %.10g beyond 1e15; NaN and infinities write null. */
void rw_jw_num(rw_jw *w, double v);
void rw_jw_bool(rw_jw *w, int v);
void rw_jw_null(rw_jw *w);
/* RFC 3339 UTC time, or null when ts <= 0 (never seen). */
void rw_jw_time(rw_jw *w, int64_t ts);
/* A member of the open object: the key, then the value as above. */
void rw_jw_kcstr(rw_jw *w, const char *key, const char *s);
void rw_jw_kint(rw_jw *w, const char *key, int64_t v);
void rw_jw_knum(rw_jw *w, const char *key, double v);
void rw_jw_kbool(rw_jw *w, const char *key, int v);
void rw_jw_ktime(rw_jw *w, const char *key, int64_t ts);

/* ---- keyed hashing ------------------------------------------------------ */

#define RW_HASH_BYTES 16

typedef struct {
    uint8_t b[RW_HASH_BYTES];
} rw_hash;

typedef struct rw_hasher rw_hasher;

/* Opens the key file at path (32 random bytes). When it does not exist and
 * create is non-zero, creates it with mode 0600. A key file of the wrong size
 * or with group/other permissions is refused. Caller owns *out. */
rw_status rw_hasher_open(rw_hasher **out, const char *path, int create, rw_err *err);
/* A hasher from a key in memory (tests, fuzzing). Caller owns *out. */
rw_status rw_hasher_from_key(rw_hasher **out, const uint8_t key[32], rw_err *err);
void rw_hasher_free(rw_hasher *h);
/* Keyed BLAKE2b of value with a personalisation per kind: the same value of
 * two kinds gives unrelated hashes. Thread-safe (the hasher is read-only). */
void rw_hasher_hash(const rw_hasher *h, rw_kind kind, const char *value, size_t len, rw_hash *out);

#define RW_KEY_CHECK_BYTES 32
/* The key's check value: a keyed BLAKE2b of a fixed text, with a
 * personalisation no attribute kind uses. A database stores it to tell its
 * own key from another one; it gives nothing away about the key. */
void rw_hasher_key_check(const rw_hasher *h, uint8_t out[RW_KEY_CHECK_BYTES]);

/* Writes a short printable pseudonym of a hash ("ip:3f9a1c0d2b") into out
 * (at least 32 bytes): what analysts and logs see instead of a raw value. */
void rw_hash_pseudonym(char *out, size_t out_size, rw_kind kind, const rw_hash *h);

/* ---- rows of a batch run, shared by storage, engine and the front ends -- */

/* A cluster of a run. Strings are borrowed for the duration of a callback. */
typedef struct {
    uint32_t id;
    double score;
    int flagged;
    uint32_t accounts, attributes;
    int64_t first_seen, last_seen;
    const char *features; /* JSON text */
    const char *reasons;  /* JSON array text */
    const char *label;    /* the newest analyst's label on it ("fraud", "benign"), NULL: none */
} rw_cluster_row;

/* An account's score in a run; strings borrowed for the duration of a
 * callback. cluster 0 means "in no cluster". */
typedef struct {
    uint32_t account;
    const char *ext;
    double score;
    int flagged;
    uint32_t cluster;
    const char *reasons;
} rw_score_row;

/* An analyst's label as stored (run 0: none recorded; note NULL: none).
 * Valid during the callback that receives it. */
typedef struct {
    int64_t id, run, created_at;
    int fraud;
    const char *note;
    const char *author; /* the named token that set it; NULL: an unnamed one */
} rw_label_row;

/* A batch run as stored; strings borrowed as the call that gives it says. */
typedef struct {
    int64_t id; /* set by rw_store_put_run or rw_store_run_reserve */
    int64_t started_at, finished_at;
    uint64_t events; /* events in the log when the snapshot was taken */
    int model_version;
    const char *params;  /* JSON text */
    const char *summary; /* JSON text */
} rw_run_row;

/* Which clusters a page lists: flagged and labelled are -1 (either), 0
 * (not) or 1 (only). since and until (Unix seconds, 0: unbounded) keep the
 * clusters whose signups overlap [since, until): the first signup of its
 * accounts before until and the last at or after since. */
typedef struct {
    double min_score;
    int flagged, labelled;
    int64_t since, until;
} rw_cluster_filter;

/* One entry of the audit trail: who asked for a label, an erasure or a
 * rescoring (actor NULL: an unnamed token or the scheduler's own run).
 * Strings borrowed for the duration of a callback; detail is JSON text. */
typedef struct {
    int64_t id, at;
    const char *actor, *action, *target, *detail;
} rw_audit_row;

/* ---- small utilities ---------------------------------------------------- */

/* Monotonic clock in seconds. */
double rw_now(void);
/* Peak resident set size of this process in bytes (0 when unknown). */
size_t rw_peak_rss(void);
/* An exclusive flock on the file path (created mode 0600), beside a
 * database rather than on it: closing any descriptor of the database would
 * drop SQLite's own POSIX locks, and the kernel drops an flock when its
 * process dies. Waits up to wait_seconds (0: one try). *fd: the descriptor
 * holding the lock (close it to release), or -1 when another holder kept it
 * (RW_OK all the same). RW_ERR_PERM when the file cannot be opened for lack
 * of permission or a read-only file system, RW_ERR_IO otherwise. */
rw_status rw_lock_file(const char *path, double wait_seconds, int *fd, rw_err *err);

/* Deterministic PRNG (xoshiro256**), for the simulator and seeded detectors. */
typedef struct {
    uint64_t s[4];
} rw_rng;
void rw_rng_seed(rw_rng *r, uint64_t seed);
uint64_t rw_rng_next(rw_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rw_rng_below(rw_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double rw_rng_unit(rw_rng *r);

/* ---- work on several threads -------------------------------------------- */

/* Work cut into items taken in blocks by threads: fn(ctx, worker, from, to,
 * err) runs the items [from, to) on worker (0..workers-1), each worker on a
 * thread of its own and worker 0 on the caller's. Which worker runs an item
 * depends on timing, so an item's result must not: each worker keeps its
 * own scratch, and items write apart. The first failure stops the rest
 * (no new blocks) and is returned; when a thread cannot start, its share
 * runs on the others. */
typedef rw_status (*rw_par_fn)(void *ctx, unsigned worker, uint64_t from, uint64_t to, rw_err *err);
rw_status rw_par_run(unsigned workers, uint64_t items, uint64_t block, rw_par_fn fn, void *ctx, rw_err *err);
/* The same in two steps, so that the caller can do something else while
 * workers 1.. run: rw_par_start starts them (RW_ERR_NOMEM only; *out is
 * then NULL), rw_par_finish makes the caller worker 0 until the items are
 * done, waits for the others, frees the job and returns as rw_par_run.
 * Every started job must be finished (ctx stays valid until then). */
typedef struct rw_par rw_par;
rw_status rw_par_start(rw_par **out, unsigned workers, uint64_t items, uint64_t block, rw_par_fn fn, void *ctx,
                       rw_err *err);
rw_status rw_par_finish(rw_par *job, rw_err *err);
/* Workers for a job that wants the machine: the online processors, at most
 * RW_PAR_MAX (at least 1). */
#define RW_PAR_MAX 8
unsigned rw_par_cpus(void);

#endif
