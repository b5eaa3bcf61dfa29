/* End to end through the real binary: a world of odd but valid shapes, the
 * kind another generator or a real deployment sends and a simulator of our
 * own never does. One carrier NAT address, one stock device and one card
 * each shared by hundreds of strangers; IPv6-only signups; signups with no
 * attribute at all; an account signing up twice; logins of accounts never
 * signed up; accounts roaming over many addresses; signups a day out of
 * order; and lockstep rings whose blocks repeat exactly. Replay, ingest
 * and a rescoring on two workers all finish, every line is taken, the
 * rings are flagged and the crowds and loners are not. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"

TestSuite(shapes, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = 300);

#define UNITS 9900 /* ten shapes, 990 accounts each, over a week; rings of nine fill every 90 */
#define T0    1788220800LL

/* Unit i's events, by its shape (i % 10). */
static void unit(FILE *f, int i) {
    long long t = T0 + i * 60LL;
    int g = i / 90;
    switch (i % 10) {
        case 0: /* a carrier NAT address of strangers */
            fprintf(f,
                    "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"100.64.0.1\",\"device\":\"d%d\"}\n",
                    i, t, i);
            break;
        case 1: /* a stock device of strangers */
            fprintf(f,
                    "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"10.%d.%d.%d\",\"device\":\"stock-"
                    "fp\"}\n",
                    i, t, i % 250, (i / 250) % 250, i % 200 + 1);
            break;
        case 2: /* IPv6 only */
            fprintf(
                f,
                "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"2001:db8:%x::%x\",\"device\":\"d%d\"}\n",
                i, t, i % 7, i, i);
            break;
        case 3: /* a card of strangers (a company card, a gift card) */
            fprintf(f,
                    "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.%d\",\"payment\":\"tok-"
                    "giant\"}\n",
                    i, t, i % 250 + 1);
            break;
        case 4: /* no attribute at all */
            fprintf(f, "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\"}\n", i, t);
            break;
        case 5: /* the same account signing up twice */
            fprintf(
                f, "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"198.51.100.7\",\"device\":\"d%d\"}\n",
                i, t, i);
            fprintf(
                f,
                "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"198.51.100.8\",\"device\":\"d%db\"}\n",
                i, t + 5, i);
            break;
        case 6: /* a login of an account never signed up */
            fprintf(
                f,
                "{\"account\":\"ghost%d\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"203.0.113.9\",\"device\":\"g%d\"}\n",
                i, t, i);
            break;
        case 7: /* roaming over ten addresses */
            fprintf(f,
                    "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"172.16.%d.1\",\"device\":\"d%d\"}\n",
                    i, t, i % 200, i);
            for (int k = 0; k < 10; k++)
                fprintf(
                    f,
                    "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"172.%d.%d.%d\",\"device\":\"d%d\"}\n",
                    i, t + k, 17 + k, i % 250, k, i);
            break;
        case 8: /* a day out of order, cards of three */
            fprintf(f,
                    "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"198.18.%d.%d\",\"device\":\"d%d\","
                    "\"payment\":\"tok%d\"}\n",
                    i, t - 86400, i % 250, i % 200 + 1, i, i / 3);
            break;
        default: /* a lockstep ring: nine accounts on two devices, two cards, one address, within 90 minutes */
            fprintf(
                f,
                "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"45.1.%d.9\",\"device\":\"ring%d-%d\","
                "\"payment\":\"rc%d-%d\"}\n",
                i, t, g % 250, g, i % 2, g, i % 2);
            fprintf(
                f,
                "{\"account\":\"a%d\",\"ts\":%lld,\"type\":\"payment\",\"ip\":\"45.1.%d.9\",\"device\":\"ring%d-%d\","
                "\"payment\":\"rc%d-%d\"}\n",
                i, t + 30, g % 250, g, i % 2, g, (i + 1) % 2);
            break;
    }
}

static void write_world(void) {
    FILE *f = fopen(tu_path("shapes.jsonl"), "w");
    cr_assert(f, "cannot write %s", tu_path("shapes.jsonl"));
    for (int i = 0; i < UNITS; i++) unit(f, i);
    fclose(f);
}

static void run_ok(const char *what, const char *cmd) {
    char *out = NULL;
    int rc = tu_rw(&out, "%s", cmd);
    cr_assert_eq(rc, 0, "%s exited %d:\n%s", what, rc, out ? out : "");
    cr_expect(!strstr(out, "bad line") || strstr(out, " 0 bad lines"), "%s refused lines:\n%s", what, out);
    free(out);
}

Test(shapes, odd_shapes_replay_ingest_and_rescore) {
    write_world();
    run_ok("replay", "replay --db r.db --out d.csv shapes.jsonl");
    run_ok("ingest", "ingest --db i.db shapes.jsonl");
    run_ok("rescore", "rescore --db i.db --threads 2");
    char *out = NULL;
    cr_assert_eq(tu_rw(&out, "scores --db i.db"), 0, "%s", out);
    int rings = 0, rings_flagged = 0, crowds_flagged = 0, rows = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        int i, flagged;
        double score;
        /* account,score,flagged,cluster; ids are quoted */
        if (sscanf(line, "\"a%d\",%lf,%d", &i, &score, &flagged) != 3) continue;
        rows++;
        if (i % 10 == 9) rings++, rings_flagged += flagged;
        /* The NAT, the stock device, IPv6 loners, the company card, accounts with nothing. */
        if (i % 10 <= 4 && flagged) {
            if (!crowds_flagged) cr_log_error("a stranger flagged: %s", line);
            crowds_flagged++;
        }
    }
    free(out);
    cr_expect_eq(rows, UNITS - UNITS / 10, "one score row per signed-up account");
    cr_expect_eq(rings, UNITS / 10);
    cr_expect_eq(rings_flagged, rings, "%d of %d lockstep ring accounts flagged", rings_flagged, rings);
    cr_expect_eq(crowds_flagged, 0, "%d strangers of a crowd or loners flagged", crowds_flagged);
}
