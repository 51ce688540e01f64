/* dispatch.c - the escalation dispatcher: threads that take due outbox
 * entries with a lease (store_outbox_claim), one entry per claim, deliver
 * it through its channel (esc_deliver) outside any transaction, then mark
 * the outcome:
 * delivered; retry after an exponential back-off with jitter; or failed
 * (the dead-letter list) when the receiver refused it for good or the
 * attempts are used up - which raises a local alert (error log line,
 * counter, and a JSON line in the alerts file when configured).
 *
 * One entry per claim: its lease starts when its own delivery starts, so
 * the lease (longer than every channel's timeout, check_opts) always
 * covers that delivery and no other dispatcher claims the entry while it
 * is in hand; and no entry waits, leased, behind another thread's slow
 * or hanging endpoint - an idle thread takes it. (Claiming several at
 * once, delivered one after another, let the later ones' leases run out
 * behind a hanging endpoint: another thread claimed and delivered them
 * again, issue 17.) The price is two write transactions per entry.
 *
 * Crash safety comes from the store: a claimed entry is due again when its
 * lease ends, so a dispatcher killed between claim and mark delivers it
 * again later (receivers drop repeats by the idempotency key). A graceful
 * stop finishes and marks the delivery in hand and claims nothing more.
 *
 * Threads: esc_dispatcher_start/stop from one controlling thread; each
 * dispatcher thread owns its deliverer (curl handles, producers), arena and
 * random state; the counters are atomics; the alerts file is written under
 * a mutex. esc_dispatch_once runs the same rounds in the calling thread.
 * With opts.due_env, the first thread also runs the due-report pass
 * (esc_due_queue, policy auto_send) at start and every due_every_ns, in its
 * own write transaction, and wakes the others when it queued entries. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "channel_int.h"

#define ARENA_CHUNK (64u << 10)
#define ARENA_CAP ((size_t)STORE_PAYLOAD_MAX + (64u << 10)) /* one entry */

struct counters {
    _Atomic uint64_t claimed, delivered, retried, failed, errors;
};

/* Outcomes by recipient (a dispatcher's, for its metrics): a short table
 * under a mutex (one update per delivery attempt, not a hot path). */
#define RCP_MAX (ESC_RECIPIENTS_MAX * 4)
struct rcp_table {
    pthread_mutex_t mu;
    struct esc_recipient_stats v[RCP_MAX];
    uint64_t failing[RCP_MAX]; /* attempts failed since the last delivery */
    int64_t warned_at[RCP_MAX]; /* monotonic ns of the last warning */
    size_t n;
};

enum rcp_outcome { RCP_DELIVERED, RCP_RETRIED, RCP_FAILED };

#define RETRY_WARN_EVERY_NS (60 * TS_NS_PER_SEC)

/* A channel that fails is said in the log (not only in the entry's
 * last_error): at its first failed attempt since a delivery, then at most
 * once a minute per recipient; and when it delivers again. */
static void rcp_say(struct rcp_table *t, size_t i, const struct store_outbox *e,
                    enum rcp_outcome o, const char *why)
{
    if (o == RCP_DELIVERED) {
        if (t->failing[i])
            ts_info("escalation to %s via %s: delivered again, after %llu failed attempt(s)",
                    e->recipient, e->channel, (unsigned long long)t->failing[i]);
        t->failing[i] = 0;
        return;
    }
    if (o != RCP_RETRIED)
        return;
    int64_t now = ts_mono_ns();
    if (t->failing[i]++ == 0 || now - t->warned_at[i] >= RETRY_WARN_EVERY_NS) {
        t->warned_at[i] = now;
        ts_warn("escalation to %s via %s: %s (attempt %u of %s; %llu failed attempt(s) since "
                "the last delivery: retried with back-off, the entry stays in the outbox)",
                e->recipient, e->channel, why && why[0] ? why : "not delivered", e->attempts,
                e->id, (unsigned long long)t->failing[i]);
    }
}

static void rcp_note(struct rcp_table *t, const char *recipient, enum rcp_outcome o,
                     const struct store_outbox *e, const char *why)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    size_t i = 0;
    while (i < t->n && strcmp(t->v[i].recipient, recipient) != 0)
        i++;
    if (i == t->n && t->n < RCP_MAX) {
        memset(&t->v[i], 0, sizeof(t->v[i]));
        snprintf(t->v[i].recipient, sizeof(t->v[i].recipient), "%s", recipient);
        t->n++;
    }
    if (i == t->n) { /* full: the last entry takes the others */
        i = RCP_MAX - 1;
        snprintf(t->v[i].recipient, sizeof(t->v[i].recipient), "(other)");
    }
    if (o == RCP_DELIVERED)
        t->v[i].delivered++;
    else if (o == RCP_RETRIED)
        t->v[i].retried++;
    else
        t->v[i].failed++;
    if (e)
        rcp_say(t, i, e, o, why);
    pthread_mutex_unlock(&t->mu);
}

/* What one round (claim one entry, deliver it, mark it) needs. */
struct round {
    struct store *st;
    const struct esc_dispatch_opts *o;
    struct esc_deliverer *dl;
    struct ts_arena *arena;
    uint64_t rng;
    struct counters *cnt;
    struct rcp_table *rcp;     /* NULL: not kept (esc_dispatch_once) */
    pthread_mutex_t *alert_mu; /* NULL: single-threaded */
    const char *alerts_path;
    /* the claimed entry (strings in arena) and its outcome */
    struct store_outbox e;
    bool claimed;
    enum esc_outcome out;
    char err[ESC_ERROR_MAX];
    int64_t now; /* the clock of the claim (may be ahead of the wall clock in tests) */
    int64_t claim_now; /* now as the claim's txn committed it (mark_txn's retries) */
    _Atomic int64_t *clk_off; /* the wall clock minus the monotonic one at the last write
                                 that looked and committed (follow_clock); shared by the
                                 threads */
    pthread_mutex_t *clk_mu;  /* held across each write txn that may move it (NULL:
                                 single-threaded) */
    int64_t clk_next;         /* follow_clock's new clk_off, taken when its txn commits */
    int64_t clk_step;         /* the step that txn applied (0: none) */
    uint64_t clk_moved;       /* the entries it moved */
};

struct esc_dispatcher {
    struct store *st;
    const struct esc_channels *c;
    struct esc_dispatch_opts o;
    char *alerts_path;
    pthread_t th[ESC_THREADS_MAX];
    unsigned nth;
    atomic_bool stop;
    pthread_mutex_t mu; /* idle waits and kicks */
    pthread_cond_t cv;
    unsigned kicks;
    pthread_mutex_t alert_mu;
    struct counters cnt;
    struct rcp_table rcp;
    _Atomic int64_t clk_off; /* round.clk_off */
    pthread_mutex_t clk_mu;  /* round.clk_mu */
};

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: jitter only, not security */
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void fill_opts(const struct esc_channels *c, const struct esc_dispatch_opts *in,
                      struct esc_dispatch_opts *o)
{
    esc_channels_dispatch_opts(c, o);
    if (!in)
        return;
    if (in->threads)
        o->threads = in->threads;
    if (in->lease_ns > 0)
        o->lease_ns = in->lease_ns;
    if (in->backoff_base_ns > 0)
        o->backoff_base_ns = in->backoff_base_ns;
    if (in->backoff_cap_ns > 0)
        o->backoff_cap_ns = in->backoff_cap_ns;
    if (in->max_attempts)
        o->max_attempts = in->max_attempts;
    if (in->idle_ns > 0)
        o->idle_ns = in->idle_ns;
    if (in->alerts_path)
        o->alerts_path = in->alerts_path;
    o->seed = in->seed;
    o->due_env = in->due_env;
    if (in->due_every_ns > 0)
        o->due_every_ns = in->due_every_ns;
    if (o->threads > ESC_THREADS_MAX)
        o->threads = ESC_THREADS_MAX;
}

static int check_opts(const struct esc_channels *c, const struct esc_dispatch_opts *o,
                      struct ts_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        int64_t t = c->v[i].timeout_ns + (c->v[i].type == ESC_CH_KAFKA ? 5 * TS_NS_PER_SEC : 0);
        if (c->v[i].type != ESC_CH_FILE && o->lease_ns <= t)
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "dispatch lease (%lld ms) must be longer than the timeout of "
                              "channel %s (%lld ms%s): an entry would be claimed again while "
                              "it is being delivered",
                              (long long)(o->lease_ns / 1000000), c->v[i].name,
                              (long long)(t / 1000000),
                              c->v[i].type == ESC_CH_KAFKA ? " with the 5 s report margin" : "");
    }
    return 0;
}

/* ------------------------------------------------------------- alerts */

static void alert(struct round *r, const struct store_outbox *e, const char *why)
{
    atomic_fetch_add(&r->cnt->failed, 1);
    rcp_note(r->rcp, e->recipient, RCP_FAILED, NULL, NULL);
    ts_error("escalation %s to %s via %s: dead letter after %u attempt(s): %s "
             "(tocsin escalations retry %s)",
             e->id, e->recipient, e->channel, e->attempts, why, e->id);
    if (!r->alerts_path)
        return;
    struct ts_buf b;
    ts_buf_init(&b, 16384);
    char t[40];
    ts_format_rfc3339(ts_now_ns(), t, sizeof(t));
    int rc = ts_buf_printf(&b, "{\"time\":\"%s\",\"alert\":\"escalation_dead_letter\",\"id\":", t);
    rc = rc ? rc : ts_buf_json_str(&b, e->id, strlen(e->id));
    rc = rc ? rc : ts_buf_puts(&b, ",\"incident_id\":");
    rc = rc ? rc : ts_buf_json_str(&b, e->incident_id, strlen(e->incident_id));
    rc = rc ? rc : ts_buf_puts(&b, ",\"recipient\":");
    rc = rc ? rc : ts_buf_json_str(&b, e->recipient, strlen(e->recipient));
    rc = rc ? rc : ts_buf_puts(&b, ",\"channel\":");
    rc = rc ? rc : ts_buf_json_str(&b, e->channel, strlen(e->channel));
    rc = rc ? rc : ts_buf_printf(&b, ",\"attempts\":%u,\"error\":", e->attempts);
    rc = rc ? rc : ts_buf_json_str(&b, why, strlen(why));
    rc = rc ? rc : ts_buf_puts(&b, "}\n");
    if (!rc) {
        if (r->alert_mu)
            pthread_mutex_lock(r->alert_mu);
        int fd = open(r->alerts_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) != 0)
            ts_error("escalation alerts file %s: %s", r->alerts_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        if (r->alert_mu)
            pthread_mutex_unlock(r->alert_mu);
    }
    ts_buf_free(&b);
}

/* -------------------------------------------------------------- rounds */

/* Retry times are stored on the wall clock (they outlive the process), and
 * the wall clock can be stepped (NTP, an operator): forward, every back-off
 * and lease would end at once - a burst of retries, and a delivery in hand
 * claimed again by another thread -; back, every retry would wait for the
 * length of the step. So each dispatcher write first looks whether the wall
 * clock moved against the monotonic one since the last look, and if it
 * moved by CLOCK_STEP_NS or more, moves the scheduled times with it in the
 * same write txn: back-offs and leases keep to the monotonic clock within
 * the process. Back: every pending entry (one put since the step becomes
 * due early, harmless); forward: only entries already attempted (one put
 * since the step is due on the new clock already). Returns the step applied
 * in this txn (0: none) in *step. Across a restart the claim's horizon does
 * the same for a step back (store_outbox_claim).
 * The baseline (clk_off) moves only once the txn that moved the entries has
 * committed (clock_txn_run): a txn that aborts (a write error, or map full -
 * store_txn_run then runs it again) takes its shift with it, and the next
 * write must find the step again. clk_mu, held from before the txn until the
 * baseline is updated, keeps another thread's txn from seeing the step
 * between that commit and the update and moving the entries twice. */
#define CLOCK_STEP_NS (2 * TS_NS_PER_SEC)

static int follow_clock(struct round *r, struct store_txn *t, int64_t *step)
{
    *step = 0;
    r->clk_step = 0; /* a retried txn starts over */
    if (!r->clk_off)
        return 0;
    int64_t off = ts_now_ns() - ts_mono_ns();
    int64_t j = off - atomic_load(r->clk_off);
    if (j > -CLOCK_STEP_NS && j < CLOCK_STEP_NS)
        return 0;
    uint64_t moved = 0;
    int rc = store_outbox_shift_due(t, j, j < 0 ? 0 : 1, &moved);
    if (rc)
        return rc;
    r->clk_next = off;
    r->clk_step = j;
    r->clk_moved = moved;
    *step = j;
    return 0;
}

/* store_txn_run(fn) for a txn that calls follow_clock: the baseline taken
 * after its commit, under clk_mu. */
static int clock_txn_run(struct round *r, int (*fn)(struct store_txn *t, void *ctx), void *ctx,
                         struct ts_err *err)
{
    if (r->clk_mu)
        pthread_mutex_lock(r->clk_mu);
    r->clk_step = 0;
    int rc = store_txn_run(r->st, fn, ctx, err);
    int64_t j = r->clk_step;
    if (!rc && j) {
        atomic_store(r->clk_off, r->clk_next);
        ts_warn("escalation outbox: the system clock jumped %s by %lld s: %llu pending "
                "escalation(s) rescheduled with it (back-off and leases keep to the monotonic "
                "clock)",
                j > 0 ? "forward" : "back",
                (long long)(((j > 0 ? j : -j) + TS_NS_PER_SEC / 2) / TS_NS_PER_SEC),
                (unsigned long long)r->clk_moved);
    } else if (j) {
        ts_warn("escalation outbox: the system clock jumped by %lld s; the escalations "
                "rescheduled with it were not written (the transaction failed): the next "
                "write reschedules them",
                (long long)(((j > 0 ? j : -j) + TS_NS_PER_SEC / 2) / TS_NS_PER_SEC));
    }
    if (r->clk_mu)
        pthread_mutex_unlock(r->clk_mu);
    return rc;
}

/* The claim's horizon: nothing is scheduled further ahead than the longest
 * back-off or a lease (store_outbox_claim). */
static int64_t claim_horizon(const struct esc_dispatch_opts *o)
{
    return o->backoff_cap_ns + 2 * o->lease_ns;
}

static int claim_one(void *ctx, const struct store_outbox *e)
{
    struct round *r = ctx;
    r->e = *e; /* strings live in r->arena */
    r->claimed = true;
    return 1; /* one entry: stop the walk */
}

struct claim_ctx {
    struct round *r;
    int64_t now;
};

static int claim_txn(struct store_txn *t, void *ctx)
{
    struct claim_ctx *c = ctx;
    c->r->claimed = false; /* a retried txn starts over */
    ts_arena_reset(c->r->arena);
    int64_t step;
    int rc = follow_clock(c->r, t, &step);
    if (rc)
        return rc;
    if (step && c->now == c->r->now) /* the claim's clock was read before the step */
        c->now = c->r->now = ts_now_ns();
    rc = store_outbox_claim(t, c->now, c->r->o->lease_ns, claim_horizon(c->r->o), 1, c->r->arena,
                            claim_one, c->r);
    return rc == 1 ? 0 : rc;
}

static int mark_txn(struct store_txn *t, void *ctx)
{
    struct round *r = ctx;
    const struct store_outbox *e = &r->e;
    int64_t step;
    int rc = follow_clock(r, t, &step);
    if (rc)
        return rc;
    r->now = r->claim_now + step; /* the claim's clock moved with the entries */
    int64_t now = store_txn_now(t);
    if (r->now > now) /* back-off counts from the later of the two clocks */
        now = r->now;
    if (r->out == ESC_OUT_DELIVERED)
        rc = store_outbox_mark_delivered(t, e->id);
    else if (r->out == ESC_OUT_PERMANENT || e->attempts >= r->o->max_attempts)
        rc = store_outbox_mark_failed(t, e->id, r->err);
    else
        rc = store_outbox_mark_retry(
            t, e->id,
            now + esc_backoff_ns(e->attempts, r->o->backoff_base_ns, r->o->backoff_cap_ns,
                                 rng_next(&r->rng)),
            r->err);
    /* INVAL / NOTFOUND: the entry was replaced (a new put of the same id
     * resets it) or deleted meanwhile; its new state stands */
    if (rc == TS_E_INVAL || rc == TS_E_NOTFOUND) {
        ts_debug("escalation %s: not marked: %s", e->id, ts_strerror(rc));
        return 0;
    }
    return rc;
}

/* claim one entry, deliver it, mark it. Returns 1, 0 (nothing due) or an
 * error. */
static int round_run(struct round *r, int64_t now, struct ts_err *err)
{
    struct claim_ctx cc = {r, now ? now : ts_now_ns()};
    r->now = cc.now;
    int rc = clock_txn_run(r, claim_txn, &cc, err);
    if (rc) {
        atomic_fetch_add(&r->cnt->errors, 1);
        return rc;
    }
    if (!r->claimed)
        return 0;
    atomic_fetch_add(&r->cnt->claimed, 1);
    const struct store_outbox *e = &r->e;
    r->err[0] = '\0';
    r->out = esc_deliver(r->dl, e, now, r->err);
    if (r->out != ESC_OUT_DELIVERED)
        ts_debug("escalation %s attempt %u: %s: %s", e->id, e->attempts,
                 esc_outcome_name(r->out), r->err);
    r->claim_now = r->now;
    if ((rc = clock_txn_run(r, mark_txn, r, err)) != 0) {
        /* the lease stands: the entry comes back when it ends */
        atomic_fetch_add(&r->cnt->errors, 1);
        ts_error("escalation outbox: cannot record the delivery outcome of %s: %s (retried "
                 "when its lease ends)", e->id, store_strerror(rc));
        return rc;
    }
    if (r->out == ESC_OUT_DELIVERED) {
        atomic_fetch_add(&r->cnt->delivered, 1);
        rcp_note(r->rcp, e->recipient, RCP_DELIVERED, e, NULL);
    } else if (r->out == ESC_OUT_PERMANENT || e->attempts >= r->o->max_attempts) {
        alert(r, e, r->err);
    } else {
        atomic_fetch_add(&r->cnt->retried, 1);
        rcp_note(r->rcp, e->recipient, RCP_RETRIED, e, r->err);
    }
    return 1;
}

static int round_init(struct round *r, struct store *st, const struct esc_channels *c,
                      const struct esc_dispatch_opts *o)
{
    memset(r, 0, sizeof(*r));
    r->st = st;
    r->o = o;
    if (ts_arena_create(&r->arena, ARENA_CHUNK, ARENA_CAP) != 0 ||
        esc_deliverer_create(&r->dl, c) != 0)
        return TS_E_NOMEM;
    return 0;
}

static void round_free(struct round *r)
{
    esc_deliverer_destroy(r->dl);
    ts_arena_destroy(r->arena);
    memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------- one pass */

int esc_dispatch_once(struct store *st, const struct esc_channels *c,
                      const struct esc_dispatch_opts *in, int64_t now_ns,
                      struct esc_dispatch_stats *stats, struct ts_err *err)
{
    if (!st || !c)
        return TS_E_INVAL;
    struct esc_dispatch_opts o;
    fill_opts(c, in, &o);
    int rc = check_opts(c, &o, err);
    if (rc)
        return rc;
    struct counters cnt;
    memset(&cnt, 0, sizeof(cnt));
    struct round r;
    if ((rc = round_init(&r, st, c, &o)) != 0) {
        round_free(&r);
        return ts_err_set(err, rc, NULL, 0, 0, "out of memory");
    }
    r.cnt = &cnt;
    r.alerts_path = o.alerts_path;
    r.rng = o.seed ? o.seed : (uint64_t)ts_now_ns();
    _Atomic int64_t clk_off = ts_now_ns() - ts_mono_ns();
    r.clk_off = &clk_off;
    if (!now_ns)
        now_ns = ts_now_ns();
    int total = 0;
    for (;;) {
        rc = round_run(&r, now_ns, err);
        if (rc <= 0)
            break;
        total += rc;
    }
    round_free(&r);
    if (stats) {
        stats->claimed += atomic_load(&cnt.claimed);
        stats->delivered += atomic_load(&cnt.delivered);
        stats->retried += atomic_load(&cnt.retried);
        stats->failed += atomic_load(&cnt.failed);
        stats->errors += atomic_load(&cnt.errors);
    }
    return rc < 0 ? rc : total;
}

/* -------------------------------------------------------------- threads */

struct thread_arg {
    struct esc_dispatcher *d;
    unsigned id;
};

static void idle_wait(struct esc_dispatcher *d, int64_t ns, unsigned *seen)
{
    struct timespec ts; /* d->cv waits on the monotonic clock: a wall clock stepped back
                         * must not hold the dispatcher for as long as the step */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * TS_NS_PER_SEC + ts.tv_nsec + ns;
    ts.tv_sec = (time_t)(t / TS_NS_PER_SEC);
    ts.tv_nsec = (long)(t % TS_NS_PER_SEC);
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop) && d->kicks == *seen)
        if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT)
            break;
    *seen = d->kicks;
    pthread_mutex_unlock(&d->mu);
}

/* The due-report pass of the first thread (policy's auto_send). Returns
 * the entries queued; errors are logged (the next pass tries again). */
static uint64_t due_pass(struct esc_dispatcher *d)
{
    struct esc_due_stats ds;
    struct ts_err err = {0};
    int rc = esc_due_queue_run(d->o.due_env, d->st, NULL, &ds, &err);
    if (rc) {
        atomic_fetch_add(&d->cnt.errors, 1);
        ts_error("escalation due reports: %s (tried again in %lld s)",
                 err.code ? err.msg : store_strerror(rc),
                 (long long)(d->o.due_every_ns / TS_NS_PER_SEC));
        return 0;
    }
    if (ds.queued || ds.existing)
        ts_info("escalation due reports: %llu queued, %llu already there%s",
                (unsigned long long)ds.queued, (unsigned long long)ds.existing,
                ds.more ? " (more at the next pass)" : "");
    return ds.queued;
}

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    struct esc_dispatcher *d = a->d;
    unsigned id = a->id;
    free(a);
    struct round r;
    if (round_init(&r, d->st, d->c, &d->o) != 0) {
        ts_error("escalation dispatcher %u: out of memory; thread not running", id);
        round_free(&r);
        atomic_fetch_add(&d->cnt.errors, 1);
        return NULL;
    }
    r.cnt = &d->cnt;
    r.rcp = &d->rcp;
    r.clk_off = &d->clk_off;
    r.clk_mu = &d->clk_mu;
    r.alert_mu = &d->alert_mu;
    r.alerts_path = d->alerts_path;
    r.rng = (d->o.seed ? d->o.seed : (uint64_t)ts_now_ns()) + 0x9e3779b97f4a7c15ull * (id + 1);
    unsigned seen = 0;
    bool due_on = id == 0 && d->o.due_env && esc_policy_auto_send(d->o.due_env->policy);
    int64_t due_next = ts_mono_ns(); /* a pass at start */
    while (!atomic_load(&d->stop)) {
        if (due_on && ts_mono_ns() >= due_next) {
            if (due_pass(d) > 0)
                esc_dispatcher_kick(d);
            due_next = ts_mono_ns() + d->o.due_every_ns;
        }
        struct ts_err err = {0};
        int rc = round_run(&r, 0, &err);
        if (rc < 0) {
            char msg[700];
            ts_err_format(&err, msg, sizeof(msg));
            ts_error("escalation dispatcher %u: %s", id, err.code ? msg : store_strerror(rc));
        }
        if (rc <= 0) /* nothing due, or an error: wait (a kick ends it early) */
            idle_wait(d, rc < 0 ? d->o.idle_ns * 5 : d->o.idle_ns, &seen);
    }
    round_free(&r);
    return NULL;
}

int esc_dispatcher_start(struct esc_dispatcher **out, struct store *st,
                         const struct esc_channels *c, const struct esc_dispatch_opts *o,
                         struct ts_err *err)
{
    *out = NULL;
    if (!st || !c)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "dispatcher needs a store and channels");
    struct esc_dispatcher *d = calloc(1, sizeof(*d));
    if (!d)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    d->st = st;
    atomic_store(&d->clk_off, ts_now_ns() - ts_mono_ns());
    d->c = c;
    fill_opts(c, o, &d->o);
    int rc = check_opts(c, &d->o, err);
    if (rc) {
        free(d);
        return rc;
    }
    if (d->o.alerts_path && !(d->alerts_path = strdup(d->o.alerts_path))) {
        free(d);
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    }
    d->o.alerts_path = d->alerts_path;
    if (d->alerts_path) { /* fail now rather than at the first dead letter */
        int fd = open(d->alerts_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = ts_err_set(err, TS_E_IO, d->alerts_path, 0, 0, "cannot open alerts file: %s",
                            strerror(errno));
            free(d->alerts_path);
            free(d);
            return rc;
        }
        close(fd);
    }
    atomic_init(&d->stop, false);
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->alert_mu, NULL);
    pthread_mutex_init(&d->clk_mu, NULL);
    pthread_mutex_init(&d->rcp.mu, NULL);
    for (unsigned i = 0; i < d->o.threads; i++) {
        struct thread_arg *a = malloc(sizeof(*a));
        if (a) {
            a->d = d;
            a->id = i;
        }
        if (!a || pthread_create(&d->th[i], NULL, thread_main, a) != 0) {
            rc = ts_err_set(err, a ? TS_E_IO : TS_E_NOMEM, NULL, 0, 0,
                            "cannot start dispatcher thread %u", i);
            free(a);
            esc_dispatcher_stop(d);
            return rc;
        }
        d->nth = i + 1;
    }
    ts_info("escalation dispatcher: %u thread(s), %zu channel(s), lease %lld ms, back-off "
            "%lld ms..%lld ms, %u attempts",
            d->nth, c->n, (long long)(d->o.lease_ns / 1000000),
            (long long)(d->o.backoff_base_ns / 1000000),
            (long long)(d->o.backoff_cap_ns / 1000000), d->o.max_attempts);
    if (d->o.due_env && esc_policy_auto_send(d->o.due_env->policy))
        ts_info("escalation due reports: queued automatically (policy auto_send: %s%s), "
                "a pass every %lld s",
                esc_policy_auto_send(d->o.due_env->policy) & ESC_AUTO_PERIODIC ? "periodic " : "",
                esc_policy_auto_send(d->o.due_env->policy) & ESC_AUTO_OVERDUE ? "overdue" : "",
                (long long)(d->o.due_every_ns / TS_NS_PER_SEC));
    *out = d;
    return 0;
}

void esc_dispatcher_kick(struct esc_dispatcher *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->kicks++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void esc_dispatcher_stop(struct esc_dispatcher *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    atomic_store(&d->stop, true);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (unsigned i = 0; i < d->nth; i++)
        pthread_join(d->th[i], NULL);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->alert_mu);
    pthread_mutex_destroy(&d->clk_mu);
    pthread_mutex_destroy(&d->rcp.mu);
    free(d->alerts_path);
    free(d);
}

size_t esc_dispatcher_recipient_stats(struct esc_dispatcher *d, struct esc_recipient_stats *out,
                                      size_t max)
{
    if (!d)
        return 0;
    pthread_mutex_lock(&d->rcp.mu);
    size_t n = d->rcp.n;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = d->rcp.v[i];
    pthread_mutex_unlock(&d->rcp.mu);
    return n;
}

void esc_dispatcher_stats(const struct esc_dispatcher *d, struct esc_dispatch_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!d)
        return;
    struct counters *c = (struct counters *)&d->cnt;
    out->claimed = atomic_load(&c->claimed);
    out->delivered = atomic_load(&c->delivered);
    out->retried = atomic_load(&c->retried);
    out->failed = atomic_load(&c->failed);
    out->errors = atomic_load(&c->errors);
}
