/* export: the bundle, a zip (stored, no compression: PKWARE APPNOTE 4.3,
 * no data descriptors, no zip64) of the notebook, every file it opens and
 * the pictures, under one folder, so what a browser downloads runs as it
 * is unpacked. Each member is produced whole in memory first (exports are
 * capped in size), for its CRC-32 and size in the local header. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export_int.h"

static const rw_export_kind members[] = {
    RW_EXPORT_IPYNB,   RW_EXPORT_NODES_CSV, RW_EXPORT_EDGES_CSV, RW_EXPORT_CLUSTERS_CSV,
    RW_EXPORT_GRAPHML, RW_EXPORT_JSON,      RW_EXPORT_GRAPH_SVG, RW_EXPORT_TIMELINE_SVG,
};
#define NMEMBERS (sizeof members / sizeof members[0])

typedef struct {
    uint32_t crc, size, offset;
} entry;

typedef struct {
    char folder[48]; /* "cluster-12/" or "run-3/" */
    uint16_t dos_time, dos_date;
    uint32_t at; /* bytes written so far: the next member's offset */
    uint32_t crc_table[256];
    entry e[NMEMBERS];
} bundle;

static void crc_init(uint32_t t[256]) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[n] = c;
    }
}

static uint32_t crc32_of(const uint32_t t[256], const char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = t[(c ^ (unsigned char)p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* Little-endian fields. */
static void u16(rw_export_stream *s, unsigned v) {
    char b[2] = {(char)(v & 0xFF), (char)((v >> 8) & 0xFF)};
    rw_xout(s, b, 2);
}

static void u32(rw_export_stream *s, uint32_t v) {
    u16(s, v & 0xFFFF);
    u16(s, v >> 16);
}

static void member_name(const bundle *b, size_t i, char out[128]) {
    snprintf(out, 128, "%s%s", b->folder, rw_export_file_name(members[i]));
}

/* The fields a local header and a central directory entry share, from
 * "version needed" to the extra field's length. */
static void common_fields(rw_export_stream *s, const bundle *b, const entry *e, size_t name_len) {
    u16(s, 20);     /* version needed: 2.0 */
    u16(s, 0x0800); /* names are UTF-8 */
    u16(s, 0);      /* stored */
    u16(s, b->dos_time);
    u16(s, b->dos_date);
    u32(s, e->crc);
    u32(s, e->size);
    u32(s, e->size);
    u16(s, (unsigned)name_len);
    u16(s, 0);
}

/* Produces member i whole, then its local header and its bytes. */
static rw_status put_member(rw_export_stream *s, bundle *b, size_t i, rw_err *err) {
    rw_export_stream *m = NULL;
    rw_status st = rw_export_open(&m, members[i], s->g, err);
    while (st == RW_OK && !m->done && !m->nomem) st = m->step(m, err);
    if (st == RW_OK && m->nomem) st = rw_fail(err, RW_ERR_NOMEM, "bundle: out of memory");
    if (st == RW_OK && (m->len > 0x7FFFFFFFu || (uint64_t)b->at + m->len + 1024 > 0xFFFFFFFFu))
        st = rw_fail(err, RW_ERR_LIMIT, "bundle: more than 4 GB does not fit a zip without zip64");
    if (st == RW_OK) {
        char name[128];
        member_name(b, i, name);
        entry *e = &b->e[i];
        *e = (entry){crc32_of(b->crc_table, m->buf, m->len), (uint32_t)m->len, b->at};
        size_t before = s->len;
        u32(s, 0x04034b50);
        common_fields(s, b, e, strlen(name));
        rw_xputs(s, name);
        rw_xout(s, m->buf, m->len);
        b->at += (uint32_t)(s->len - before);
    }
    rw_export_close(m);
    return st;
}

static void put_directory(rw_export_stream *s, const bundle *b) {
    size_t before = s->len;
    for (size_t i = 0; i < NMEMBERS; i++) {
        char name[128];
        member_name(b, i, name);
        u32(s, 0x02014b50);
        u16(s, (3u << 8) | 20); /* made by: Unix, 2.0 (so the mode below counts) */
        common_fields(s, b, &b->e[i], strlen(name));
        u16(s, 0);              /* comment */
        u16(s, 0);              /* disk */
        u16(s, 0);              /* internal attributes */
        u32(s, 0100644u << 16); /* a regular file, rw-r--r-- */
        u32(s, b->e[i].offset);
        rw_xputs(s, name);
    }
    uint32_t size = (uint32_t)(s->len - before);
    u32(s, 0x06054b50);
    u16(s, 0);
    u16(s, 0);
    u16(s, NMEMBERS);
    u16(s, NMEMBERS);
    u32(s, size);
    u32(s, b->at);
    u16(s, 0); /* comment */
}

static rw_status step(rw_export_stream *s, rw_err *err) {
    bundle *b = s->priv;
    if (s->i < NMEMBERS) return put_member(s, b, s->i++, err);
    put_directory(s, b);
    s->done = 1;
    return RW_OK;
}

rw_status rw_xbundle_open(rw_export_stream *s, rw_err *err) {
    bundle *b = calloc(1, sizeof *b);
    if (!b) return rw_fail(err, RW_ERR_NOMEM, "bundle: out of memory");
    const rw_cluster_graph *g = s->g;
    if (g->nclusters == 1)
        snprintf(b->folder, sizeof b->folder, "cluster-%u/", g->clusters[0].id);
    else
        snprintf(b->folder, sizeof b->folder, "run-%lld/", (long long)g->run);
    /* The members' time is the newest event they hold, not the clock's:
     * the same clusters give the same bytes, whenever and however they
     * are read out. */
    time_t newest = 0;
    for (size_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].last_seen > newest) newest = (time_t)g->nodes[i].last_seen;
    struct tm tm;
    if (gmtime_r(&newest, &tm) && tm.tm_year >= 80) {
        b->dos_time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
        b->dos_date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
    }
    crc_init(b->crc_table);
    s->priv = b;
    s->free_priv = free;
    s->step = step;
    return RW_OK;
}
