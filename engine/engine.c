/* The engine object's life: opening (writer lock, store, key, graph, online
 * state and its threads) and closing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "learn.h"
#include "live.h"
#include "load.h"

static char *default_key_path(const char *db) {
    size_t n = strlen(db);
    char *p = malloc(n + 5);
    if (p) {
        memcpy(p, db, n);
        memcpy(p + n, ".key", 5);
    }
    return p;
}

/* One writer at a time: a second process writing the same database (an
 * ingest or an erasure beside a running server) would hand out the node ids
 * the first holds in memory, and leave its graph stale. The lock is an flock
 * on "<db>.lock", not on the database: closing any descriptor of the
 * database would drop SQLite's own POSIX locks. Where the file cannot be
 * made (a read-only directory) SQLite's own error says more. */
static rw_status take_writer_lock(rw_engine *e, const char *db, const char *writer, rw_err *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s.lock", db) >= (int)sizeof path)
        return rw_fail(err, RW_ERR_INVALID, "database path too long");
    rw_status st = rw_lock_file(path, 0, &e->lock_fd, err);
    if (st == RW_ERR_PERM) return RW_OK;
    if (st != RW_OK) return st;
    if (e->lock_fd < 0) { /* held: the file names the holder */
        char who[128] = {0};
        ssize_t n = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n = read(fd, who, sizeof who - 1);
            close(fd);
        }
        if (n > 0 && who[n - 1] == '\n') who[n - 1] = 0;
        return rw_fail(err, RW_ERR_EXISTS,
                       "%s is in use by another ringwatch process (%s); stop it first, or use the running "
                       "server's API",
                       db, n > 0 ? who : "unknown");
    }
    char who[128];
    int n = snprintf(who, sizeof who, "ringwatch %s, pid %ld\n", writer, (long)getpid());
    /* Who holds it, for the next one's message; a failure loses only that. */
    if (ftruncate(e->lock_fd, 0) == 0) (void)!pwrite(e->lock_fd, who, (size_t)n, 0);
    return RW_OK;
}

/* Online state: set up after the graph is loaded (newest run, labels, the
 * committer thread), and freed on close. */
static rw_status online_open(rw_engine *e, rw_err *err) {
    rw_engine_commit_init(e);
    rw_live_defaults(&e->live, NULL);
    /* Replaying the whole log into the live state takes seconds at a
     * million accounts; a batch rescoring from the CLI has no use for it. */
    if (!e->graph || e->batch_only) return RW_OK;
    pthread_rwlock_wrlock(&e->lock);
    rw_engine_store_lock(e);
    rw_status st = rw_engine_online_reload(e, err);
    if (st == RW_OK) st = rw_learn_open(e, err);
    rw_engine_store_unlock(e);
    pthread_rwlock_unlock(&e->lock);
    if (st != RW_OK || !e->hasher || e->readonly) return st;
    return rw_engine_commit_start(e, err);
}

static void online_close(rw_engine *e) {
    rw_engine_commit_close(e);
    rw_live_free(&e->live);
    rw_learn_close(e);
}

/* The key before the store, which compares it with the check value it keeps
 * before writing anything: another database's key file would split every
 * identity in two. A missing key is created only for a database without
 * hashed attributes (a new key would not match them), then given to the
 * store. Read-only, a missing key leaves lookups by raw value unavailable. */
static rw_status open_store_with_key(rw_engine *e, const rw_engine_config *cfg, const char *db, const char *key_path,
                                     rw_err *err) {
    rw_status st = rw_hasher_open(&e->hasher, key_path, 0, err);
    if (st != RW_OK && st != RW_ERR_NOTFOUND) return st;
    rw_store_key key = {.path = key_path};
    if (e->hasher) rw_hasher_key_check(e->hasher, key.check);
    st = rw_store_open_keyed(&e->store, db, cfg->readonly ? RW_STORE_READONLY : 0, e->hasher ? &key : NULL, err);
    if (st != RW_OK || e->hasher || cfg->readonly) return st;
    rw_store_counts n;
    st = rw_store_count(e->store, &n, err);
    if (st == RW_OK && n.attributes > 0)
        return rw_fail(err, RW_ERR_NOTFOUND,
                       "key file %s is missing but %s holds %llu hashed attributes; restore the key file "
                       "(a new key would not match them)",
                       key_path, db, (unsigned long long)n.attributes);
    if (st == RW_OK) st = rw_hasher_open(&e->hasher, key_path, 1, err);
    if (st != RW_OK) return st;
    rw_hasher_key_check(e->hasher, key.check);
    return rw_store_use_key(e->store, &key, err);
}

rw_status rw_engine_open(rw_engine **out, const rw_engine_config *cfg, rw_err *err) {
    *out = NULL;
    rw_status st = RW_OK;
    char *key_path = NULL;
    const char *db = cfg->db_path ? cfg->db_path : "ringwatch.db";
    rw_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->db_path = strdup(db))) {
        free(e);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    }
    e->lock_fd = -1;
    pthread_rwlock_init(&e->lock, NULL);
    pthread_mutex_init(&e->store_mu, NULL);
    pthread_mutex_init(&e->turn_mu, NULL);
    pthread_cond_init(&e->turn_cv, NULL);
    if (cfg->key_path) {
        key_path = strdup(cfg->key_path);
    } else {
        key_path = default_key_path(db);
    }
    if (!key_path) {
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* The key comes first: a database whose key is lost cannot hash new
     * values consistently, so refuse to write rather than fork identities. */
    if (cfg->writer && !cfg->readonly) st = take_writer_lock(e, db, cfg->writer, err);
    if (st != RW_OK) goto done;
    st = open_store_with_key(e, cfg, db, key_path, err);
    if (st != RW_OK) goto done;
    /* Loading the graph replays the whole log (seconds at a million
     * accounts); queries of stored runs do not need it. */
    if (!cfg->store_only) st = rw_engine_load_graph(e->store, &e->graph, &e->events, err);
    e->readonly = cfg->readonly;
    e->batch_only = cfg->batch_only;
    if (st == RW_OK) {
        e->online_ready = 1;
        st = online_open(e, err);
    }
done:
    free(key_path);
    if (st != RW_OK) {
        rw_engine_close(e);
        return st;
    }
    *out = e;
    return RW_OK;
}

void rw_engine_close(rw_engine *e) {
    if (!e) return;
    if (e->online_ready) online_close(e);
    rw_graph_free(e->graph);
    rw_store_close(e->store);
    rw_hasher_free(e->hasher);
    pthread_rwlock_destroy(&e->lock);
    pthread_mutex_destroy(&e->store_mu);
    pthread_mutex_destroy(&e->turn_mu);
    pthread_cond_destroy(&e->turn_cv);
    if (e->lock_fd >= 0) close(e->lock_fd); /* releases the writer lock */
    free(e->db_path);
    free(e);
}
