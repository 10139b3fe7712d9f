/*
 * The shard lineage graph. Each shard counts its parents that still block
 * it; a parent that finishes or goes away walks its children once, so the
 * set of ready shards is kept as an intrusive list and never recomputed.
 */
#include "shard/shard_graph.h"

#include <string.h>

typedef struct node {
  /* Parents: [0] ParentShardId, [1] AdjacentParentShardId. */
  struct node *parent[2];
  /* Children; |child_inline| until a shard has more than two. */
  struct node **children;
  struct node *child_inline[2];
  size_t nchildren;
  size_t children_cap;
  /* The ready list, while READY. */
  struct node *ready_prev;
  struct node *ready_next;
  /* Every shard, in the order learned. */
  struct node *all_next;
  /* The discovery that last listed this shard. */
  uint64_t discovery;
  kefo_hash_key hash_start;
  kefo_hash_key hash_end;
  /* Parents in a state that blocks this shard. */
  uint32_t blocking;
  kefo_shard_state state;
  /* Discoveries that may still omit this shard before it is GONE. */
  uint8_t grace;
  /* Handed to kefo__shard_graph_new_each already. */
  uint8_t reported;
  uint8_t closed;
  uint8_t has_range;
  /* Parents were given whole by one source; later sources are ignored. */
  uint8_t parents_set;
  size_t idlen;
  char id[];
} node;

struct kefo_shard_graph {
  kefo_mem mem;
  /* Open addressing, linear probing, a power of two, at most half full. */
  node **slots;
  size_t cap;
  size_t count;
  node *all_head;
  node *all_tail;
  node *ready_head;
  node *ready_tail;
  /* The next node kefo__shard_graph_ready_each will visit, moved on if
     that node leaves the ready list during the callback. */
  node *iter_next;
  int iterating;
  uint64_t discovery;
  int discovering;
  size_t open;
  size_t by_state[KEFO_SHARD_STATE_COUNT];
  uint64_t work;
  size_t reported; /* nodes with |reported| set */
};

/* A Shard or ChildShards element, checked, pointing into the JSON. */
typedef struct shard_fields {
  const char *id;
  size_t idlen;
  const char *parent[2];
  int has_range;
  kefo_hash_key start;
  kefo_hash_key end;
  int closed;
} shard_fields;

#define INITIAL_CAP 16

static const char *const state_names[KEFO_SHARD_STATE_COUNT] = {
    "UNKNOWN", "WAITING", "READY", "READING", "FINISHED", "GONE"};

const char *kefo__shard_state_name(kefo_shard_state state) {
  if ((unsigned)state >= KEFO_SHARD_STATE_COUNT) {
    return "?";
  }
  return state_names[state];
}

/* Returns the length of |s| if it is a valid shard id, else 0. */
static size_t id_len(const char *s) {
  size_t i;

  if (s == NULL) {
    return 0;
  }
  for (i = 0; s[i] != '\0'; ++i) {
    char c = s[i];

    if (i == KEFO_SHARD_ID_MAX) {
      return 0;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
      return 0;
    }
  }
  return i;
}

static uint64_t hash_id(const char *id, size_t len) {
  uint64_t h = 14695981039346656037ULL;
  size_t i;

  for (i = 0; i < len; ++i) {
    h ^= (unsigned char)id[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static node *find(const kefo_shard_graph *g, const char *id, size_t len) {
  size_t i = (size_t)hash_id(id, len) & (g->cap - 1);
  node *n;

  while ((n = g->slots[i]) != NULL) {
    if (n->idlen == len && memcmp(n->id, id, len) == 0) {
      return n;
    }
    i = (i + 1) & (g->cap - 1);
  }
  return NULL;
}

static void slot_put(node **slots, size_t cap, node *n) {
  size_t i = (size_t)hash_id(n->id, n->idlen) & (cap - 1);

  while (slots[i] != NULL) {
    i = (i + 1) & (cap - 1);
  }
  slots[i] = n;
}

static int grow(kefo_shard_graph *g) {
  size_t cap = g->cap * 2;
  node **slots;
  node *n;

  if (cap < g->cap || cap > SIZE_MAX / sizeof(node *)) {
    return KEFO_ERR_NOMEM;
  }
  slots = kefo__mem_calloc(&g->mem, cap, sizeof(node *));
  if (slots == NULL) {
    return KEFO_ERR_NOMEM;
  }
  for (n = g->all_head; n != NULL; n = n->all_next) {
    slot_put(slots, cap, n);
  }
  kefo__mem_free(&g->mem, g->slots);
  g->slots = slots;
  g->cap = cap;
  return 0;
}

static int blocks(kefo_shard_state st) {
  return st != KEFO_SHARD_FINISHED && st != KEFO_SHARD_GONE;
}

static int is_open(const node *n) {
  return !n->closed && n->state != KEFO_SHARD_UNKNOWN &&
         n->state != KEFO_SHARD_FINISHED && n->state != KEFO_SHARD_GONE;
}

static void ready_append(kefo_shard_graph *g, node *n) {
  n->ready_next = NULL;
  n->ready_prev = g->ready_tail;
  if (g->ready_tail != NULL) {
    g->ready_tail->ready_next = n;
  } else {
    g->ready_head = n;
  }
  g->ready_tail = n;
  if (g->iterating && g->iter_next == NULL) {
    g->iter_next = n;
  }
}

static void ready_unlink(kefo_shard_graph *g, node *n) {
  if (g->iter_next == n) {
    g->iter_next = n->ready_next;
  }
  if (n->ready_prev != NULL) {
    n->ready_prev->ready_next = n->ready_next;
  } else {
    g->ready_head = n->ready_next;
  }
  if (n->ready_next != NULL) {
    n->ready_next->ready_prev = n->ready_prev;
  } else {
    g->ready_tail = n->ready_prev;
  }
  n->ready_prev = n->ready_next = NULL;
}

static void set_state(kefo_shard_graph *g, node *n, kefo_shard_state st);

/* Moves a not-started shard between WAITING and READY as its parents
   allow. Both states block children, so this never cascades further. */
static void refresh(kefo_shard_graph *g, node *n) {
  if (n->state == KEFO_SHARD_WAITING && n->blocking == 0) {
    set_state(g, n, KEFO_SHARD_READY);
  } else if (n->state == KEFO_SHARD_READY && n->blocking > 0) {
    set_state(g, n, KEFO_SHARD_WAITING);
  }
}

static void set_state(kefo_shard_graph *g, node *n, kefo_shard_state st) {
  kefo_shard_state old = n->state;
  int was_open = is_open(n);
  size_t i;

  if (old == st) {
    return;
  }
  --g->by_state[old];
  ++g->by_state[st];
  n->state = st;
  if (was_open && !is_open(n)) {
    --g->open;
  } else if (!was_open && is_open(n)) {
    ++g->open;
  }
  if (old == KEFO_SHARD_READY) {
    ready_unlink(g, n);
  }
  if (st == KEFO_SHARD_READY) {
    ready_append(g, n);
  }
  if (blocks(old) != blocks(st)) {
    for (i = 0; i < n->nchildren; ++i) {
      node *c = n->children[i];

      ++g->work;
      if (blocks(st)) {
        ++c->blocking;
      } else {
        --c->blocking;
      }
      refresh(g, c);
    }
  }
}

static void set_closed(kefo_shard_graph *g, node *n) {
  if (!n->closed) {
    if (is_open(n)) {
      --g->open;
    }
    n->closed = 1;
  }
}

/* Finds the shard |id| or adds it as an UNKNOWN placeholder. */
static int get_or_create(kefo_shard_graph *g, const char *id, size_t len,
                         uint8_t grace, node **out) {
  node *n = find(g, id, len);
  int rv;

  if (n != NULL) {
    *out = n;
    return 0;
  }
  if ((g->count + 1) * 2 > g->cap) {
    rv = grow(g);
    if (rv != 0) {
      return rv;
    }
  }
  n = kefo__mem_calloc(&g->mem, 1, sizeof(node) + len + 1);
  if (n == NULL) {
    return KEFO_ERR_NOMEM;
  }
  n->children = n->child_inline;
  n->children_cap = 2;
  n->state = KEFO_SHARD_UNKNOWN;
  n->grace = grace;
  n->idlen = len;
  memcpy(n->id, id, len);
  n->id[len] = '\0';
  slot_put(g->slots, g->cap, n);
  ++g->count;
  if (g->all_tail != NULL) {
    g->all_tail->all_next = n;
  } else {
    g->all_head = n;
  }
  g->all_tail = n;
  ++g->by_state[KEFO_SHARD_UNKNOWN];
  *out = n;
  return 0;
}

static int add_child(kefo_shard_graph *g, node *p, node *c) {
  if (p->nchildren == p->children_cap) {
    size_t cap = p->children_cap * 2;
    node **children;

    if (cap > SIZE_MAX / sizeof(node *)) {
      return KEFO_ERR_NOMEM;
    }
    if (p->children == p->child_inline) {
      children = kefo__mem_malloc(&g->mem, cap * sizeof(node *));
      if (children != NULL) {
        memcpy(children, p->child_inline, sizeof(p->child_inline));
      }
    } else {
      children = kefo__mem_realloc(&g->mem, p->children, cap * sizeof(node *));
    }
    if (children == NULL) {
      return KEFO_ERR_NOMEM;
    }
    p->children = children;
    p->children_cap = cap;
  }
  p->children[p->nchildren++] = c;
  return 0;
}

/* Gives |n| the parents in |f| unless some source already did. Each slot
   is linked at most once, so a call after KEFO_ERR_NOMEM completes it. */
static int link_parents(kefo_shard_graph *g, node *n, const shard_fields *f,
                        uint8_t grace) {
  size_t slot;
  int rv;

  if (n->parents_set) {
    return 0;
  }
  for (slot = 0; slot < 2; ++slot) {
    const char *pid = f->parent[slot];
    node *p;

    if (pid == NULL || n->parent[slot] != NULL) {
      continue;
    }
    rv = get_or_create(g, pid, strlen(pid), grace, &p);
    if (rv != 0) {
      return rv;
    }
    if (p == n->parent[1 - slot]) {
      continue;
    }
    rv = add_child(g, p, n);
    if (rv != 0) {
      return rv;
    }
    n->parent[slot] = p;
    if (blocks(p->state)) {
      ++n->blocking;
    }
  }
  n->parents_set = f->parent[0] != NULL || f->parent[1] != NULL;
  return 0;
}

/* Reads an optional shard id member: absent or null leaves |*out| NULL. */
static int json_id(const cJSON *obj, const char *name, const char **out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

  *out = NULL;
  if (item == NULL || cJSON_IsNull(item)) {
    return 0;
  }
  if (!cJSON_IsString(item) || id_len(item->valuestring) == 0) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  *out = item->valuestring;
  return 0;
}

static int json_hash_key(const cJSON *range, const char *name,
                         kefo_hash_key *key) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(range, name);

  if (!cJSON_IsString(item) ||
      kefo__hash_key_parse(key, item->valuestring, strlen(item->valuestring)) !=
          0) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  return 0;
}

static int parse_range(const cJSON *obj, shard_fields *f) {
  const cJSON *range = cJSON_GetObjectItemCaseSensitive(obj, "HashKeyRange");

  if (range == NULL || cJSON_IsNull(range)) {
    return 0;
  }
  if (!cJSON_IsObject(range) ||
      json_hash_key(range, "StartingHashKey", &f->start) != 0 ||
      json_hash_key(range, "EndingHashKey", &f->end) != 0 ||
      kefo__hash_key_cmp(&f->start, &f->end) > 0) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  f->has_range = 1;
  return 0;
}

/* The parts common to a Shard and a ChildShards element. */
static int parse_common(const cJSON *obj, shard_fields *f) {
  memset(f, 0, sizeof(*f));
  if (!cJSON_IsObject(obj) || json_id(obj, "ShardId", &f->id) != 0 ||
      f->id == NULL) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  f->idlen = strlen(f->id);
  return parse_range(obj, f);
}

static int parents_valid(const shard_fields *f) {
  if ((f->parent[0] != NULL && strcmp(f->parent[0], f->id) == 0) ||
      (f->parent[1] != NULL && strcmp(f->parent[1], f->id) == 0) ||
      (f->parent[0] != NULL && f->parent[1] != NULL &&
       strcmp(f->parent[0], f->parent[1]) == 0)) {
    return 0;
  }
  return 1;
}

/* A Shard of ListShards. */
static int parse_shard(const cJSON *obj, shard_fields *f) {
  const cJSON *seq, *end;

  if (parse_common(obj, f) != 0 ||
      json_id(obj, "ParentShardId", &f->parent[0]) != 0 ||
      json_id(obj, "AdjacentParentShardId", &f->parent[1]) != 0 ||
      !parents_valid(f)) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  seq = cJSON_GetObjectItemCaseSensitive(obj, "SequenceNumberRange");
  if (seq == NULL || cJSON_IsNull(seq)) {
    return 0;
  }
  if (!cJSON_IsObject(seq)) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  end = cJSON_GetObjectItemCaseSensitive(seq, "EndingSequenceNumber");
  if (end != NULL && !cJSON_IsNull(end)) {
    if (!cJSON_IsString(end)) {
      return KEFO_ERR_BAD_RESPONSE;
    }
    f->closed = 1;
  }
  return 0;
}

/* A ChildShards element: {ShardId, ParentShards[], HashKeyRange}. */
static int parse_child(const cJSON *obj, shard_fields *f) {
  const cJSON *parents, *p;
  size_t i = 0;

  if (parse_common(obj, f) != 0) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  parents = cJSON_GetObjectItemCaseSensitive(obj, "ParentShards");
  if (parents == NULL || cJSON_IsNull(parents)) {
    return 0;
  }
  if (!cJSON_IsArray(parents)) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  cJSON_ArrayForEach(p, parents) {
    if (i == 2 || !cJSON_IsString(p) || id_len(p->valuestring) == 0) {
      return KEFO_ERR_BAD_RESPONSE;
    }
    f->parent[i++] = p->valuestring;
  }
  return parents_valid(f) ? 0 : KEFO_ERR_BAD_RESPONSE;
}

/* Merges one checked shard. |grace| is 0 for discovery, which lists the
   shard (and whose omitted parents are gone for sure), 1 otherwise. */
static int merge_shard(kefo_shard_graph *g, const shard_fields *f,
                       uint8_t grace, node **out) {
  node *n;
  int rv;

  rv = get_or_create(g, f->id, f->idlen, grace, &n);
  if (rv != 0) {
    return rv;
  }
  rv = link_parents(g, n, f, grace);
  if (rv != 0) {
    return rv;
  }
  if (f->has_range && !n->has_range) {
    n->has_range = 1;
    n->hash_start = f->start;
    n->hash_end = f->end;
  }
  if (f->closed) {
    set_closed(g, n);
  }
  if (n->state == KEFO_SHARD_UNKNOWN) {
    set_state(g, n, KEFO_SHARD_WAITING);
  }
  refresh(g, n);
  if (out != NULL) {
    *out = n;
  }
  return 0;
}

int kefo__shard_graph_new(kefo_shard_graph **out, const kefo_mem *mem) {
  kefo_shard_graph *g;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  g = kefo__mem_calloc(mem, 1, sizeof(*g));
  if (g == NULL) {
    goto fail_graph;
  }
  g->mem = *mem;
  g->cap = INITIAL_CAP;
  g->slots = kefo__mem_calloc(mem, g->cap, sizeof(node *));
  if (g->slots == NULL) {
    goto fail_slots;
  }
  *out = g;
  return 0;

fail_slots:
  kefo__mem_free(mem, g);
fail_graph:
  return KEFO_ERR_NOMEM;
}

void kefo__shard_graph_del(kefo_shard_graph *g) {
  node *n, *next;

  if (g == NULL) {
    return;
  }
  for (n = g->all_head; n != NULL; n = next) {
    next = n->all_next;
    if (n->children != n->child_inline) {
      kefo__mem_free(&g->mem, n->children);
    }
    kefo__mem_free(&g->mem, n);
  }
  kefo__mem_free(&g->mem, g->slots);
  kefo__mem_free(&g->mem, g);
}

int kefo__shard_graph_discover_begin(kefo_shard_graph *g) {
  if (g == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  ++g->discovery;
  g->discovering = 1;
  return 0;
}

int kefo__shard_graph_discover_page(kefo_shard_graph *g, const cJSON *shards) {
  const cJSON *s;
  shard_fields f;
  node *n;
  int rv;

  if (g == NULL || shards == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (!cJSON_IsArray(shards)) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  cJSON_ArrayForEach(s, shards) {
    if (parse_shard(s, &f) != 0) {
      return KEFO_ERR_BAD_RESPONSE;
    }
  }
  cJSON_ArrayForEach(s, shards) {
    parse_shard(s, &f);
    rv = merge_shard(g, &f, 0, &n);
    if (rv != 0) {
      return rv;
    }
    n->discovery = g->discovery;
    n->grace = 0;
  }
  return 0;
}

int kefo__shard_graph_discover_end(kefo_shard_graph *g) {
  node *n;

  if (g == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (!g->discovering) {
    return KEFO_ERR_INVALID_STATE;
  }
  g->discovering = 0;
  for (n = g->all_head; n != NULL; n = n->all_next) {
    ++g->work;
    if (n->discovery == g->discovery ||
        (n->state != KEFO_SHARD_UNKNOWN && n->state != KEFO_SHARD_WAITING &&
         n->state != KEFO_SHARD_READY)) {
      continue;
    }
    if (n->grace > 0) {
      --n->grace;
    } else {
      set_state(g, n, KEFO_SHARD_GONE);
    }
  }
  return 0;
}

int kefo__shard_graph_discover(kefo_shard_graph *g, const cJSON *shards) {
  int rv = kefo__shard_graph_discover_begin(g);

  if (rv == 0) {
    rv = kefo__shard_graph_discover_page(g, shards);
  }
  if (rv == 0) {
    rv = kefo__shard_graph_discover_end(g);
  }
  return rv;
}

static node *lookup(const kefo_shard_graph *g, const char *shard_id) {
  size_t len;

  if (g == NULL || (len = id_len(shard_id)) == 0) {
    return NULL;
  }
  return find(g, shard_id, len);
}

int kefo__shard_graph_shard_started(kefo_shard_graph *g, const char *shard_id) {
  node *n = lookup(g, shard_id);

  if (n == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (n->state != KEFO_SHARD_READY) {
    return KEFO_ERR_INVALID_STATE;
  }
  set_state(g, n, KEFO_SHARD_READING);
  return 0;
}

int kefo__shard_graph_shard_released(kefo_shard_graph *g,
                                     const char *shard_id) {
  node *n = lookup(g, shard_id);

  if (n == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (n->state != KEFO_SHARD_READING) {
    return KEFO_ERR_INVALID_STATE;
  }
  set_state(g, n, KEFO_SHARD_WAITING);
  refresh(g, n);
  return 0;
}

int kefo__shard_graph_shard_finished(kefo_shard_graph *g, const char *shard_id,
                                     const cJSON *child_shards) {
  const cJSON *c;
  shard_fields f;
  size_t len;
  node *n;
  int rv;

  if (g == NULL || (len = id_len(shard_id)) == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (child_shards != NULL) {
    if (!cJSON_IsArray(child_shards)) {
      return KEFO_ERR_BAD_RESPONSE;
    }
    cJSON_ArrayForEach(c, child_shards) {
      if (parse_child(c, &f) != 0) {
        return KEFO_ERR_BAD_RESPONSE;
      }
    }
  }
  rv = get_or_create(g, shard_id, len, 1, &n);
  if (rv != 0) {
    return rv;
  }
  /* Children first: if one fails, the caller retries the whole call and
     the parent is not yet finished meanwhile. */
  if (child_shards != NULL) {
    cJSON_ArrayForEach(c, child_shards) {
      parse_child(c, &f);
      rv = merge_shard(g, &f, 1, NULL);
      if (rv != 0) {
        return rv;
      }
    }
  }
  set_closed(g, n);
  set_state(g, n, KEFO_SHARD_FINISHED);
  return 0;
}

int kefo__shard_graph_apply_checkpoint(kefo_shard_graph *g,
                                       const char *shard_id,
                                       const char *checkpoint) {
  if (g == NULL || id_len(shard_id) == 0 || checkpoint == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (strcmp(checkpoint, "SHARD_END") != 0) {
    return 0;
  }
  return kefo__shard_graph_shard_finished(g, shard_id, NULL);
}

int kefo__shard_graph_shard_gone(kefo_shard_graph *g, const char *shard_id) {
  size_t len;
  node *n;
  int rv;

  if (g == NULL || (len = id_len(shard_id)) == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = get_or_create(g, shard_id, len, 1, &n);
  if (rv != 0) {
    return rv;
  }
  /* A shard read to its end stays FINISHED: its children must still
     start at TRIM_HORIZON. */
  if (n->state != KEFO_SHARD_FINISHED) {
    set_state(g, n, KEFO_SHARD_GONE);
  }
  return 0;
}

static void fill_info(const node *n, kefo_shard_info *info) {
  size_t i;

  memset(info, 0, sizeof(*info));
  info->shard_id = n->id;
  info->parent_shard_id = n->parent[0] ? n->parent[0]->id : NULL;
  info->adjacent_parent_shard_id = n->parent[1] ? n->parent[1]->id : NULL;
  info->state = n->state;
  info->start = KEFO_SHARD_START_INITIAL;
  for (i = 0; i < 2; ++i) {
    if (n->parent[i] != NULL && n->parent[i]->state == KEFO_SHARD_FINISHED) {
      info->start = KEFO_SHARD_START_TRIM_HORIZON;
    }
  }
  info->closed = n->closed;
  info->has_hash_range = n->has_range;
  info->hash_start = n->hash_start;
  info->hash_end = n->hash_end;
}

int kefo__shard_graph_get(const kefo_shard_graph *g, const char *shard_id,
                          kefo_shard_info *info) {
  node *n = lookup(g, shard_id);

  if (n == NULL || info == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  fill_info(n, info);
  return 0;
}

int kefo__shard_graph_ready_each(kefo_shard_graph *g, kefo_shard_graph_cb cb,
                                 void *user_data) {
  kefo_shard_info info;
  node *saved, *n;
  int rv = 0, saved_iterating;

  if (g == NULL || cb == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  saved = g->iter_next;
  saved_iterating = g->iterating;
  g->iterating = 1;
  for (n = g->ready_head; n != NULL; n = g->iter_next) {
    ++g->work;
    g->iter_next = n->ready_next;
    fill_info(n, &info);
    if (cb(&info, user_data) != 0) {
      rv = KEFO_ERR_CALLBACK_FAILURE;
      break;
    }
  }
  g->iter_next = saved;
  g->iterating = saved_iterating;
  return rv;
}

int kefo__shard_graph_each(const kefo_shard_graph *g, kefo_shard_graph_cb cb,
                           void *user_data) {
  kefo_shard_info info;
  const node *n;

  if (g == NULL || cb == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (n = g->all_head; n != NULL; n = n->all_next) {
    fill_info(n, &info);
    if (cb(&info, user_data) != 0) {
      return KEFO_ERR_CALLBACK_FAILURE;
    }
  }
  return 0;
}

int kefo__shard_graph_new_each(kefo_shard_graph *g, kefo_shard_graph_cb cb,
                               void *user_data) {
  kefo_shard_info info;
  node *n;

  if (g == NULL || cb == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  /* Nothing learnt since the last call: no walk. */
  if (g->reported == g->count - g->by_state[KEFO_SHARD_UNKNOWN]) {
    return 0;
  }
  for (n = g->all_head; n != NULL; n = n->all_next) {
    if (n->reported || n->state == KEFO_SHARD_UNKNOWN) {
      continue;
    }
    n->reported = 1;
    ++g->reported;
    if (n->state == KEFO_SHARD_GONE) {
      continue; /* expired before anyone could read it */
    }
    fill_info(n, &info);
    if (cb(&info, user_data) != 0) {
      return KEFO_ERR_CALLBACK_FAILURE;
    }
  }
  return 0;
}

void kefo__shard_graph_counts_get(const kefo_shard_graph *g,
                                  kefo_shard_graph_counts *out) {
  memset(out, 0, sizeof(*out));
  if (g == NULL) {
    return;
  }
  out->known = g->count - g->by_state[KEFO_SHARD_UNKNOWN];
  out->open = g->open;
  memcpy(out->by_state, g->by_state, sizeof(out->by_state));
}

uint64_t kefo__shard_graph_work(const kefo_shard_graph *g) {
  return g ? g->work : 0;
}
