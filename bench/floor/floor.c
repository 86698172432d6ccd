// The machine's floor for the delivery cases (bench/README.md, "The floor"): the least any
// scheduler could spend on the callbacks of a case, because this program does nothing else. It
// keeps CONNS keep-alive connections to the callee and makes the calls of N jobs every second,
// each at its job's due time (phase spread over the second, or all at 0), in due order, over one
// epoll loop, reading no more of an answer than the blank line that ends its head (the callee
// answers 204, no body). It has no jobs to keep, no clock to plan, no journal and no retries.
// The harness times its calls from the callee's log and reads its CPU from /proc, exactly as it
// does for the schedulers.
//
// usage: floor PORT JOBS spread|aligned ORIGIN_MS UNTIL_MS CONNS
//   calls /hook/{job}/{phase_ms}/1000 for every slot origin + phase + k * 1000 before UNTIL_MS
//   (Unix milliseconds), as bench/harness/Callee.cs names them.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static int port, jobs, aligned;

static int phase_of(long long job) { return aligned ? 0 : (int)(job * 1000 / jobs); }

// The n-th call in due order: slot n / jobs of job n % jobs.
static long long due_of(long long origin, long long n) { return origin + (n / jobs) * 1000 + phase_of(n % jobs); }

static int open_connection(int ep, int index)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("floor: connect"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event e = { .events = EPOLLIN, .data.u32 = (unsigned)index };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) { perror("floor: epoll_ctl"); exit(1); }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 7) { fprintf(stderr, "usage: floor PORT JOBS spread|aligned ORIGIN_MS UNTIL_MS CONNS\n"); return 2; }
    port = atoi(argv[1]);
    jobs = atoi(argv[2]);
    aligned = strcmp(argv[3], "aligned") == 0;
    long long origin = atoll(argv[4]), until = atoll(argv[5]);
    int conns = atoi(argv[6]);
    if (port <= 0 || jobs <= 0 || conns <= 0 || (!aligned && strcmp(argv[3], "spread") != 0)) { fprintf(stderr, "floor: bad arguments\n"); return 2; }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    int *fd = calloc((size_t)conns, sizeof(int));
    int *idle = calloc((size_t)conns, sizeof(int));
    int *tail = calloc((size_t)conns, sizeof(int)); // how much of "\r\n\r\n" the bytes read so far end with
    int nidle = 0;
    for (int i = 0; i < conns; i++) { fd[i] = open_connection(ep, i); idle[nidle++] = i; }

    long long sent = 0, answered = 0, reconnects = 0;
    char req[128], buf[4096];
    struct epoll_event ev[256];
    static const char end[] = "\r\n\r\n";
    for (;;)
    {
        long long t = now_ms();
        if (t >= until && (nidle == conns || t >= until + 5000)) break;
        // Every call due by now, while a connection is free.
        while (nidle > 0 && due_of(origin, sent) <= t && due_of(origin, sent) < until)
        {
            long long job = sent % jobs;
            int len = snprintf(req, sizeof req, "GET /hook/%lld/%d/1000 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", job, phase_of(job), port);
            int c = idle[--nidle];
            if (write(fd[c], req, (size_t)len) != len) { perror("floor: write"); return 1; }
            sent++;
        }
        long long next = due_of(origin, sent);
        int timeout;
        if (next >= until) timeout = t >= until ? 100 : (int)(until - t);
        else if (nidle == 0) timeout = 100;
        else timeout = next > t ? (int)(next - t) : 0;
        if (timeout > 100) timeout = 100;
        int n = epoll_wait(ep, ev, 256, timeout);
        if (n < 0 && errno != EINTR) { perror("floor: epoll_wait"); return 1; }
        for (int i = 0; i < n; i++)
        {
            int c = (int)ev[i].data.u32;
            ssize_t r = read(fd[c], buf, sizeof buf);
            if (r <= 0)
            {
                // The callee closed the connection: the call in flight on it is lost, as it would be for a scheduler.
                close(fd[c]);
                fd[c] = open_connection(ep, c);
                tail[c] = 0;
                idle[nidle++] = c;
                reconnects++;
                continue;
            }
            for (ssize_t k = 0; k < r; k++)
            {
                tail[c] = buf[k] == end[tail[c]] ? tail[c] + 1 : (buf[k] == '\r' ? 1 : 0);
                if (tail[c] == 4) { tail[c] = 0; answered++; idle[nidle++] = c; }
            }
        }
    }
    printf("floor: %lld calls made, %lld answered, %lld reconnects\n", sent, answered, reconnects);
    return 0;
}
