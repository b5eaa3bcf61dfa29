/* http: the rescore_command run on the database's copy: in a process group
 * of its own (mpirun and its ranks stop together), its stderr's last lines
 * kept for the job's error, the group killed on cancel and after it exits
 * (so nothing is left writing the copy while its run is brought back). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_int.h"

extern char **environ;

#define TAIL_BYTES         4096 /* of stderr kept */
#define TAIL_LINES         4    /* in the job's error */
#define KILL_GRACE_SECONDS 5    /* from SIGTERM to SIGKILL on cancel */

typedef struct {
    char buf[TAIL_BYTES];
    size_t len;
} tail;

static void tail_add(tail *t, const char *p, size_t n) {
    if (n >= sizeof t->buf) p += n - sizeof t->buf / 2, n = sizeof t->buf / 2;
    if (t->len + n > sizeof t->buf) { /* keep the newer half */
        size_t drop = t->len + n - sizeof t->buf / 2;
        if (drop > t->len) drop = t->len;
        memmove(t->buf, t->buf + drop, t->len - drop);
        t->len -= drop;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

/* The last TAIL_LINES non-empty lines, joined by " | ", into out. */
static void tail_lines(const tail *t, char *out, size_t size) {
    size_t end = t->len, start = end;
    int lines = 0;
    while (start > 0 && lines < TAIL_LINES) {
        while (end > 0 && (t->buf[end - 1] == '\n' || t->buf[end - 1] == '\r')) end--;
        start = end;
        while (start > 0 && t->buf[start - 1] != '\n') start--;
        if (end > start) lines++;
        if (lines < TAIL_LINES && start > 0) end = start - 1;
    }
    size_t at = 0;
    out[0] = 0;
    for (size_t i = start; i < t->len && at + 4 < size; i++) {
        char c = t->buf[i];
        if (c == '\r') continue;
        if (c == '\n') {
            if (i + 1 < t->len && at) at += (size_t)snprintf(out + at, size - at, " | ");
            continue;
        }
        out[at++] = (unsigned char)c < 0x20 ? ' ' : c;
    }
    if (at < size) out[at] = 0;
}

/* argv for /bin/sh -c 'COMMAND "$@"' with the copy, the key and the job's
 * parameters as "$@": the operator's command is parsed as a shell line,
 * the paths never are. The strings live in a. */
typedef struct {
    char line[RW_CONFIG_TEXT + 16], key[RW_CONFIG_TEXT + 8], density[32], hub[32];
    char *argv[16];
} command_args;

static void command_argv(command_args *a, const rw_job_command *c, const char *copy) {
    const rw_config *cfg = &c->s->cfg;
    size_t n = 0;
    snprintf(a->line, sizeof a->line, "%s \"$@\"", cfg->rescore_command);
    if (cfg->key_file[0])
        snprintf(a->key, sizeof a->key, "%s", cfg->key_file);
    else
        snprintf(a->key, sizeof a->key, "%s.key", cfg->db);
    static const char *const fixed[] = {"/bin/sh", "-c", NULL, "rescore_command", "--db", NULL, "--key-file", NULL};
    for (; n < sizeof fixed / sizeof fixed[0]; n++) a->argv[n] = (char *)fixed[n];
    a->argv[2] = a->line;
    a->argv[5] = (char *)copy;
    a->argv[7] = a->key;
    if (c->rp->density > 0) {
        snprintf(a->density, sizeof a->density, "%.17g", c->rp->density);
        a->argv[n++] = "--density", a->argv[n++] = a->density;
    }
    if (c->rp->hub_degree) {
        snprintf(a->hub, sizeof a->hub, "%u", c->rp->hub_degree);
        a->argv[n++] = "--hub-degree", a->argv[n++] = a->hub;
    }
    a->argv[n] = NULL;
}

/* Starts the command in a process group of its own, stdin and stdout on
 * /dev/null, stderr into *err_fd; signals as a fresh process has them
 * (the server blocks or ignores some). */
static rw_status spawn_command(command_args *a, pid_t *pid, int *err_fd, rw_err *err) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return rw_fail(err, RW_ERR_IO, "rescore_command: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE), sigaddset(&dflt, SIGTERM), sigaddset(&dflt, SIGINT), sigaddset(&dflt, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid, "/bin/sh", &fa, &at, a->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return rw_fail(err, RW_ERR_IO, "rescore_command: cannot start /bin/sh: %s", strerror(rc));
    }
    *err_fd = p[0];
    return RW_OK;
}

/* Reads what stderr has (non-blocking after poll); closes it at its end. */
static void drain(int *fd, tail *t, int wait_ms) {
    struct pollfd pf = {.fd = *fd, .events = POLLIN};
    if (*fd < 0 || poll(&pf, 1, wait_ms) <= 0) return;
    char buf[1024];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n > 0) {
        tail_add(t, buf, (size_t)n);
    } else if (n == 0 || errno != EINTR) {
        close(*fd);
        *fd = -1;
    }
}

/* Waits for the command, stopping its group when *cancel becomes 1:
 * SIGTERM, then SIGKILL after a grace period. */
static int wait_command(pid_t pid, int *fd, tail *t, const int *cancel, int *cancelled) {
    int status = 0;
    double kill_at = 0;
    *cancelled = 0;
    for (;;) {
        if (*fd >= 0)
            drain(fd, t, 100);
        else
            usleep(100 * 1000);
        if (!*cancelled && cancel && __atomic_load_n(cancel, __ATOMIC_ACQUIRE)) {
            *cancelled = 1;
            killpg(pid, SIGTERM);
            kill_at = rw_now() + KILL_GRACE_SECONDS;
        }
        if (*cancelled && kill_at && rw_now() >= kill_at) {
            killpg(pid, SIGKILL);
            kill_at = 0;
        }
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) break;
    }
    killpg(pid, SIGKILL); /* what the leader left behind; ESRCH when nothing */
    for (int i = 0; *fd >= 0 && i < 10; i++) drain(fd, t, 10);
    if (*fd >= 0) close(*fd), *fd = -1;
    return status;
}

rw_status rw_jobs_run_command(void *ctx, const char *copy, rw_err *err) {
    const rw_job_command *c = ctx;
    command_args a;
    command_argv(&a, c, copy);
    pid_t pid;
    int fd = -1, cancelled = 0;
    rw_status st = spawn_command(&a, &pid, &fd, err);
    if (st != RW_OK) return st;
    tail t = {.len = 0};
    int status = wait_command(pid, &fd, &t, c->cancel, &cancelled);
    char last[400];
    tail_lines(&t, last, sizeof last);
    if (cancelled)
        st = rw_fail(err, RW_ERR_CANCELLED, "rescoring cancelled: rescore_command stopped%s%s", last[0] ? ": " : "",
                     last);
    else if (WIFSIGNALED(status))
        st = rw_fail(err, RW_ERR_IO, "rescore_command was killed by signal %d (%s)%s%s", WTERMSIG(status),
                     strsignal(WTERMSIG(status)), last[0] ? ": " : "", last);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        st = rw_fail(err, RW_ERR_IO, "rescore_command exited with status %d%s%s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, last[0] ? ": " : "", last);
    return st;
}
