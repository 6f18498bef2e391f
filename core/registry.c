/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * registry.c - plugin discovery, validation, look-up and listing.
 *
 * Discovery only reads directory entries: a file is considered when it is a
 * regular file (after following symlinks) named mpimap_<kind>_<name>.so.
 * Loading is lazy. A file is first probed with a plain
 * dlopen(RTLD_NOW | RTLD_LOCAL) so that a failure is reported with dlerror()'s
 * real cause (libltdl's lt_dlerror() says "file not found" even for an
 * undefined symbol); then it is opened through libltdl with its absolute
 * path, and the probe handle is dropped. The descriptor is validated against
 * the ABI rule of <mpimap/plugin.h> and copied into the registry (fields past
 * the plugin's own size read as zero/NULL), so that no caller ever reads past
 * the plugin's descriptor.
 *
 * Locking: libltdl keeps process-global state and has no locks, so every
 * lt_* call (and the probe that goes with lt_dlopen) is made under lt_lock,
 * the only global of this file. Each registry has its own mutex, held by
 * every public function for its whole duration.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ltdl.h>

#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "config.h"
#include "registry.h"

/* Serialises every call into libltdl, process-wide. */
static pthread_mutex_t lt_lock = PTHREAD_MUTEX_INITIALIZER;

#define FILE_PREFIX "mpimap_"
#define FILE_SUFFIX ".so"

struct entry {
    int kind;
    char *name;
    char *path;
    int state;             /* enum mpimap_plugin_state */
    int code;              /* REJECTED: the MPIMAP_E* code */
    char *reason;          /* REJECTED / SHADOWED, else NULL */
    lt_dlhandle handle;    /* LOADED only */
    struct mpimap_plugin desc; /* LOADED: the validated copy */
};

struct mpimap_registry {
    pthread_mutex_t lock;
    struct entry **v; /* in search order */
    size_t n, cap;
    int lt_ready;     /* lt_dlinit() succeeded for this registry */
};

/* ---- small helpers ------------------------------------------------------ */

static char *str_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static char *str_ndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void reg_lock(const mpimap_registry *reg)
{
    /* The registry is always malloc'd, never const: the cast is sound. */
    pthread_mutex_lock((pthread_mutex_t *)&reg->lock);
}

static void reg_unlock(const mpimap_registry *reg)
{
    pthread_mutex_unlock((pthread_mutex_t *)&reg->lock);
}

const char *mpimap_kind_name(int kind)
{
    switch (kind) {
    case MPIMAP_KIND_STRATEGY: return "strategy";
    case MPIMAP_KIND_LAUNCHER: return "launcher";
    default: return NULL;
    }
}

static int kind_from_word(const char *word, size_t len)
{
    static const int kinds[] = {MPIMAP_KIND_STRATEGY, MPIMAP_KIND_LAUNCHER};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const char *k = mpimap_kind_name(kinds[i]);
        if (strlen(k) == len && memcmp(k, word, len) == 0)
            return kinds[i];
    }
    return 0;
}

int mpimap_kind_from_name(const char *word)
{
    return word ? kind_from_word(word, strlen(word)) : 0;
}

/* A kind for messages, even an unknown one. */
static const char *kind_word(uint32_t kind)
{
    const char *w = kind <= INT32_MAX ? mpimap_kind_name((int)kind) : NULL;
    return w ? w : "unknown-kind";
}

/*
 * Parse "mpimap_<kind>_<name>.so": kind is the text up to the first '_'
 * after the prefix, name the rest before the suffix, [A-Za-z0-9_-]+.
 * Returns 1 and sets *kind, *name_start, *name_len when the name fits.
 */
static int parse_file_name(const char *fname, int *kind, const char **name_start,
                           size_t *name_len)
{
    size_t plen = strlen(FILE_PREFIX), slen = strlen(FILE_SUFFIX);
    size_t len = strlen(fname);
    if (len <= plen + slen || strncmp(fname, FILE_PREFIX, plen) != 0 ||
        strcmp(fname + len - slen, FILE_SUFFIX) != 0)
        return 0;
    const char *k = fname + plen;
    const char *end = fname + len - slen;
    const char *us = memchr(k, '_', (size_t)(end - k));
    if (!us)
        return 0;
    int kd = kind_from_word(k, (size_t)(us - k));
    if (!kd)
        return 0;
    const char *nm = us + 1;
    if (nm >= end)
        return 0;
    for (const char *c = nm; c < end; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                 (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
        if (!ok)
            return 0;
    }
    *kind = kd;
    *name_start = nm;
    *name_len = (size_t)(end - nm);
    return 1;
}

/* ---- discovery ---------------------------------------------------------- */

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->path);
    free(e->reason);
    free(e);
}

static struct entry *winner_of(const mpimap_registry *reg, int kind,
                               const char *name, size_t len)
{
    for (size_t i = 0; i < reg->n; i++) {
        struct entry *e = reg->v[i];
        if (e->kind == kind && e->state != MPIMAP_PLUGIN_SHADOWED &&
            strlen(e->name) == len && memcmp(e->name, name, len) == 0)
            return e;
    }
    return NULL;
}

/* Add the file dir/fname (dir has no trailing '/') if it is a plugin file.
 * Returns 0 (added or not a candidate) or MPIMAP_ENOMEM. */
static int add_file(mpimap_registry *reg, const char *dir, const char *fname)
{
    int kind;
    const char *nm;
    size_t nlen;
    if (!parse_file_name(fname, &kind, &nm, &nlen))
        return 0;

    char *path = str_printf("%s/%s", dir, fname);
    if (!path)
        return MPIMAP_ENOMEM;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(path); /* a directory, a dangling link, ...: not a plugin */
        return 0;
    }
    for (size_t i = 0; i < reg->n; i++) {
        if (strcmp(reg->v[i]->path, path) == 0) {
            free(path); /* the same directory listed twice */
            return 0;
        }
    }

    struct entry *e = calloc(1, sizeof *e);
    if (!e) {
        free(path);
        return MPIMAP_ENOMEM;
    }
    e->kind = kind;
    e->path = path;
    e->name = str_ndup(nm, nlen);
    e->state = MPIMAP_PLUGIN_FOUND;
    if (!e->name) {
        entry_free(e);
        return MPIMAP_ENOMEM;
    }
    const struct entry *w = winner_of(reg, kind, nm, nlen);
    if (w) {
        e->state = MPIMAP_PLUGIN_SHADOWED;
        e->reason = str_printf("shadowed by %s", w->path);
        if (!e->reason) {
            entry_free(e);
            return MPIMAP_ENOMEM;
        }
    }
    if (reg->n == reg->cap) {
        size_t ncap = reg->cap ? reg->cap * 2 : 16;
        struct entry **nv = realloc(reg->v, ncap * sizeof *nv);
        if (!nv) {
            entry_free(e);
            return MPIMAP_ENOMEM;
        }
        reg->v = nv;
        reg->cap = ncap;
    }
    reg->v[reg->n++] = e;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Scan one directory (dir as given, length len, not NUL-terminated). */
static int scan_dir(mpimap_registry *reg, const char *spec, size_t len)
{
    while (len > 1 && spec[len - 1] == '/')
        len--;
    char *dir;
    if (spec[0] == '/') {
        dir = str_ndup(spec, len);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd)
            return errno == ENOMEM ? MPIMAP_ENOMEM : 0; /* cannot place it */
        dir = str_printf("%s/%.*s", cwd, (int)len, spec);
        free(cwd);
    }
    if (!dir)
        return MPIMAP_ENOMEM;
    if (len == 1 && dir[0] == '/' && dir[1] == '\0')
        dir[0] = '\0'; /* root: join as "/file", not "//file" */

    DIR *d = opendir(dir[0] ? dir : "/");
    if (!d) {
        int err = errno;
        free(dir);
        /* Missing, not a directory, unreadable: nothing to find there. */
        return err == ENOMEM ? MPIMAP_ENOMEM : 0;
    }

    int rc = 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int kind;
        const char *nm;
        size_t nlen;
        if (!parse_file_name(de->d_name, &kind, &nm, &nlen))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(names, ncap * sizeof *nv);
            if (!nv) {
                rc = MPIMAP_ENOMEM;
                break;
            }
            names = nv;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = MPIMAP_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);

    if (rc == 0 && n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = add_file(reg, dir, names[i]);
        free(names[i]);
    }
    free(names);
    free(dir);
    return rc;
}

/* Scan every directory of a ':' list; empty entries are ignored. */
static int scan_list(mpimap_registry *reg, const char *list)
{
    const char *p = list;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0) {
            int rc = scan_dir(reg, p, len);
            if (rc < 0)
                return rc;
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    return 0;
}

static void registry_free(mpimap_registry *reg)
{
    for (size_t i = 0; i < reg->n; i++)
        entry_free(reg->v[i]);
    free(reg->v);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

int mpimap_registry_open(mpimap_registry **out)
{
    if (!out)
        return MPIMAP_EINVAL;
    *out = NULL;
    mpimap_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return MPIMAP_ENOMEM;
    if (pthread_mutex_init(&reg->lock, NULL) != 0) {
        free(reg);
        return MPIMAP_ENOMEM;
    }

    int rc = 0;
    const char *user = getenv("MPIMAP_PLUGIN_PATH");
    if (user)
        rc = scan_list(reg, user);
    if (rc == 0) {
        const char *sys = getenv("MPIMAP_PLUGIN_SYSTEM_PATH");
        rc = scan_list(reg, sys ? sys : MPIMAP_PLUGINDIR);
    }
    if (rc < 0) {
        registry_free(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

/* ---- loading and validation --------------------------------------------- */

/* The size of the ELF symbol at sym when the dynamic linker knows it and it
 * is the descriptor itself, else SIZE_MAX (unknown). */
static size_t symbol_size(const void *sym)
{
    Dl_info info;
    const ElfW(Sym) *es = NULL;
    if (dladdr1(sym, &info, (void **)&es, RTLD_DL_SYMENT) == 0 || !es ||
        info.dli_saddr != sym || !info.dli_sname ||
        strcmp(info.dli_sname, MPIMAP_PLUGIN_SYMBOL) != 0 || es->st_size == 0)
        return SIZE_MAX;
    return (size_t)es->st_size;
}

/*
 * Check the descriptor at sym for entry e and fill e->desc. Returns 0, or a
 * negative code with *why set to a malloc'd reason (NULL on ENOMEM).
 */
static int validate(struct entry *e, const void *sym, char **why)
{
    const unsigned char *p = sym;
    size_t avail = symbol_size(sym);
    uint32_t magic, size;
    uint16_t major, minor;

    *why = NULL;
    size_t head = offsetof(struct mpimap_plugin, size) + sizeof size;
    if (avail < head) {
        *why = str_printf("descriptor symbol '%s' is only %zu bytes, too small "
                          "for a descriptor header", MPIMAP_PLUGIN_SYMBOL, avail);
        return MPIMAP_EABI;
    }
    memcpy(&magic, p + offsetof(struct mpimap_plugin, magic), sizeof magic);
    memcpy(&major, p + offsetof(struct mpimap_plugin, abi_major), sizeof major);
    memcpy(&minor, p + offsetof(struct mpimap_plugin, abi_minor), sizeof minor);
    memcpy(&size, p + offsetof(struct mpimap_plugin, size), sizeof size);

    if (magic != MPIMAP_PLUGIN_MAGIC) {
        *why = str_printf("bad magic 0x%08x (expected 0x%08x): not an mpimap "
                          "plugin descriptor", (unsigned)magic,
                          (unsigned)MPIMAP_PLUGIN_MAGIC);
        return MPIMAP_EABI;
    }
    if (major != MPIMAP_ABI_MAJOR) {
        *why = str_printf("built for plugin ABI %u.%u; this mpimap has ABI "
                          "%d.%d (major must match)", (unsigned)major,
                          (unsigned)minor, MPIMAP_ABI_MAJOR, MPIMAP_ABI_MINOR);
        return MPIMAP_EABI;
    }
    if (minor > MPIMAP_ABI_MINOR) {
        *why = str_printf("built for newer ABI %u.%u; this mpimap has ABI "
                          "%d.%d (upgrade mpimap or rebuild the plugin)",
                          (unsigned)major, (unsigned)minor, MPIMAP_ABI_MAJOR,
                          MPIMAP_ABI_MINOR);
        return MPIMAP_EABI;
    }
    if (size < MPIMAP_PLUGIN_MIN_SIZE) {
        *why = str_printf("descriptor is %u bytes, smaller than ABI %d.0's %zu",
                          (unsigned)size, MPIMAP_ABI_MAJOR,
                          (size_t)MPIMAP_PLUGIN_MIN_SIZE);
        return MPIMAP_EABI;
    }
    if (size > avail) {
        *why = str_printf("descriptor says it is %u bytes but symbol '%s' is "
                          "only %zu bytes", (unsigned)size,
                          MPIMAP_PLUGIN_SYMBOL, avail);
        return MPIMAP_EABI;
    }

    /* Never read past the plugin's size: later fields stay zero/NULL. */
    struct mpimap_plugin d;
    memset(&d, 0, sizeof d);
    memcpy(&d, p, size < sizeof d ? size : sizeof d);

    if (!d.name) {
        *why = str_printf("descriptor has no name (NULL)");
        return MPIMAP_EABI;
    }
    if ((int64_t)d.kind != (int64_t)e->kind || strcmp(d.name, e->name) != 0) {
        *why = str_printf("descriptor says %s '%s' but the file is named for "
                          "%s '%s'", kind_word(d.kind), d.name,
                          kind_word((uint32_t)e->kind), e->name);
        return MPIMAP_EABI;
    }
    if (!d.version) {
        *why = str_printf("descriptor has no version (NULL)");
        return MPIMAP_EABI;
    }
    if (!d.ops) {
        *why = str_printf("descriptor has no %s ops table (NULL)",
                          kind_word(d.kind));
        return MPIMAP_EABI;
    }
    uint32_t ops_size;
    memcpy(&ops_size, d.ops, sizeof ops_size);
    if (ops_size < sizeof(uint32_t) + sizeof(void *)) {
        *why = str_printf("%s ops table says it is %u bytes, smaller than the "
                          "%zu of even one operation", kind_word(d.kind),
                          (unsigned)ops_size,
                          sizeof(uint32_t) + sizeof(void *));
        return MPIMAP_EABI;
    }
    if (!d.description)
        d.description = "";
    e->desc = d;
    return 0;
}

/* Mark e rejected with code and reason (taken). Returns 0 or ENOMEM (then e
 * stays FOUND, so a later call retries). */
static int reject(struct entry *e, int code, char *reason)
{
    if (!reason)
        return MPIMAP_ENOMEM;
    e->state = MPIMAP_PLUGIN_REJECTED;
    e->code = code;
    e->reason = reason;
    return 0;
}

static void lt_close(lt_dlhandle h)
{
    pthread_mutex_lock(&lt_lock);
    lt_dlclose(h);
    pthread_mutex_unlock(&lt_lock);
}

/*
 * Load and validate e if it is still FOUND (the registry lock is held).
 * Returns 0 when e has reached a final state (LOADED or REJECTED), or
 * MPIMAP_ENOMEM.
 */
static int entry_load(mpimap_registry *reg, struct entry *e)
{
    if (e->state != MPIMAP_PLUGIN_FOUND)
        return 0;

    char *why = NULL;
    if (!reg->lt_ready) {
        pthread_mutex_lock(&lt_lock);
        if (lt_dlinit() == 0) {
            reg->lt_ready = 1;
        } else {
            const char *m = lt_dlerror();
            why = str_printf("libltdl could not be initialised: %s",
                             m ? m : "unknown error");
            lt_dlexit(); /* lt_dlinit() counts even when it fails */
        }
        pthread_mutex_unlock(&lt_lock);
        if (!reg->lt_ready)
            return reject(e, MPIMAP_ELOAD, why);
    }

    /* Probe for the real cause of a failure, then keep libltdl's handle.
     * The probe stays open until libltdl's handle is, so that the object
     * (relocated with RTLD_NOW) is not loaded twice. */
    pthread_mutex_lock(&lt_lock);
    void *probe = dlopen(e->path, RTLD_NOW | RTLD_LOCAL);
    if (!probe) {
        const char *m = dlerror();
        why = str_printf("%s", m ? m : "dlopen failed (no reason given)");
        pthread_mutex_unlock(&lt_lock);
        return reject(e, MPIMAP_ELOAD, why);
    }
    lt_dlhandle h = lt_dlopen(e->path);
    if (!h) {
        const char *m = lt_dlerror();
        why = str_printf("libltdl could not open it: %s",
                         m ? m : "unknown error");
    }
    dlclose(probe);
    void *sym = NULL;
    if (h) {
        sym = lt_dlsym(h, MPIMAP_PLUGIN_SYMBOL);
        if (!sym)
            why = str_printf("no descriptor symbol '%s'", MPIMAP_PLUGIN_SYMBOL);
    }
    pthread_mutex_unlock(&lt_lock);
    if (!h)
        return reject(e, MPIMAP_ELOAD, why);
    if (!sym) {
        lt_close(h);
        return reject(e, MPIMAP_EABI, why);
    }

    int code = validate(e, sym, &why);
    if (code != 0) {
        lt_close(h);
        return reject(e, code, why);
    }

    if (e->desc.init) {
        const char *r = NULL;
        int rc = e->desc.init(&r);
        if (rc != 0) {
            /* The reason lives in the plugin: copy it before unloading. */
            if (r && *r)
                why = str_printf("init declined: %s", r);
            else
                why = str_printf("init declined: returned %d, no reason given",
                                 rc);
            lt_close(h);
            memset(&e->desc, 0, sizeof e->desc);
            return reject(e, MPIMAP_EDECLINED, why);
        }
    }
    e->handle = h;
    e->state = MPIMAP_PLUGIN_LOADED;
    return 0;
}

/* Load every winner of a kind (0 = every kind). */
static int load_kind(mpimap_registry *reg, int kind)
{
    for (size_t i = 0; i < reg->n; i++) {
        struct entry *e = reg->v[i];
        if (kind && e->kind != kind)
            continue;
        int rc = entry_load(reg, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* "a, b" of the loaded plugins of a kind, sorted, or "(none)". */
static char *names_locked(mpimap_registry *reg, int kind)
{
    if (load_kind(reg, kind) < 0)
        return NULL;
    const char **v = NULL;
    size_t n = 0, total = 1;
    if (reg->n) {
        v = malloc(reg->n * sizeof *v);
        if (!v)
            return NULL;
    }
    for (size_t i = 0; i < reg->n; i++) {
        const struct entry *e = reg->v[i];
        if (e->kind == kind && e->state == MPIMAP_PLUGIN_LOADED) {
            v[n++] = e->name;
            total += strlen(e->name) + 2;
        }
    }
    if (n == 0) {
        free(v);
        return strdup("(none)");
    }
    qsort(v, n, sizeof *v, cmp_names);
    char *s = malloc(total);
    if (s) {
        char *q = s;
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(v[i]);
            if (i) {
                memcpy(q, ", ", 2);
                q += 2;
            }
            memcpy(q, v[i], l);
            q += l;
        }
        *q = '\0';
    }
    free(v);
    return s;
}

/* ---- public API --------------------------------------------------------- */

void mpimap_registry_close(mpimap_registry *reg)
{
    if (!reg)
        return;
    reg_lock(reg);
    for (size_t i = reg->n; i-- > 0;) {
        struct entry *e = reg->v[i];
        if (e->state != MPIMAP_PLUGIN_LOADED)
            continue;
        if (e->desc.fini)
            e->desc.fini();
        lt_close(e->handle);
        e->handle = NULL;
    }
    if (reg->lt_ready) {
        pthread_mutex_lock(&lt_lock);
        lt_dlexit();
        pthread_mutex_unlock(&lt_lock);
        reg->lt_ready = 0;
    }
    reg_unlock(reg);
    registry_free(reg);
}

int mpimap_registry_load_all(mpimap_registry *reg)
{
    if (!reg)
        return MPIMAP_EINVAL;
    reg_lock(reg);
    int rc = load_kind(reg, 0);
    reg_unlock(reg);
    return rc;
}

size_t mpimap_registry_count(const mpimap_registry *reg)
{
    if (!reg)
        return 0;
    reg_lock(reg);
    size_t n = reg->n;
    reg_unlock(reg);
    return n;
}

int mpimap_registry_info(const mpimap_registry *reg, size_t i,
                         mpimap_plugin_info *out)
{
    if (!reg || !out)
        return MPIMAP_EINVAL;
    reg_lock(reg);
    if (i >= reg->n) {
        reg_unlock(reg);
        return MPIMAP_EINVAL;
    }
    const struct entry *e = reg->v[i];
    out->kind = e->kind;
    out->name = e->name;
    out->path = e->path;
    out->state = e->state;
    out->reason = e->reason;
    out->plugin = e->state == MPIMAP_PLUGIN_LOADED ? &e->desc : NULL;
    reg_unlock(reg);
    return 0;
}

int mpimap_registry_find(mpimap_registry *reg, int kind, const char *name,
                         const struct mpimap_plugin **out, char **error)
{
    if (out)
        *out = NULL;
    if (error)
        *error = NULL;
    const char *kw = mpimap_kind_name(kind);
    if (!reg || !name || !kw) {
        if (error)
            *error = !kw ? str_printf("unknown plugin kind %d", kind)
                         : str_printf("invalid plugin look-up");
        return MPIMAP_EINVAL;
    }

    reg_lock(reg);
    int rc;
    struct entry *e = winner_of(reg, kind, name, strlen(name));
    if (!e) {
        rc = MPIMAP_ENOTFOUND;
        if (error) {
            char *avail = names_locked(reg, kind);
            if (avail)
                *error = str_printf("no %s '%s'; available: %s", kw, name, avail);
            free(avail);
        }
    } else if ((rc = entry_load(reg, e)) < 0) {
        if (error)
            *error = str_printf("%s '%s' (%s) could not be loaded: %s", kw,
                                name, e->path, mpimap_strerror(rc));
    } else if (e->state == MPIMAP_PLUGIN_LOADED) {
        if (out)
            *out = &e->desc;
        rc = 0;
    } else {
        rc = e->code;
        if (error)
            *error = str_printf("%s '%s' (%s) was rejected: %s", kw, name,
                                e->path, e->reason);
    }
    reg_unlock(reg);
    return rc;
}

char *mpimap_registry_names(mpimap_registry *reg, int kind)
{
    if (!reg)
        return NULL;
    if (!mpimap_kind_name(kind))
        return strdup("(none)");
    reg_lock(reg);
    char *s = names_locked(reg, kind);
    reg_unlock(reg);
    return s;
}

int mpimap_registry_best(mpimap_registry *reg, int kind,
                         const struct mpimap_plugin **out, char **error)
{
    if (out)
        *out = NULL;
    if (error)
        *error = NULL;
    const char *kw = mpimap_kind_name(kind);
    if (!reg || !kw) {
        if (error)
            *error = !kw ? str_printf("unknown plugin kind %d", kind)
                         : str_printf("invalid plugin look-up");
        return MPIMAP_EINVAL;
    }

    reg_lock(reg);
    int rc = load_kind(reg, kind);
    if (rc < 0) {
        reg_unlock(reg);
        if (error)
            *error = str_printf("could not load the %s plugins: %s", kw,
                                mpimap_strerror(rc));
        return rc;
    }
    const struct entry *best = NULL;
    int best_prio = -1;
    size_t usable = 0;
    for (size_t i = 0; i < reg->n; i++) {
        const struct entry *e = reg->v[i];
        if (e->kind != kind || e->state != MPIMAP_PLUGIN_LOADED)
            continue;
        usable++;
        int prio = e->desc.query ? e->desc.query() : 0;
        if (prio >= 0 && prio > best_prio) { /* ties: first in search order */
            best = e;
            best_prio = prio;
        }
    }
    if (best) {
        if (out)
            *out = &best->desc;
        rc = 0;
    } else {
        rc = MPIMAP_ENOTFOUND;
        if (error) {
            if (usable == 0)
                *error = str_printf("no %s plugin available (none found, or "
                                    "all rejected: see `mpimap plugins --all`)",
                                    kw);
            else
                *error = str_printf("no %s is usable here: all %zu available "
                                    "declined (query() < 0)", kw, usable);
        }
    }
    reg_unlock(reg);
    return rc;
}
