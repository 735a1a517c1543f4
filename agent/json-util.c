/* SPDX-License-Identifier: MIT */
#include "json-util.h"

#include <ctype.h>
#include <stdarg.h>

int json_parse_text(const char *text, size_t size, int depth, int flags, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        json_object *o;
        enum json_tokener_error e;
        size_t end;

        if (!text)
                return -EBADMSG;
        if (size > INT32_MAX)
                return -EMSGSIZE;
        tok = json_tokener_new_ex(depth > 0 ? depth : 64);
        if (!tok)
                return -ENOMEM;
        if (flags)
                json_tokener_set_flags(tok, flags);
        o = json_tokener_parse_ex(tok, text, (int) size);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        if (!o || e != json_tokener_success) {
                json_object_put(o);
                return -EBADMSG;
        }
        for (; end < size; end++)
                if (!isspace((unsigned char) text[end])) {
                        json_object_put(o);
                        return -EBADMSG;
                }
        *ret = o;
        return 0;
}

bool json_text_blank(const char *s) {
        return !s || s[strspn(s, " \t\r\n")] == 0;
}

json_object *jpath(json_object *o, ...) {
        va_list ap;
        const char *k;

        va_start(ap, o);
        while (o && (k = va_arg(ap, const char *)))
                if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &o))
                        o = NULL;
        va_end(ap);
        return o;
}

const char *jstr(json_object *o) {
        return json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

int jdup(json_object *o, char **dst) {
        return free_and_strdup(dst, jstr(o));
}

int json_add(json_object *obj, const char *key, json_object *v) {
        if (!obj || !v || json_object_object_add(obj, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int json_add_string(json_object *obj, const char *key, const char *value) {
        json_object *v;

        if (!value) /* JSON null: json-c stores a NULL member */
                return obj && json_object_object_add(obj, key, NULL) >= 0 ? 0 : -ENOMEM;
        v = json_object_new_string(value);
        return json_add(obj, key, v);
}

int json_add_bool(json_object *obj, const char *key, bool value) {
        return json_add(obj, key, json_object_new_boolean(value));
}

int json_append(json_object *arr, json_object *v) {
        if (!arr || !v || json_object_array_add(arr, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int json_append_string(json_object *arr, const char *value) {
        return json_append(arr, value ? json_object_new_string(value) : NULL);
}

void json_string_erase(json_object *s) {
        if (json_object_is_type(s, json_type_string))
                explicit_bzero((char *) json_object_get_string(s), (size_t) json_object_get_string_len(s));
}

char *json_quote(const char *s) {
        static const char hex[] = "0123456789abcdef";
        size_t n = 3;
        char *r, *p;

        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                n += *c < 0x20 ? 6 : (*c == '"' || *c == '\\') ? 2 : 1;
        r = p = malloc(n);
        if (!r)
                return NULL;
        *p++ = '"';
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c < 0x20) {
                        memcpy(p, "\\u00", 4);
                        p[4] = hex[*c >> 4];
                        p[5] = hex[*c & 15];
                        p += 6;
                } else {
                        if (*c == '"' || *c == '\\')
                                *p++ = '\\';
                        *p++ = (char) *c;
                }
        *p++ = '"';
        *p = 0;
        return r;
}
