/* The HTTP ceiling for bench/load.py: a hello-world libmicrohttpd server set
 * up like ringwatch serve (internal polling thread + epoll, the same thread
 * pool and limits, two-phase handler, copied JSON answer about the size of
 * an account lookup). Runs until SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    stop_signal = sig;
}

static char answer[2048];
static size_t answer_len;

/* Roughly what GET /v1/accounts/{id} answers for an account of 3 attributes. */
static void make_answer(size_t want) {
    static const char head[] =
        "{\"account\":\"uz5vefea167\",\"first_seen\":\"2026-09-22T15:22:21Z\",\"last_seen\":\"2026-09-28T20:18:36Z\","
        "\"attribute_count\":3,\"attributes\":[";
    static const char attr[] =
        "{\"pseudonym\":\"ip:c5a2e94c40\",\"kind\":\"ip\",\"degree\":34,\"first_seen\":\"2026-09-22T14:22:05Z\","
        "\"last_seen\":\"2026-09-30T17:34:11Z\",\"count\":1}";
    static const char tail[] = "],\"live\":{\"decision\":\"allow\",\"score\":0.007622610188,\"cluster\":null,"
                               "\"reasons\":[]},\"run\":null,\"label\":null,\"pad\":\"";
    size_t n = (size_t)snprintf(answer, sizeof answer, "%s", head);
    for (int i = 0; i < 3; i++) n += (size_t)snprintf(answer + n, sizeof answer - n, "%s%s", i ? "," : "", attr);
    n += (size_t)snprintf(answer + n, sizeof answer - n, "%s", tail);
    while (n + 2 < want && n + 2 < sizeof answer) answer[n++] = 'x';
    answer[n++] = '"';
    answer[n++] = '}';
    answer_len = n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    /* Two-phase, as ringwatch: answering on the first call makes MHD 0.9.75
     * close the connection after every answer. */
    if (!*con_cls) {
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* Like ringwatch: look at the headers it reads, copy the answer. */
    (void)MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    (void)MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    struct MHD_Response *r = MHD_create_response_from_buffer(answer_len, answer, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    *con_cls = NULL;
}

int main(int argc, char **argv) {
    unsigned port = 65536, threads = 16, conn_limit = 1024, per_ip = 256, timeout = 30;
    size_t bytes = 750, conn_mem = 16384; /* ringwatch's default connection_memory_bytes */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        unsigned long n = strtoul(v, NULL, 10);
        if (!strcmp(a, "--port")) {
            port = (unsigned)n;
        } else if (!strcmp(a, "--threads")) {
            threads = (unsigned)n;
        } else if (!strcmp(a, "--bytes")) {
            bytes = n;
        } else if (!strcmp(a, "--connection-limit")) {
            conn_limit = (unsigned)n;
        } else {
            goto usage;
        }
        i++;
    }
    if (port > 65535 || !threads) goto usage;
    make_answer(bytes);

    sigset_t stopset, old;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopset, &old); /* MHD's threads inherit it */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, conn_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_mem, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bench_hello_mhd: cannot listen on 127.0.0.1:%u\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "bench_hello_mhd: listening on 127.0.0.1:%u (%u threads, %zu-byte answer)\n",
            info ? (unsigned)info->port : port, threads, answer_len);
    sigset_t wait = old;
    sigdelset(&wait, SIGTERM);
    sigdelset(&wait, SIGINT);
    while (!stop_signal) sigsuspend(&wait);
    MHD_stop_daemon(d);
    return 0;
usage:
    fprintf(stderr, "usage: bench_hello_mhd --port PORT (0: any free one, printed) [--threads N (16)]\n"
                    "                       [--bytes ANSWER_BYTES (750)] [--connection-limit N (1024)]\n");
    return 2;
}
