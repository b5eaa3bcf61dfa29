/* http: who may hold a connection and for how long. libmicrohttpd's own
 * timeout counts idle time only and its per-address limit binds everyone,
 * so the server keeps its own books: open connections per address, a
 * deadline for each request's arrival (line, headers, body) enforced by a
 * sweeping thread, and trusted networks let in beyond both limits.
 *
 * Threads: the accept policy and the connection notices run on MHD's
 * threads, the sweep on its own; all share one mutex, held only for
 * counting and list links. A deadline is an atomic read without the mutex
 * on the request path. The sweep closes a connection by shutting its socket
 * down under the mutex; MHD reports the close (and only then closes the
 * descriptor) through rw_guard_notify, which takes the same mutex, so the
 * descriptor shut down is never one already reused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "http_int.h"

#define SWEEP_MS   200 /* how late a deadline may be enforced */
#define FILES_BASE 128 /* descriptors besides connections: database, WAL, epoll, pipes, the log */

struct rw_addr_count {
    rw_addr_count *next;
    unsigned char a[16];
    uint32_t n;
};

struct rw_conn {
    rw_conn *prev, *next;
    MHD_socket fd;
    rw_addr_count *addr; /* NULL for a trusted client: not counted */
    int64_t deadline_ms; /* atomic; 0: none */
};

static int64_t now_ms(void) {
    return (int64_t)(rw_now() * 1e3);
}

/* ---- addresses and networks --------------------------------------------------- */

/* The 16-byte form of a socket address (IPv4 mapped); 0 for other families. */
static int addr16(unsigned char out[16], const struct sockaddr *sa) {
    if (!sa) return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4->sin_addr, 4);
        return 1;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return 1;
    }
    return 0;
}

/* One "ADDR" or "ADDR/BITS" item (trimmed, NUL-terminated). */
static rw_status parse_one(rw_cidr *out, char *item, rw_err *err) {
    char *slash = strchr(item, '/');
    if (slash) *slash = 0;
    struct in_addr v4;
    struct in6_addr v6;
    unsigned width;
    memset(out->addr, 0, 16);
    if (inet_pton(AF_INET, item, &v4) == 1) {
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, &v4, 4);
        width = 32;
    } else if (inet_pton(AF_INET6, item, &v6) == 1) {
        memcpy(out->addr, &v6, 16);
        width = 128;
    } else {
        return rw_fail(err, RW_ERR_INVALID, "'%.64s' is not an IPv4 or IPv6 address", item);
    }
    unsigned bits = width;
    if (slash) {
        char *end = NULL;
        unsigned long b = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || b > width)
            return rw_fail(err, RW_ERR_INVALID, "'%.64s/%.8s': the prefix length must be 0 to %u", item, slash + 1,
                           width);
        bits = (unsigned)b;
    }
    out->bits = bits + (128 - width);
    return RW_OK;
}

rw_status rw_cidr_parse(rw_cidr *out, size_t max, size_t *n, const char *text, rw_err *err) {
    *n = 0;
    char item[128];
    for (const char *p = text; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (!len || len >= sizeof item)
            return rw_fail(err, RW_ERR_INVALID, "item %zu: expected ADDRESS or ADDRESS/BITS", *n + 1);
        if (*n == max) return rw_fail(err, RW_ERR_INVALID, "more than %zu networks", max);
        memcpy(item, p, len);
        item[len] = 0;
        rw_status st = parse_one(&out[*n], item, err);
        if (st != RW_OK) return st;
        (*n)++;
        if (!end) break;
        p = end + 1;
    }
    return RW_OK;
}

int rw_cidr_match(const rw_cidr *nets, size_t n, const unsigned char addr[16]) {
    for (size_t i = 0; i < n; i++) {
        unsigned bits = nets[i].bits, full = bits / 8, rest = bits % 8;
        if (memcmp(nets[i].addr, addr, full)) continue;
        if (rest && ((nets[i].addr[full] ^ addr[full]) & (0xffu << (8 - rest)) & 0xffu)) continue;
        return 1;
    }
    return 0;
}

/* ---- per-address counts (under the mutex) ------------------------------------- */

static size_t bucket_of(const unsigned char a[16]) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++) h = (h ^ a[i]) * 16777619u;
    return h % RW_GUARD_BUCKETS;
}

static rw_addr_count *find(rw_http_guard *g, const unsigned char a[16]) {
    for (rw_addr_count *k = g->bucket[bucket_of(a)]; k; k = k->next)
        if (!memcmp(k->a, a, 16)) return k;
    return NULL;
}

static rw_addr_count *count_up(rw_http_guard *g, const unsigned char a[16]) {
    rw_addr_count *k = find(g, a);
    if (!k) {
        if (!(k = calloc(1, sizeof *k))) return NULL;
        memcpy(k->a, a, 16);
        size_t b = bucket_of(a);
        k->next = g->bucket[b];
        g->bucket[b] = k;
    }
    k->n++;
    return k;
}

static void count_down(rw_http_guard *g, rw_addr_count *k) {
    if (--k->n) return;
    rw_addr_count **at = &g->bucket[bucket_of(k->a)];
    while (*at != k) at = &(*at)->next;
    *at = k->next;
    free(k);
}

/* ---- set-up --------------------------------------------------------------------- */

rw_status rw_guard_init(rw_http_server *s, rw_err *err) {
    rw_http_guard *g = &s->guard;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->limit = s->cfg.connection_limit;
    g->per_ip = s->cfg.per_ip_connection_limit;
    rw_status st = rw_cidr_parse(g->trusted, RW_TRUSTED_MAX, &g->ntrusted, s->cfg.trusted_clients, err);
    if (st != RW_OK) rw_err_prefix(err, "trusted_clients: ");
    return st;
}

unsigned rw_guard_fit_files(rw_http_server *s) {
    rw_http_guard *g = &s->guard;
    unsigned reserve = g->ntrusted ? s->cfg.trusted_reserve : 0;
    rlim_t need = (rlim_t)g->limit + reserve + FILES_BASE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        struct rlimit nl = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl.rlim_cur = want;
        if (rl.rlim_cur < need) {
            /* Past the descriptors there are, accept() fails and MHD spins
             * on the listening socket: fewer connections is the safer
             * failure. */
            rlim_t room = rl.rlim_cur > FILES_BASE + reserve + 16 ? rl.rlim_cur - FILES_BASE - reserve : 16;
            rw_http_log(s, RW_LOG_ERROR,
                        "connection_limit: %u connections need %llu open files, but the hard limit (ulimit -Hn) is "
                        "%llu; serving at most %llu",
                        g->limit, (unsigned long long)need, (unsigned long long)rl.rlim_max, (unsigned long long)room);
            g->limit = (uint32_t)room;
        }
    }
    return g->limit + reserve;
}

void rw_guard_destroy(rw_http_guard *g) {
    for (size_t b = 0; b < RW_GUARD_BUCKETS; b++)
        while (g->bucket[b]) {
            rw_addr_count *k = g->bucket[b];
            g->bucket[b] = k->next;
            free(k);
        }
    while (g->conns) {
        rw_conn *k = g->conns;
        g->conns = k->next;
        free(k);
    }
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------ */

enum MHD_Result rw_guard_accept(void *cls, const struct sockaddr *sa, socklen_t len) {
    rw_http_server *s = cls;
    rw_http_guard *g = &s->guard;
    unsigned char a[16];
    (void)len;
    if (!addr16(a, sa) || rw_cidr_match(g->trusted, g->ntrusted, a)) return MHD_YES;
    pthread_mutex_lock(&g->mu);
    int full = g->untrusted >= g->limit;
    rw_addr_count *k = full ? NULL : find(g, a);
    int crowded = !full && g->per_ip && k && k->n >= g->per_ip;
    pthread_mutex_unlock(&g->mu);
    if (full) __atomic_fetch_add(&s->metrics.refused_limit, 1, __ATOMIC_RELAXED);
    if (crowded) __atomic_fetch_add(&s->metrics.refused_per_ip, 1, __ATOMIC_RELAXED);
    return full || crowded ? MHD_NO : MHD_YES;
}

static void conn_started(rw_http_server *s, struct MHD_Connection *c, void **socket_context) {
    rw_http_guard *g = &s->guard;
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    rw_conn *k = calloc(1, sizeof *k);
    if (!k || !fi) { /* untracked: MHD's idle timeout still applies */
        free(k);
        return;
    }
    unsigned char a[16];
    int counted = ai && addr16(a, ai->client_addr) && !rw_cidr_match(g->trusted, g->ntrusted, a);
    k->fd = fi->connect_fd;
    k->deadline_ms = s->cfg.request_timeout_seconds ? now_ms() + 1000 * (int64_t)s->cfg.request_timeout_seconds : 0;
    pthread_mutex_lock(&g->mu);
    if (counted) {
        k->addr = count_up(g, a);
        if (k->addr) g->untrusted++;
    }
    k->next = g->conns;
    if (g->conns) g->conns->prev = k;
    g->conns = k;
    pthread_mutex_unlock(&g->mu);
    *socket_context = k;
}

static void conn_closed(rw_http_server *s, void **socket_context) {
    rw_http_guard *g = &s->guard;
    rw_conn *k = *socket_context;
    if (!k) return;
    pthread_mutex_lock(&g->mu);
    if (k->addr) {
        count_down(g, k->addr);
        g->untrusted--;
    }
    if (k->prev)
        k->prev->next = k->next;
    else
        g->conns = k->next;
    if (k->next) k->next->prev = k->prev;
    pthread_mutex_unlock(&g->mu);
    free(k);
    *socket_context = NULL;
}

void rw_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe) {
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        conn_started(cls, c, socket_context);
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        conn_closed(cls, socket_context);
}

static rw_conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

static void set_deadline(struct MHD_Connection *c, int64_t at) {
    rw_conn *k = conn_of(c);
    if (k) __atomic_store_n(&k->deadline_ms, at, __ATOMIC_RELAXED);
}

/* Called when a request line has arrived (the uri is never kept: it may
 * hold raw identifiers). A keep-alive connection's next request gets a
 * deadline of its own from here. */
void *rw_guard_uri_seen(void *cls, const char *uri, struct MHD_Connection *c) {
    const rw_http_server *s = cls;
    (void)uri;
    if (s->cfg.request_timeout_seconds) set_deadline(c, now_ms() + 1000 * (int64_t)s->cfg.request_timeout_seconds);
    return NULL;
}

void rw_guard_request_in(struct MHD_Connection *c) {
    set_deadline(c, 0);
}

void rw_guard_request_done(rw_http_server *s, struct MHD_Connection *c) {
    uint32_t rt = s->cfg.request_timeout_seconds;
    /* Idle keep-alive is MHD's timeout; a next request trickled in byte by
     * byte (no request line yet) is cut at idle plus request time. */
    if (rt) set_deadline(c, now_ms() + 1000 * ((int64_t)rt + s->cfg.timeout_seconds));
}

/* ---- the sweep ------------------------------------------------------------------- */

static void *sweep(void *arg) {
    rw_http_server *s = arg;
    rw_http_guard *g = &s->guard;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        int64_t now = now_ms();
        for (rw_conn *k = g->conns; k; k = k->next) {
            int64_t d = __atomic_load_n(&k->deadline_ms, __ATOMIC_RELAXED);
            if (!d || now < d) continue;
            __atomic_store_n(&k->deadline_ms, 0, __ATOMIC_RELAXED);
            /* MHD sees the end of the stream and closes the connection on
             * its own thread. */
            shutdown(k->fd, SHUT_RDWR);
            __atomic_fetch_add(&s->metrics.timed_out, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

rw_status rw_guard_start(rw_http_server *s, rw_err *err) {
    if (!s->cfg.request_timeout_seconds) return RW_OK;
    int rc = pthread_create(&s->guard.sweeper, NULL, sweep, s);
    if (rc) return rw_fail(err, RW_ERR_INTERNAL, "request deadline thread: %s", strerror(rc));
    s->guard.sweeper_live = 1;
    return RW_OK;
}

void rw_guard_stop(rw_http_server *s) {
    rw_http_guard *g = &s->guard;
    if (!g->sweeper_live) return;
    pthread_mutex_lock(&g->mu);
    g->stopping = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->sweeper, NULL);
    g->sweeper_live = 0;
}
