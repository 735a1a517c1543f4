/* SPDX-License-Identifier: MIT */
#include "engine.h"

#include <libgen.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "docker.h"
#include "json-util.h"
#include "labels.h"
#include "log.h"

static void bus_error_freep(sd_bus_error *e) {
        sd_bus_error_free(e);
}

/* Index of the label with key `key` (up to '=') in array a, or -1. */
static int label_find(json_object *a, const char *key, size_t keylen) {
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(a, i));
                if (s && strncmp(s, key, keylen) == 0 && s[keylen] == '=')
                        return (int) i;
        }
        return -1;
}

/* The key of label s ("k=v", or "k" alone) equals key. */
static bool label_has_key(const char *s, const char *key) {
        const char *rest = s ? startswith(s, key) : NULL;
        return rest && (*rest == '\0' || *rest == '=');
}

int engine_labels_merge(const char *json, char *const *labels, char *const *unset, char **ret_text) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *arr = NULL;
        bool changed = false;

        /* A file holding nothing but whitespace (an editor's lone newline) has no
         * settings: the same as no file. Anything but whitespace after the object is
         * garbage. */
        if (!json_text_blank(json)) {
                int r = json_parse_text(json, strlen(json), 0, JSON_TOKENER_STRICT, &root);
                if (r < 0)
                        return r;
                if (!json_object_is_type(root, json_type_object))
                        return -EBADMSG;
        } else {
                root = json_object_new_object();
                if (!root)
                        return -ENOMEM;
                changed = true;
        }

        if (json_object_object_get_ex(root, "labels", &arr)) {
                if (!json_object_is_type(arr, json_type_array))
                        return -EBADMSG;
                for (size_t i = 0; i < json_object_array_length(arr); i++)
                        if (!json_object_is_type(json_object_array_get_idx(arr, i), json_type_string))
                                return -EBADMSG;
        } else {
                arr = json_object_new_array();
                if (json_add(root, "labels", arr) < 0)
                        return -ENOMEM;
                changed = true;
        }

        for (size_t i = json_object_array_length(arr); i > 0; i--) {
                const char *s = json_object_get_string(json_object_array_get_idx(arr, i - 1));
                bool drop = false;

                STRV_FOREACH(k, unset)
                        drop = drop || label_has_key(s, *k);
                if (!drop)
                        continue;
                if (json_object_array_del_idx(arr, i - 1, 1) < 0)
                        return -ENOMEM;
                changed = true;
        }

        STRV_FOREACH(l, labels) {
                const char *eq = strchr(*l, '=');
                size_t keylen = eq ? (size_t) (eq - *l) : strlen(*l);
                int idx = label_find(arr, *l, keylen);

                if (idx >= 0 && streq(json_object_get_string(json_object_array_get_idx(arr, (size_t) idx)), *l))
                        continue;
                json_object *s = json_object_new_string(*l);
                if (!s)
                        return -ENOMEM;
                if (idx >= 0) {
                        if (json_object_array_put_idx(arr, (size_t) idx, s) < 0) {
                                json_object_put(s);
                                return -ENOMEM;
                        }
                } else if (json_append(arr, s) < 0)
                        return -ENOMEM;
                changed = true;
        }

        if (!changed) {
                *ret_text = NULL;
                return 0;
        }
        const char *out = json_object_to_json_string_ext(
                root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!out || asprintf(ret_text, "%s\n", out) < 0)
                return -ENOMEM;
        return 0;
}

int engine_labels_for(const Config *c, char ***ret, char ***ret_unset) {
        _cleanup_(strv_freep) char **l = calloc(1, sizeof(char *)), **unset = NULL;
        char *s;
        int r;

        if (!l)
                return -ENOMEM;
#define ADD(fmt, v)                                              \
        do {                                                     \
                if (asprintf(&s, fmt, v) < 0)                    \
                        return -ENOMEM;                          \
                r = strv_consume(&l, s);                         \
                if (r < 0)                                       \
                        return r;                                \
        } while (0)
        ADD(SK_LABEL_CLUSTER "=%s", c->cluster_name);
        if (c->role == ROLE_MANAGER)
                ADD(SK_LABEL_LOGICAL_ID "=%s", c->private_ip);
        else if (strv_extend(&unset, SK_LABEL_LOGICAL_ID) < 0)
                return -ENOMEM;
        ADD(SK_LABEL_ROLE "=%s", role_to_string(c->role));
        ADD(SK_LABEL_INSTANCE_ID "=%s", c->instance_id);
#undef ADD
        STRV_FOREACH(e, c->labels) {
                r = strv_extend(&l, *e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        if (ret_unset)
                *ret_unset = TAKE_PTR(unset);
        return 0;
}

int engine_write_labels(const Config *c, bool dry_run) {
        _cleanup_(strv_freep) char **labels = NULL, **unset = NULL;
        _cleanup_(freep) char *old = NULL, *new = NULL, *dir = NULL;
        int r;

        r = engine_labels_for(c, &labels, &unset);
        if (r < 0)
                return r;
        r = read_full_file(c->daemon_config, &old, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        r = engine_labels_merge(old, labels, unset, &new);
        if (r < 0)
                return r;
        if (!new)
                return 0;
        if (dry_run)
                return 1;

        dir = strdup(c->daemon_config);
        if (!dir)
                return -ENOMEM;
        r = mkdir_p(dirname(dir), 0755);
        if (r < 0)
                return r;
        r = write_file_atomic(c->daemon_config, new, strlen(new), old ? (mode_t) -1 : 0644);
        if (r < 0)
                return r;
        return 1;
}

static int unit_path(sd_bus *bus, const char *unit, char **ret) {
        _cleanup_(bus_error_freep) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "LoadUnit", &err, &reply, "s", unit);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}

static int active_state(sd_bus *bus, const char *unit, char **ret) {
        _cleanup_(bus_error_freep) sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_(freep) char *path = NULL;
        int r;

        r = unit_path(bus, unit, &path);
        if (r < 0)
                return r;
        return sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                          "org.freedesktop.systemd1.Unit", "ActiveState", &err, ret);
}

int engine_unit_active_state(const char *unit, char **ret_state) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        return active_state(bus, unit, ret_state);
}

static int unit_job(sd_bus *bus, const char *method, const char *unit) {
        _cleanup_(bus_error_freep) sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", method, &err, NULL, "ss", unit,
                               "replace");
        if (r < 0)
                log_debug_errno(r, "%s %s: %s", method, unit, err.message ?: "?");
        return r;
}

/* A job for the unit on a fresh system bus connection. */
static int unit_job_once(const char *method, const char *unit) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        return unit_job(bus, method, unit);
}

int engine_unit_stop(const char *unit, uint64_t timeout_usec) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        r = unit_job(bus, "StopUnit", unit);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_(freep) char *state = NULL;
                r = active_state(bus, unit, &state);
                if (r < 0)
                        return r;
                if (streq(state, "inactive") || streq(state, "failed"))
                        return 0;
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        return -ETIMEDOUT;
                (void) nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
        }
}

int engine_unit_reload(const char *unit) {
        return unit_job_once("ReloadUnit", unit);
}

int engine_unit_start(const char *unit) {
        return unit_job_once("StartUnit", unit);
}
