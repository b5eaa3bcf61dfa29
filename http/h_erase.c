/* http: DELETE /v1/accounts/{id}, the erasure of an account (admin only):
 * the engine erases it durably and rebuilds the graph before this answers
 * (200; 202 with "pending": ["wal"] while the old pages wait for a reader). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

void rw_h_erase_account(rw_http_ctx *c) {
    size_t len = 0;
    char *id = rw_http_param(c, 0, "id", &len);
    if (!id) return;
    rw_erase_stats es;
    rw_err err = {{0}};
    rw_status st = rw_engine_erase_account(c->srv->e, id, len, &es, &err);
    /* The id is what is being erased: keep no copy of it past the request. */
    explicit_bzero(id, len);
    free(id);
    if (st == RW_ERR_NOTFOUND) {
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, NULL, "id: no such account");
        return;
    }
    if (st != RW_OK) {
        rw_http_log(c->srv, RW_LOG_ERROR, "erasure failed: %s", rw_status_str(st));
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err.msg);
        return;
    }
    /* Who asked, and what went; never which account (that is what was
     * erased). */
    char detail[160];
    snprintf(detail, sizeof detail, "{\"accounts\":1,\"events\":%llu,\"attributes\":%llu,\"labels\":%llu}",
             (unsigned long long)es.events, (unsigned long long)es.attributes, (unsigned long long)es.labels);
    if (rw_engine_audit_put(c->srv->e, c->who, "erase", NULL, detail, &err) != RW_OK)
        rw_http_log(c->srv, RW_LOG_ERROR, "erasure done, but its audit entry failed: %s", err.msg);
    rw_http_log(c->srv, RW_LOG_INFO, "erasure: one account, %llu events, %llu attributes in %.2f s",
                (unsigned long long)es.events, (unsigned long long)es.attributes, es.seconds);
    /* Durable either way; 202 when the old pages wait for a reader of an
     * older snapshot to leave the files (retried after every commit and
     * checkpoint), which is not a failure to retry. */
    json_t *doc = json_pack("{sbsIsIsIsIsfs[]}", "erased", 1, "events", (json_int_t)es.events, "attributes",
                            (json_int_t)es.attributes, "run_rows", (json_int_t)es.run_rows, "labels",
                            (json_int_t)es.labels, "seconds", es.seconds, "pending");
    if (doc && es.wal_pending) json_array_append_new(json_object_get(doc, "pending"), json_string("wal"));
    rw_http_json(c->out, es.wal_pending ? 202 : 200, doc);
}
