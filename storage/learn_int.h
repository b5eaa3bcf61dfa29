/* storage internals shared by storage.c and learn.c: the learning tables'
 * migration and erasure statements, and the connection for learn.c. */
#ifndef RW_STORAGE_LEARN_INT_H
#define RW_STORAGE_LEARN_INT_H

#include <sqlite3.h>

#include "storage.h"

/* The features each signup was scored on, as logged at the signup (f: a
 * bit mask of the nonzero features then their values as doubles), and the
 * signup models the deployment fitted, with their shadow trials. Indexed by
 * time: the nightly job reads the last days and drops older rows. */
#define RW_STORE_LEARN_SCHEMA                                                                                          \
    "CREATE TABLE signup_features(ts INTEGER NOT NULL, account INTEGER NOT NULL, model INTEGER NOT NULL,"              \
    "  score REAL NOT NULL, shadow_model INTEGER NOT NULL, shadow REAL, f BLOB NOT NULL);"                             \
    "CREATE INDEX signup_features_by_ts ON signup_features(ts);"                                                       \
    "CREATE TABLE online_models(version INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, state TEXT NOT NULL,"        \
    "  train_from INTEGER NOT NULL, train_to INTEGER NOT NULL, positives INTEGER NOT NULL,"                            \
    "  negatives INTEGER NOT NULL, validation TEXT NOT NULL, shadow_from INTEGER, decided_at INTEGER,"                 \
    "  decision TEXT, replaced INTEGER, model TEXT NOT NULL);"

/* Erasure (?1: the retention cutoff): the logged features of erased
 * accounts and of signups older than the cutoff. */
#define RW_STORE_LEARN_ERASE                                                                                           \
    "DELETE FROM signup_features WHERE ts < ?1 OR account IN (SELECT id FROM temp.rw_erase_acc)"

/* The store's connection (borrowed, valid until rw_store_close). */
sqlite3 *rw_store_sqlite(rw_store *s);

#endif
