/* pool.c -- pyloss's worker threads (the contract is in pool.h). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE   /* sched_getcpu */
#endif
#include "common.h"   /* pool.h, pl_pairwise: the sum every kernel uses */
#include "pl_info.h"

#include <stdlib.h>

#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__)) && !defined(__STDC_NO_ATOMICS__)
#define PL_POOL 1
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#elif defined(_OPENMP)
#include <omp.h>
#endif

/* Blocks per pool job at most: the claim word counts blocks in 32 bits. */
#define PL_JOB_CAP ((int64_t)1 << 30)

/* Block b of a job: part[b] = fn(ctx, first + b), or only the call when part
 * is NULL (the blocks write their own results). */
static inline void one_block(pl_block_fn fn, void *ctx, double *part, int64_t first, int64_t b)
{
    const double v = fn(ctx, first + b);
    if (part) part[b] = v;
}

#ifdef PL_POOL
/*
 * One job at a time (a call that finds the pool busy runs alone).  The job's
 * blocks are claimed from `word` = generation << 32 | next block, with a
 * compare-and-swap that also checks the generation: a worker reads the job's
 * fields after reading `word`, and its claim succeeds only if the job it read
 * is still the one being claimed from (the caller rewrites the fields only
 * after every block of the previous job was claimed and done, which changes
 * `word` first).  A job has at most PL_JOB_CAP blocks (larger calls are cut).
 * `done` counts finished blocks; the caller returns when it reaches nb.
 */
#define PL_POOL_MAX 255          /* workers; a call uses nthreads - 1 of them */
/* After a job a worker waits for the next one awake for this long (yielding
 * its CPU now and then to anyone who wants it), then sleeps.  A worker woken
 * from sleep was found (this 2-vCPU VM, Linux 6.18) to be placed on the
 * caller's own CPU every time, where it can only slow the caller down: so it
 * stays awake through the gaps of a training loop (libgomp spins about as
 * long: 300000 pause instructions, 9 ms here), and a worker that finds itself
 * on the caller's CPU moves to another one (leave_cpu) or sits the job out. */
#define PL_SPIN_NS 5000000

typedef struct {
    _Atomic uint64_t word;
    _Atomic int64_t done;
    _Atomic(pl_block_fn) fn;
    _Atomic(void *) ctx;
    _Atomic(double *) part;
    _Atomic int64_t first;       /* block index of part[0] */
    _Atomic int64_t nb;
    _Atomic int64_t grain;       /* blocks per claim */
    _Atomic int want;            /* workers 1..want take part */
    _Atomic int cpu;             /* the caller's CPU, -1 if unknown */
} pl_job;

static pl_job job;
static pthread_mutex_t submit_mu = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static pthread_mutex_t sleep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cv = PTHREAD_COND_INITIALIZER;
static _Atomic int sleepers;
static _Atomic int nworkers;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
/* Contention back-off (guarded by submit_mu): `stalls` is a moving average of
 * how often the caller had to wait long for a block a worker had claimed (a
 * worker preempted by another process in the middle of its claim: measured
 * 5-14 ms waits on calls of 3 ms, in 3-19% of the calls, with one busy process
 * on the other CPU).  After a stall, calls run on the caller alone, except one
 * in PL_PROBE that tries the workers again; one clean probe after a lone stall
 * turns them back on, three after repeated ones. */
#define PL_PROBE 8
static double stalls;
static unsigned calls;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int this_cpu(void)
{
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

/* Moves the calling thread off `cpu` (Linux: its CPU mask without `cpu`, set
 * and then restored; the kernel migrates the thread at the first call).
 * Returns whether it now runs elsewhere. */
static int leave_cpu(int cpu)
{
#if defined(__linux__) && defined(CPU_SET)
    cpu_set_t all, other;
    if (cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof all, &all) != 0) return 0;
    other = all;
    CPU_CLR(cpu, &other);
    if (CPU_COUNT(&other) == 0 || sched_setaffinity(0, sizeof other, &other) != 0) return 0;
    sched_setaffinity(0, sizeof all, &all);
    return this_cpu() != cpu;
#else
    (void)cpu;
    return 0;
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims and computes blocks of the job generation `gen` until none is left
 * (or the job is no longer `gen`); returns how many it computed. */
static int64_t work(uint64_t gen, int id)
{
    int64_t did = 0;
    uint64_t w = atomic_load_explicit(&job.word, memory_order_acquire);
    for (;;) {
        if ((w >> 32) != gen) return did;
        const int64_t i = (int64_t)(w & 0xffffffffu);
        const int64_t nb = atomic_load_explicit(&job.nb, memory_order_relaxed);
        if (i >= nb) return did;
        if (id > atomic_load_explicit(&job.want, memory_order_relaxed)) return did;
        const int64_t g = atomic_load_explicit(&job.grain, memory_order_relaxed);
        const int64_t k = nb - i < g ? nb - i : g;
        const pl_block_fn fn = atomic_load_explicit(&job.fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&job.ctx, memory_order_relaxed);
        double *part = atomic_load_explicit(&job.part, memory_order_relaxed);
        const int64_t first = atomic_load_explicit(&job.first, memory_order_relaxed);
        /* the claim: succeeds only if nobody claimed since w was read, so the
         * fields above belong to this job (see the comment on pl_job) */
        if (!atomic_compare_exchange_weak_explicit(&job.word, &w, w + (uint64_t)k,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        for (int64_t b = i; b < i + k; b++) one_block(fn, ctx, part, first, b);
        atomic_fetch_add_explicit(&job.done, k, memory_order_release);
        did += k;
        w = atomic_load_explicit(&job.word, memory_order_acquire);
    }
}

static _Thread_local int tid;   /* pl_pool_tid: 0 on every thread but the workers */

int pl_pool_tid(void) { return tid; }

static void *worker(void *arg)
{
    const int id = (int)(intptr_t)arg;
    tid = id;
    uint64_t seen = atomic_load_explicit(&job.word, memory_order_acquire) >> 32;
    int awake = 1;   /* 0: sat the last job out on the caller's CPU, go straight to sleep */
    for (;;) {
        uint64_t w = atomic_load_explicit(&job.word, memory_order_acquire);
        if ((w >> 32) == seen && awake) {
            const int64_t t0 = now_ns();
            for (int spin = 1;; spin++) {
                cpu_relax();
                w = atomic_load_explicit(&job.word, memory_order_acquire);
                if ((w >> 32) != seen) break;
                if ((spin & 1023) == 0) {
                    if (now_ns() - t0 > PL_SPIN_NS) break;
                    sched_yield();
                }
            }
        }
        if ((w >> 32) == seen) {
            pthread_mutex_lock(&sleep_mu);
            atomic_fetch_add(&sleepers, 1);   /* seq_cst: pairs with the caller's */
            while ((atomic_load(&job.word) >> 32) == seen) pthread_cond_wait(&sleep_cv, &sleep_mu);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_mu);
            w = atomic_load_explicit(&job.word, memory_order_acquire);
        }
        seen = w >> 32;
        /* sharing the caller's CPU, a worker would only take turns with it:
         * move to another CPU, or sit the job out */
        const int cpu = atomic_load_explicit(&job.cpu, memory_order_relaxed);
        awake = cpu < 0 || this_cpu() != cpu || leave_cpu(cpu);
        if (awake) work(seen, id);
    }
    return NULL;
}

/* In a child process after fork() the workers do not exist: start afresh. */
static void after_fork_child(void)
{
    pthread_mutex_init(&submit_mu, NULL);
    pthread_mutex_init(&sleep_mu, NULL);
    pthread_cond_init(&sleep_cv, NULL);
    atomic_store(&sleepers, 0);
    atomic_store(&nworkers, 0);
}

static void register_fork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

/* Starts workers up to `want` (called with submit_mu held); returns how many
 * run (more than `want` when an earlier call asked for more threads). */
static int ensure_workers(int want)
{
    pthread_once(&fork_once, register_fork);
    int have = atomic_load(&nworkers);
    while (have < want) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        /* the block functions keep up to ~100 KB of buffers on the stack
         * (focal_smooth_l1's block), more under ASan: at least 4 MiB (address
         * space only), as a main thread would have */
        size_t ss = 0;
        if (pthread_attr_getstacksize(&at, &ss) == 0 && ss < ((size_t)4 << 20))
            pthread_attr_setstacksize(&at, (size_t)4 << 20);
        int rc = pthread_create(&t, &at, worker, (void *)(intptr_t)(have + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break;   /* fewer threads: the caller does more of the blocks */
        atomic_store(&nworkers, ++have);
    }
    return have;
}

/* part[b] = fn(ctx, first + b) for b in [0, nb), nb < 2^32, on the caller and
 * up to nthreads - 1 workers.  Returns 0 if the pool was busy (nothing done). */
static int run_pool(int64_t first, int64_t nb, int nthreads, pl_block_fn fn, void *ctx,
                    double *part)
{
    if (pthread_mutex_trylock(&submit_mu) != 0) return 0;
    if (stalls >= 0.2 && ++calls % PL_PROBE != 0) {
        pthread_mutex_unlock(&submit_mu);
        return 0;
    }
    int want = nthreads - 1 < PL_POOL_MAX ? nthreads - 1 : PL_POOL_MAX;
    const int have = ensure_workers(want);   /* may be more, started for an earlier call */
    want = have < want ? have : want;
    /* claims of a few blocks (8 partials fill a cache line), smaller when
     * there are few blocks per thread */
    int64_t g = nb / (4 * (int64_t)nthreads);
    g = g < 1 ? 1 : g > 8 ? 8 : g;
    atomic_store_explicit(&job.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&job.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&job.part, part, memory_order_relaxed);
    atomic_store_explicit(&job.first, first, memory_order_relaxed);
    atomic_store_explicit(&job.nb, nb, memory_order_relaxed);
    atomic_store_explicit(&job.grain, g, memory_order_relaxed);
    atomic_store_explicit(&job.want, want, memory_order_relaxed);
    atomic_store_explicit(&job.done, 0, memory_order_relaxed);
    atomic_store_explicit(&job.cpu, this_cpu(), memory_order_relaxed);
    const uint64_t gen = (atomic_load_explicit(&job.word, memory_order_relaxed) >> 32) + 1;
    atomic_store(&job.word, (gen & 0xffffffffu) << 32);   /* seq_cst: publishes the fields */
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_mu);
        pthread_cond_broadcast(&sleep_cv);
        pthread_mutex_unlock(&sleep_mu);
    }
    const int64_t t0 = now_ns();
    const int64_t mine = work(gen & 0xffffffffu, 0);
    const int64_t t1 = now_ns();
    /* wait for the blocks the workers claimed: spin, then yield the CPU (a
     * preempted worker may need this one to finish its claim) */
    for (int spin = 0; atomic_load_explicit(&job.done, memory_order_acquire) < nb; spin++) {
        if (spin < 4096) cpu_relax();
        else sched_yield();
    }
    /* a stall: this call took longer than the caller alone would have (its
     * own time per block times every block), by 20% and 50 us at least */
    const int64_t took = now_ns() - t0;
    const double alone = mine > 0 ? (double)(t1 - t0) * (double)nb / (double)mine : (double)took;
    const int stalled = took > 1.2 * alone && took - alone > 50000;
    stalls = 0.75 * stalls + (stalled ? 0.25 : 0.0);
    pthread_mutex_unlock(&submit_mu);
    return 1;
}

int pl_pool_workers(void) { return atomic_load(&nworkers); }

#else /* no pool */

int pl_pool_workers(void) { return -1; }

#if defined(_OPENMP)
int pl_pool_tid(void) { return omp_get_thread_num(); }
#else
int pl_pool_tid(void) { return 0; }
#endif

#endif

/* part[b] = fn(ctx, first + b) for b in [0, nb). */
static void run_blocks(int64_t first, int64_t nb, int nthreads, pl_block_fn fn, void *ctx,
                       double *part)
{
#if defined(PL_POOL)
    if (nthreads > 1 && nb > 1 && run_pool(first, nb, nthreads, fn, ctx, part)) return;
#elif defined(_OPENMP)
    if (nthreads > 1 && nb > 1) {
        int64_t b;
#pragma omp parallel for schedule(dynamic, 4) num_threads(nthreads)
        for (b = 0; b < nb; b++) one_block(fn, ctx, part, first, b);
        return;
    }
#endif
    for (int64_t b = 0; b < nb; b++) one_block(fn, ctx, part, first, b);
}

void pl_run_blocks(int64_t nb, int nthreads, pl_block_fn fn, void *ctx, double *part)
{
    for (int64_t s0 = 0; s0 < nb; s0 += PL_JOB_CAP)
        run_blocks(s0, nb - s0 < PL_JOB_CAP ? nb - s0 : PL_JOB_CAP, nthreads, fn, ctx,
                   part ? part + s0 : NULL);
}

double pl_sum_blocks(int64_t nb, int nthreads, pl_block_fn fn, void *ctx)
{
    /* the partials of up to one super-chunk on the stack; with threads and more
     * blocks, all of them on the heap so that one job covers the call (the
     * sum below is the same either way) */
    double stack_part[PL_SUPER];
    double *part = stack_part, *heap = NULL;
    int64_t span = PL_SUPER;
    if (nthreads > 1 && nb > PL_SUPER) {
        span = nb < PL_JOB_CAP ? nb : PL_JOB_CAP;   /* a multiple of PL_SUPER */
        heap = (double *)malloc((size_t)span * sizeof(double));
        if (heap) part = heap;
        else span = PL_SUPER;
    }
    double total = 0.0;
    for (int64_t s0 = 0; s0 < nb; s0 += span) {
        const int64_t sn = nb - s0 < span ? nb - s0 : span;
        run_blocks(s0, sn, nthreads, fn, ctx, part);
        for (int64_t c = 0; c < sn; c += PL_SUPER)
            total += pl_pairwise(part + c, sn - c < PL_SUPER ? sn - c : PL_SUPER);
    }
    free(heap);
    return total;
}
