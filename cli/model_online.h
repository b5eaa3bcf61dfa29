/* ringwatch model's verbs on the signup models (cli/model_online.c). */
#ifndef RW_CLI_MODEL_ONLINE_H
#define RW_CLI_MODEL_ONLINE_H

#include "engine.h"

/* verb: list, show (arg the version), promote (arg), rollback. Prints the
 * result; returns the exit code. */
int rw_model_online(rw_engine *e, const char *verb, const char *arg);

#endif
