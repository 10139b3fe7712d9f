/*
 * The refreshing cache in front of a provider: answers at once while the
 * credentials are fresh, refreshes in the background before they expire,
 * queues callers only when there is nothing usable, and survives being
 * deleted from inside any callback it makes.
 */
#include "aws/credentials.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

typedef struct cache_waiter {
  struct cache_waiter *next;
  kefo_credentials_cb cb;
  void *user_data;
} cache_waiter;

/* Marks a stack frame that calls out: del clears |alive| of every frame
   still on the stack, so they stop touching the cache. */
typedef struct cache_guard {
  int alive;
  struct cache_guard *prev;
} cache_guard;

typedef struct cache_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  const kefo_clock *clock;
  kefo_credentials_provider *inner;
  kefo_credentials_copy creds;
  /* Credentials replaced while a get's callback still had them lent;
     freed once no callback runs. */
  kefo_credentials_copy retired;
  int lending;
  int have;
  /* Wall-clock milliseconds: start refreshing; stop handing out. */
  int64_t refresh_at;
  int64_t stale_at;
  /* When the cached credentials arrived. */
  int64_t got_at;
  /* After a failed background refresh: not before this. */
  int64_t retry_at;
  int in_flight;
  cache_waiter *waiters;
  cache_waiter **tail;
  struct event *timer;
  cache_guard *guards;
  const kefo_log *log;
  /* Credentials were had before: the next ones are a refresh. */
  int refreshes;
} cache_provider;

/* A guard lives on its caller's stack and is popped before that caller
   returns; GCC 12 cannot see the pop once this is inlined and warns of a
   dangling pointer that never outlives the frame. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
static void guard_push(cache_provider *c, cache_guard *g) {
  g->alive = 1;
  g->prev = c->guards;
  c->guards = g;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

/* Returns 1 when the cache still exists (and pops |g|). */
static int guard_pop(cache_provider *c, cache_guard *g) {
  if (!g->alive) {
    return 0;
  }
  c->guards = g->prev;
  return 1;
}

/* Lends the current credentials to callbacks. */
static void lend_begin(cache_provider *c) {
  ++c->lending;
}

static void lend_end(cache_provider *c) {
  if (--c->lending == 0 && c->retired.storage != NULL) {
    kefo__credentials_copy_free(&c->retired);
  }
}

static int64_t cache_now(cache_provider *c) {
  return c->clock->wall_ms(c->clock->user_data);
}

static void cache_arm(cache_provider *c, int64_t at) {
  struct timeval tv;
  int64_t delay;

  if (c->timer == NULL || at == INT64_MAX) {
    return;
  }
  delay = at - cache_now(c);
  kefo__timeval_ms(&tv, delay);
  evtimer_add(c->timer, &tv);
}

static void cache_on_inner(int error, const kefo_credentials *creds,
                           const kefo_error_info *info, void *user_data);

static void cache_refresh(cache_provider *c) {
  int rv;

  c->in_flight = 1;
  rv = kefo__credentials_provider_get(c->inner, cache_on_inner, c);
  if (rv != 0) {
    kefo_error_info info;
    char msg[128];

    memset(&info, 0, sizeof(info));
    info.code = rv;
    snprintf(msg, sizeof(msg), "%s: %s", c->inner->name, kefo_strerror(rv));
    info.message = msg;
    cache_on_inner(rv, NULL, &info, c);
  }
}

/* Calls every waiter with the outcome; stops if one deletes the cache. */
static void cache_dispatch(cache_provider *c, int error,
                           const kefo_credentials *creds,
                           const kefo_error_info *info) {
  cache_waiter *w = c->waiters;
  const kefo_mem *mem = c->mem;
  cache_guard g;

  c->waiters = NULL;
  c->tail = &c->waiters;
  guard_push(c, &g);
  if (error == 0) {
    lend_begin(c);
  }
  while (w != NULL) {
    cache_waiter *next = w->next;
    kefo_credentials_cb cb = w->cb;
    void *ud = w->user_data;

    kefo__mem_free(mem, w);
    w = next;
    cb(error, creds, info, ud);
    if (!g.alive) {
      /* Deleted by that callback: the rest are not called. */
      while (w != NULL) {
        next = w->next;
        kefo__mem_free(mem, w);
        w = next;
      }
      return;
    }
  }
  guard_pop(c, &g);
  if (error == 0) {
    lend_end(c);
  }
}

/* Makes |fresh| (taken over), expiring at |expiration_ms| (0: never), the
   cached credentials, and works out when to refresh them and when to stop
   handing them out. */
static void cache_keep(cache_provider *c, kefo_credentials_copy *fresh,
                       int64_t expiration_ms, int64_t now) {
  if (c->lending > 0) {
    kefo__credentials_copy_free(&c->retired);
    c->retired = c->creds;
  } else {
    kefo__credentials_copy_free(&c->creds);
  }
  c->creds = *fresh;
  c->have = 1;
  c->got_at = now;
  c->retry_at = 0;
  if (expiration_ms == 0) {
    c->refresh_at = c->stale_at = INT64_MAX;
  } else {
    int64_t life = expiration_ms - now;
    int64_t ahead = life / 2 < KEFO_CREDENTIALS_REFRESH_MS
                        ? life / 2
                        : KEFO_CREDENTIALS_REFRESH_MS;
    int64_t stale = life / 10 < KEFO_CREDENTIALS_STALE_MS
                        ? life / 10
                        : KEFO_CREDENTIALS_STALE_MS;
    /* Spread many consumers' refreshes over a tenth of the window. */
    if (ahead / 10 > 0) {
      ahead += (int64_t)(c->clock->random32(c->clock->user_data) %
                         (uint32_t)(ahead / 10 + 1));
    }
    c->refresh_at = expiration_ms - ahead;
    c->stale_at = expiration_ms - stale;
  }
  cache_arm(c, c->refresh_at);
}

/* Tells the log hook that credentials came (never what they are). */
static void log_kept(cache_provider *c, int64_t expiration_ms, int64_t now) {
  const char *what = c->refreshes++ ? "refreshed" : "obtained";

  if (expiration_ms == 0) {
    KEFO_LOG(c->log, KEFO_LOG_INFO, "credentials.refreshed", NULL,
             "credentials %s from %s; they do not expire", what,
             c->inner->name);
  } else {
    KEFO_LOG(c->log, KEFO_LOG_INFO, "credentials.refreshed", NULL,
             "credentials %s from %s; they expire in %lld s", what,
             c->inner->name, (long long)((expiration_ms - now) / 1000));
  }
}

static void cache_on_inner(int error, const kefo_credentials *creds,
                           const kefo_error_info *info, void *user_data) {
  cache_provider *c = user_data;
  int64_t now = cache_now(c);
  kefo_error_info mine;
  char msg[256];

  c->in_flight = 0;
  memset(&mine, 0, sizeof(mine));
  if (error == 0 && creds != NULL && creds->expiration_ms != 0 &&
      creds->expiration_ms <= now) {
    error = KEFO_ERR_CREDENTIALS;
    snprintf(msg, sizeof(msg),
             "%s gave credentials that have already expired (%lld ms ago)",
             c->inner->name, (long long)(now - creds->expiration_ms));
    mine.code = error;
    mine.message = msg;
    info = &mine;
  }
  if (error == 0) {
    kefo_credentials_copy fresh;

    kefo__credentials_copy_init(&fresh, c->mem);
    error = kefo__credentials_copy_set(&fresh, creds);
    if (error == 0) {
      cache_keep(c, &fresh, creds->expiration_ms, now);
      log_kept(c, creds->expiration_ms, now);
      cache_dispatch(c, 0, &c->creds.creds, NULL);
      return;
    }
    mine.code = error;
    mine.message =
        error == KEFO_ERR_NOMEM ? "out of memory" : "the credentials are empty";
    info = &mine;
  }
  if (c->have && now < c->stale_at) {
    /* Still usable: keep them and try again later, sooner as expiry
       nears. */
    int64_t wait = (c->stale_at - now) / 4;
    if (wait < 1000) {
      wait = 1000;
    } else if (wait > 60000) {
      wait = 60000;
    }
    c->retry_at = now + wait;
    cache_arm(c, c->retry_at);
  }
  if (info == NULL) {
    mine.code = error;
    mine.message = kefo_strerror(error);
    info = &mine;
  }
  if (KEFO_LOG_ON(c->log, KEFO_LOG_WARN)) {
    char cause[256];
    KEFO_LOG(c->log, KEFO_LOG_WARN, "credentials.refresh_failed", NULL,
             "cannot get credentials from %s: %s%s", c->inner->name,
             kefo__log_cause(cause, sizeof(cause), error, info),
             c->have && now < c->stale_at ? "; the cached ones are kept" : "");
  }
  cache_dispatch(c, error, NULL, info);
}

static void cache_on_timer(evutil_socket_t fd, short what, void *arg) {
  cache_provider *c = arg;

  (void)fd;
  (void)what;
  if (c->in_flight) {
    return;
  }
  if (c->have && cache_now(c) < c->refresh_at) {
    /* The clock moved differently from the timer: wait some more. */
    cache_arm(c, c->refresh_at);
    return;
  }
  cache_refresh(c);
}

static int cache_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                     void *user_data) {
  cache_provider *c = (cache_provider *)p;
  int64_t now = cache_now(c);
  cache_waiter *w;

  if (c->have && now < c->stale_at) {
    if (now >= c->refresh_at && !c->in_flight && now >= c->retry_at) {
      cache_refresh(c);
    }
    if (c->have && now < c->stale_at) {
      cache_guard g;

      guard_push(c, &g);
      lend_begin(c);
      cb(0, &c->creds.creds, NULL, user_data);
      if (guard_pop(c, &g)) {
        lend_end(c);
      }
      return 0;
    }
  }
  w = kefo__mem_malloc(c->mem, sizeof(*w));
  if (w == NULL) {
    return KEFO_ERR_NOMEM;
  }
  w->next = NULL;
  w->cb = cb;
  w->user_data = user_data;
  *c->tail = w;
  c->tail = &w->next;
  if (!c->in_flight) {
    cache_refresh(c);
  }
  return 0;
}

static void cache_del(kefo_credentials_provider *p) {
  cache_provider *c = (cache_provider *)p;
  cache_waiter *w = c->waiters;
  cache_guard *g;

  for (g = c->guards; g != NULL; g = g->prev) {
    g->alive = 0;
  }
  if (c->timer != NULL) {
    event_free(c->timer);
  }
  kefo__credentials_provider_del(c->inner);
  while (w != NULL) {
    cache_waiter *next = w->next;
    kefo__mem_free(c->mem, w);
    w = next;
  }
  kefo__credentials_copy_free(&c->creds);
  kefo__credentials_copy_free(&c->retired);
  kefo__mem_free(c->mem, c);
}

static void cache_invalidate(kefo_credentials_provider *p) {
  cache_provider *c = (cache_provider *)p;

  if (!c->have || cache_now(c) - c->got_at < KEFO_CREDENTIALS_MIN_HOLD_MS) {
    return;
  }
  /* Still lent or not, the copy stays until replaced: only stop handing
     it out, so that the next get waits for |inner|. */
  c->have = 0;
  c->retry_at = 0;
  kefo__credentials_provider_invalidate(c->inner);
}

static const kefo_credentials_provider_ops cache_ops = {cache_get, cache_del,
                                                        cache_invalidate};

int kefo__credentials_cache_new(kefo_credentials_provider **out,
                                const kefo_credentials_options *opts,
                                kefo_credentials_provider *inner) {
  const kefo_mem *mem;
  cache_provider *c;

  if (out == NULL || opts == NULL || inner == NULL) {
    kefo__credentials_provider_del(inner);
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(opts->mem);
  c = kefo__mem_calloc(mem, 1, sizeof(*c));
  if (c == NULL) {
    kefo__credentials_provider_del(inner);
    return KEFO_ERR_NOMEM;
  }
  c->base.ops = &cache_ops;
  c->base.name = inner->name;
  c->mem = mem;
  c->clock = kefo__clock_or_system(opts->clock);
  c->inner = inner;
  c->log = opts->log;
  c->tail = &c->waiters;
  kefo__credentials_copy_init(&c->creds, mem);
  kefo__credentials_copy_init(&c->retired, mem);
  if (opts->base != NULL) {
    c->timer = evtimer_new(opts->base, cache_on_timer, c);
    if (c->timer == NULL) {
      kefo__credentials_provider_del(inner);
      kefo__mem_free(mem, c);
      return KEFO_ERR_NOMEM;
    }
  }
  *out = &c->base;
  return 0;
}
