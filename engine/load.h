/* engine stage: the graph from the store. */
#ifndef RW_ENGINE_LOAD_H
#define RW_ENGINE_LOAD_H

#include "engine_int.h"

/* Builds the graph by replaying the store's log into *out (caller owns;
 * NULL on failure) and counts its events. Erased ids become placeholders so
 * the ids after them stay where events name them. */
rw_status rw_engine_load_graph(rw_store *s, rw_graph **out, uint64_t *events, rw_err *err);

#endif
